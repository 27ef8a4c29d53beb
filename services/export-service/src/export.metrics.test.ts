import { createServiceMetrics, ServiceUnavailableError } from '@studylink/service-kit';
import type { Context } from 'koa';
import { describe, expect, it } from 'vitest';
import { createExportMetrics } from './export.metrics.js';
import { DOWNLOAD_PATH } from './export.routes.js';
import { type AccessEventBody, GrantNotFoundError, type TokenServiceClient } from './grant.client.js';

function setup(inFlight = 0) {
  const { registry } = createServiceMetrics({ service: 'export-service' });
  const metrics = createExportMetrics(registry, { inFlight: () => inFlight });
  const reported: AccessEventBody[] = [];
  const client: TokenServiceClient = {
    grantOrThrow: async () => {
      throw new GrantNotFoundError();
    },
    report: async (e) => {
      reported.push(e);
    },
    zipLayout: async () => null,
    saveZipLayout: async () => {},
    reportStaleZipLayout: async () => {},
  };
  return { registry, metrics, client: metrics.instrument(client), reported };
}

const refuse = async (metrics: ReturnType<typeof setup>['metrics'], path: string, err: Error) => {
  const ctx = { path } as Context;
  await expect(
    metrics.refusals(ctx, async () => {
      throw err;
    }),
  ).rejects.toBe(err);
};

describe('createExportMetrics', () => {
  it('counts reported download events and still reports them', async () => {
    const { registry, client, reported } = setup(2);
    await client.report({ event: 'download_started', outcome: 'ok' });
    await client.report({ event: 'download_complete', outcome: 'ok', bytes: 1000 });
    await client.report({ event: 'download_started', outcome: 'ok' });
    await client.report({ event: 'download_aborted', outcome: 'upstream_error', bytes: 24 });
    await client.report({ event: 'invalid_token', outcome: 'malformed' });
    expect(reported.map((e) => e.event)).toEqual([
      'download_started',
      'download_complete',
      'download_started',
      'download_aborted',
      'invalid_token',
    ]);

    const text = await registry.metrics();
    expect(text).toContain('studylink_exports_in_flight{service="export-service"} 2');
    expect(text).toContain('studylink_exports_started_total{service="export-service"} 2');
    expect(text).toContain('studylink_exports_finished_total{outcome="complete",service="export-service"} 1');
    expect(text).toContain('studylink_exports_finished_total{outcome="abort",service="export-service"} 1');
    expect(text).toContain('studylink_export_bytes_total{service="export-service"} 1024');
    expect(text).toContain(
      'studylink_export_failures_total{stage="during_stream",cause="upstream_error",service="export-service"} 1',
    );
    expect(text).toContain(
      'studylink_export_invalid_tokens_total{reason="malformed",service="export-service"} 1',
    );
  });

  it('counts downloads refused before the first byte by error code, but not unknown tokens', async () => {
    const { registry, metrics } = setup();
    await refuse(metrics, DOWNLOAD_PATH, new ServiceUnavailableError('busy', 15, 'export_capacity'));
    await refuse(metrics, DOWNLOAD_PATH, new Error('boom'));
    await refuse(metrics, DOWNLOAD_PATH, new GrantNotFoundError());
    await refuse(metrics, '/readyz', new ServiceUnavailableError('x'));

    const text = await registry.metrics();
    expect(text).toContain(
      'studylink_export_failures_total{stage="before_stream",cause="export_capacity",service="export-service"} 1',
    );
    expect(text).toContain(
      'studylink_export_failures_total{stage="before_stream",cause="internal_error",service="export-service"} 1',
    );
    expect(text).not.toContain('token_not_found');
    expect(text).not.toContain('service_unavailable');
  });

  it('passes grant lookups through unchanged', async () => {
    const { client } = setup();
    await expect(client.grantOrThrow('x'.repeat(64))).rejects.toBeInstanceOf(GrantNotFoundError);
  });
});
