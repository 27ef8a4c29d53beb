export { clientIp } from './client-ip.js';
export { ConfigError, parseConfig } from './config.parser.js';
export { isEntryPoint } from './entry-point.js';
export { portField, sharedEnvFields } from './env.fields.js';
export { AppError, ServiceUnavailableError, ValidationError } from './errors.js';
export { escapeHtml, html, SafeHtml } from './html.js';
export { listen, onShutdown, type RunningServer } from './http.server.js';
export { createLogger, type Logger } from './logger.factory.js';
export {
  Counter,
  createServiceMetrics,
  Gauge,
  Histogram,
  METRICS_PATH,
  type Registry,
  type ServiceMetrics,
  UNMATCHED_ROUTE,
} from './metrics.js';
export { setPatientHeaders } from './patient-headers.js';
export {
  pageLayout,
  patientErrorPages,
  renderErrorPage,
  TOKEN_PATTERN,
  writeErrorPage,
} from './patient-pages.js';
export { type ErrorBody, errorHandler, type RequestState, requestContext } from './request.middleware.js';
