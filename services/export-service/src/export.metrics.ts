import { DOWNLOAD_PATH } from '@studylink/contracts';
import { AppError, Counter, Gauge, type Registry } from '@studylink/service-kit';
import type { Context, Middleware, Next } from 'koa';
import { type AccessEventBody, GrantNotFoundError, type TokenServiceClient } from './grant.client.js';

export interface ExportMetrics {
  /**
   * The token-service client with every access event it reports also counted: download starts,
   * completions and aborts (with their bytes and cause), invalid tokens.
   */
  instrument(client: TokenServiceClient): TokenServiceClient;
  /** Counts downloads refused before the first byte (capacity, draining, store down...) by error code. */
  readonly refusals: Middleware;
  /** Counts an access event that could not be delivered to the token service. */
  eventDropped(event: AccessEventBody): void;
}

/**
 * Export metrics in the service's registry: exports in flight, zip bytes streamed, outcomes and
 * failures by cause. Taken from the access events the routes report anyway, so the streaming code
 * carries no metrics calls of its own.
 * @example const m = createExportMetrics(metrics.registry, { inFlight: () => limiter.inFlight });
 */
export function createExportMetrics(registry: Registry, opts: { inFlight: () => number }): ExportMetrics {
  new Gauge({
    name: 'studylink_exports_in_flight',
    help: 'Zip downloads being streamed right now.',
    registers: [registry],
    collect() {
      this.set(opts.inFlight());
    },
  });
  const started = new Counter({
    name: 'studylink_exports_started_total',
    help: 'Zip downloads whose first bytes were sent.',
    registers: [registry],
  });
  const finished = new Counter({
    name: 'studylink_exports_finished_total',
    help: 'Zip downloads that ended, by outcome (complete or abort).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'studylink_export_bytes_total',
    help: 'Zip bytes sent to clients, counted when each download ends.',
    registers: [registry],
  });
  const failures = new Counter({
    name: 'studylink_export_failures_total',
    help: 'Downloads that failed, by stage (before_stream: refused with an error status; during_stream: cut) and cause.',
    labelNames: ['stage', 'cause'] as const,
    registers: [registry],
  });
  const invalid = new Counter({
    name: 'studylink_export_invalid_tokens_total',
    help: 'Download requests with a malformed or unknown token.',
    labelNames: ['reason'] as const,
    registers: [registry],
  });

  const dropped = new Counter({
    name: 'studylink_access_events_dropped_total',
    help: 'Access events the token service could not be told of after every retry, by event.',
    labelNames: ['event'] as const,
    registers: [registry],
  });

  const count = (e: AccessEventBody) => {
    switch (e.event) {
      case 'download_started':
      case 'download_resumed':
        started.inc();
        break;
      case 'download_complete':
        finished.inc({ outcome: 'complete' });
        bytes.inc(e.bytes ?? 0);
        break;
      case 'download_aborted':
        finished.inc({ outcome: 'abort' });
        bytes.inc(e.bytes ?? 0);
        failures.inc({ stage: 'during_stream', cause: e.outcome || 'unknown' });
        break;
      case 'invalid_token':
        invalid.inc({ reason: e.outcome || 'unknown' });
        break;
    }
  };

  return {
    instrument: (client) => ({
      grantOrThrow: client.grantOrThrow.bind(client),
      zipLayout: client.zipLayout.bind(client),
      saveZipLayout: client.saveZipLayout.bind(client),
      reportStaleZipLayout: client.reportStaleZipLayout.bind(client),
      ...(client.pushedReportPdf ? { pushedReportPdf: client.pushedReportPdf.bind(client) } : {}),
      report: (event) => {
        count(event);
        return client.report(event);
      },
    }),
    refusals: async (ctx: Context, next: Next) => {
      try {
        await next();
      } catch (err) {
        // Unknown tokens are counted as invalid tokens, from their access event.
        if (ctx.path === DOWNLOAD_PATH && !(err instanceof GrantNotFoundError)) {
          failures.inc({
            stage: 'before_stream',
            cause: err instanceof AppError ? err.code : 'internal_error',
          });
        }
        throw err;
      }
    },
    eventDropped: (event) => dropped.inc({ event: event.event }),
  };
}
