// The Temporal SDK's logs (the worker's, its core's, and what workflows and
// activities log through it) as lines of the process's JSON log.
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../infra/config';
import { atTime } from '../infra/logger';
import { ACKNOWLEDGEMENTS_SUFFIX } from '../workflows/definitions';

/** The SDK's level for each of ours (the SDK has neither `fatal` nor `silent`). */
const SDK_LEVEL: Record<Config['LOG_LEVEL'], LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

const PINO_METHOD = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * Said once at start by the worker that serves only the acknowledgements'
 * queue (worker/index.ts): it has no workflows by design, so it is no warning.
 */
const NO_WORKFLOWS = 'No workflows registered, not polling for workflow tasks';

function levelOf(entry: LogEntry): LogLevel {
  const queue = entry.meta?.taskQueue;
  return entry.message === NO_WORKFLOWS && typeof queue === 'string' && queue.endsWith(ACKNOWLEDGEMENTS_SUFFIX) ? 'DEBUG' : entry.level;
}

/**
 * What `Runtime.install` takes to log through `logger` at `level` and above:
 * the SDK's logger (below), and its core's own lines (Rust: polling, heartbeats,
 * connections) forwarded to it rather than printed as text, at WARN or above
 * (its INFO speaks of every poll).
 */
export function runtimeLogging(logger: Logger, level: Config['LOG_LEVEL']) {
  const sdkLevel = SDK_LEVEL[level];
  const coreLevel: LogLevel = sdkLevel === 'ERROR' ? 'ERROR' : 'WARN';
  return {
    logger: sdkLogger(logger, sdkLevel),
    logging: { filter: { core: coreLevel, other: coreLevel }, forward: {} },
  } as const;
}

/**
 * A Temporal runtime logger writing through `logger` at `level` and above:
 * the message as `msg`, the SDK's metadata (workflowId, runId, activityType,
 * taskQueue, …) as fields of the same line, but for an activity's task
 * token. Workflows' own logs are not
 * repeated on replay (the SDK drops them).
 */
export function sdkLogger(logger: Logger, level: LogLevel): DefaultLogger {
  return new DefaultLogger(level, (entry) => {
    const fields = { ...entry.meta };
    for (const key of TASK_TOKEN_FIELDS) delete fields[key];
    // Stamped with when it was said, not when the SDK let it through.
    atTime(Number(entry.timestampNanos / 1_000_000n), () =>
      logger[PINO_METHOD[levelOf(entry)]](fields, entry.message.replace(TOKEN_IN_MESSAGE, '$1 [redacted] $2')),
    );
  });
}

/**
 * An activity's task token completes or fails it through the client API: a
 * credential, never logged. Where the SDK puts one: an activity's context
 * (`taskToken`), its core's fields (`task_token`), the whole task and its
 * encoding when the SDK cannot start an activity (`task`, `taskEncoded`).
 */
const TASK_TOKEN_FIELDS = ['taskToken', 'task_token', 'task', 'taskEncoded'];
/** The core's "Attempted to complete activity task <token> but we were not tracking it". */
const TOKEN_IN_MESSAGE = /(activity task) \S+ (but)/;
