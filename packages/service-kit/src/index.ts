export { clientIp, type Requester, requesterOf, USER_AGENT_MAX } from './client-ip.js';
export { rateLimitKey } from './client-key.js';
export { ConfigError, parseConfig } from './config.parser.js';
export { cookieValue } from './cookie-value.js';
export { isEntryPoint } from './entry-point.js';
export { metricsTokenOf, portField, sharedEnvFields, storeAuthOf } from './env.fields.js';
export {
  AppError,
  ClientAbortedError,
  clientErrorFromLowLevel,
  isClientAbort,
  ServiceUnavailableError,
  TooManyInvalidTokensError,
  ValidationError,
} from './errors.js';
export { type ReadinessReport, readinessRoute } from './health.js';
export { escapeHtml, html, SafeHtml } from './html.js';
export { listen, onShutdown, type RunningServer } from './http.server.js';
export { createInternalApp, type InternalAppOptions, ROUTES_PATH } from './internal.app.js';
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
  type ErrorPageContext,
  LANGUAGE_COOKIE,
  pageLayout,
  patientErrorPages,
  patientTranslator,
  renderErrorPage,
  writeErrorPage,
} from './patient-pages.js';
export { type PatientSender, senderContact, senderHeader } from './patient-sender.js';
export { redactTokens } from './redact.js';
export { type ErrorBody, errorHandler, type RequestState, requestContext } from './request.middleware.js';
export {
  createRouter,
  InternalUnauthorizedError,
  mountRouters,
  type RouteInfo,
  recordRoutes,
  registeredRoutes,
  requireSharedSecret,
} from './router.factory.js';
