import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** Paths that never reach a log line, wherever a careless caller puts them. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-internal-secret"]',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
  'url',
  '*.url',
  'querystring',
  '*.querystring',
];

/**
 * The one root logger of a service: JSON on stdout, ISO time, service name on every line.
 * @example const log = createLogger({ service: 'token-service', level: 'info' });
 */
export function createLogger(opts: {
  service: string;
  level: LevelWithSilent;
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: opts.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT, censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}
