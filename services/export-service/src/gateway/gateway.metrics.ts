import { Counter, type Registry } from '@studylink/service-kit';
import type { GatewayResourceKind } from './gateway.paths.js';

/**
 * `studylink_gateway_requests_total{resource, outcome}`: every viewer gateway request, by what it
 * asked for (series_search, series_metadata, frames, ...) and how it ended (ok or the error code).
 * @example gatewayMiddleware({ ..., count: createGatewayMetrics(metrics.registry) })
 */
export function createGatewayMetrics(registry: Registry) {
  const requests = new Counter({
    name: 'studylink_gateway_requests_total',
    help: 'Viewer DICOMweb gateway requests, by resource kind and outcome (ok or the error code).',
    labelNames: ['resource', 'outcome'] as const,
    registers: [registry],
  });
  return (resource: GatewayResourceKind | 'unknown', outcome: string) => requests.inc({ resource, outcome });
}
