// One log format for every process of ours: a JSON object a line (pino, the
// API's own through Fastify), with the same fields redacted everywhere.
import pino, { type Logger } from 'pino';
import type { Config } from './config';

/** Never written to a log: credentials in request headers, and secrets in any logged object. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-signature"]',
  'req.headers["webhook-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-signature"]',
  '*.token',
  '*.tokenHash',
  '*.hookSecret',
  '*.secret',
];

/** The options of every logger of ours, the API's included. */
export function loggerOptions(level: Config['LOG_LEVEL']) {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // An Error under either name is written with its type, message and stack (JSON alone writes `{}`).
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
}

/** A process's logger (the worker's; `npm start`'s for what is not the API's), writing to stdout. */
export function processLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino({ ...loggerOptions(config.LOG_LEVEL), name });
}
