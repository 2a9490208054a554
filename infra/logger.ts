// One log format for the API and the worker: a JSON object a line (pino, the
// API's through Fastify), with the same fields redacted in both.
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

/** When set, the time the line being written happened (ms since the epoch): see `atTime`. */
let happenedAt: number | undefined;

/**
 * Writes `write`'s line(s) with `ms` as their `time` rather than now: for
 * lines that reach us after they happened (the Temporal SDK holds its lines
 * up to 0.2 s to sort them), so that they sort with the API's by time.
 */
export function atTime(ms: number, write: () => void): void {
  happenedAt = ms;
  try {
    write();
  } finally {
    happenedAt = undefined;
  }
}

/** The options of every logger of ours, the API's included; `name` says which process (`api`, `worker`). */
export function loggerOptions(level: Config['LOG_LEVEL'], name: string) {
  return {
    level,
    name,
    timestamp: () => `,"time":${Math.round(happenedAt ?? Date.now())}`,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    // An Error under either name is written with its type, message and stack (JSON alone writes `{}`).
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
  };
}

/** A process's own logger (the worker's, and the API process's lines outside requests), writing to stdout. */
export function processLogger(config: Pick<Config, 'LOG_LEVEL'>, name: string): Logger {
  return pino(loggerOptions(config.LOG_LEVEL, name));
}

/**
 * Where code that reports in sentences writes them (the database's setup, the
 * embedded server and its thread, migrations, the Temporal CLI and dev
 * server): `warn` for what goes wrong (what LOG_LEVEL=warn still shows), else
 * `info`. A caller printing to a terminal may ignore the level.
 */
export type Log = (message: string, level?: 'info' | 'warn') => void;

/** A `Log` writing each sentence to `logger` at the level it was said at. */
export function sentenceLog(logger: Logger): Log {
  return (message, level = 'info') => logger[level](message);
}
