// What OpenTelemetry says of itself, in our log: a span export that fails
// (the collector away, refusing or slow) drops its spans, and the SDK reports
// it only through its global error handler, whose default writes to `diag`,
// OpenTelemetry's own diagnostic logger, silent until one is set. Ours writes
// WARN lines, once a minute at most per kind of message (a collector down
// fails every export), naming the endpoint without its credentials and the
// error by its message and code only (a collector's answer is not ours to log).
import { DiagLogLevel, type DiagLogger } from '@opentelemetry/api';

export interface WarnLog {
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** At most one line a minute of each kind; the next one says how many were left out meanwhile. */
export const DIAG_LOG_EVERY_MS = 60_000;

/** An export URL as a log may show it: no user, password, query or fragment. */
export function endpointForLog(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** Kinds of message remembered for throttling, at most. */
const MAX_KINDS = 100;

/** `text` with every URL in it as `endpointForLog` shows one. */
function withoutCredentials(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"<>]+/gi, (url) => endpointForLog(url));
}

/** The error the global error handler passed to `diag.error` (it writes an Error as a JSON object), as fields. */
function reported(message: string): { error: string; code?: unknown } | undefined {
  try {
    const parsed = JSON.parse(message) as { message?: unknown; code?: unknown; name?: unknown };
    if (parsed === null || typeof parsed !== 'object' || typeof parsed.message !== 'string') return undefined;
    const name = typeof parsed.name === 'string' && parsed.name !== 'Error' ? `${parsed.name}: ` : '';
    return { error: `${name}${parsed.message}`, ...(parsed.code !== undefined ? { code: parsed.code } : {}) };
  } catch {
    return undefined;
  }
}

/** A `diag` logger (set with `diag.setLogger(…, DIAG_LEVEL)`) writing to `log`, throttled. */
export function diagToLog(log: WarnLog, endpoint: string, opts: { everyMs?: number; now?: () => number } = {}): DiagLogger {
  const everyMs = opts.everyMs ?? DIAG_LOG_EVERY_MS;
  const now = opts.now ?? Date.now;
  const shown = endpointForLog(endpoint);
  const last = new Map<string, { at: number; skipped: number }>();
  const write = (kind: string, fields: Record<string, unknown>, msg: string) => {
    const seen = last.get(kind);
    // Kinds are few (a message with its numbers taken out); should odd messages pile up, forget the oldest.
    if (!seen && last.size >= MAX_KINDS) last.delete(last.keys().next().value!);
    if (seen && now() - seen.at < everyMs) {
      seen.skipped++;
      return;
    }
    last.set(kind, { at: now(), skipped: 0 });
    log.warn({ endpoint: shown, ...fields, ...(seen?.skipped ? { leftOut: seen.skipped } : {}) }, msg);
  };
  const say = (message: string, ...args: unknown[]) => {
    const error = reported(message);
    if (error) write('export', error, 'Trace export failed: its spans are dropped');
    else {
      const text = withoutCredentials(message);
      const detail = args.length > 0 ? withoutCredentials(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')) : undefined;
      // "Dropped 12 spans …" and "Dropped 13 spans …" are one kind of message.
      write(text.replace(/\d+/g, '#'), { detail }, `OpenTelemetry: ${text}`);
    }
  };
  const quiet = () => {};
  return { error: say, warn: say, info: quiet, debug: quiet, verbose: quiet };
}

/** What reaches `diagToLog`: warnings and errors. */
export const DIAG_LEVEL = DiagLogLevel.WARN;
