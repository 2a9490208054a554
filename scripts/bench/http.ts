// HTTP for the bench: single calls as a client makes them (fetch), and fixed-time
// load from C concurrent connections (autocannon, HDR histograms of latency).
import autocannon from 'autocannon';
import { round } from './stats';

export interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  ms: number;
  retryAfterS: number | null;
}

/** One request; the body is JSON unless it is a string (sent as is). Never throws on a status. */
export async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const t = performance.now();
  const r = await fetch(`${base}${path}`, { method, headers, body });
  const text = await r.text();
  const ms = performance.now() - t;
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: kept as text */
  }
  const ra = Number(r.headers.get('retry-after'));
  return { status: r.status, body: parsed, ms, retryAfterS: Number.isFinite(ra) && ra > 0 ? ra : null };
}

export interface LoadResult {
  /** Answers per second, whatever their status (average over the run). */
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Answers with a status outside `expect`, plus connection errors and timeouts. */
  unexpected: number;
  statuses: Record<string, number>;
}

/**
 * Unmeasured requests to each URL first (C connections, `seconds` each): a fresh
 * server process compiles its handlers and opens its pools on the first ones.
 */
export async function warmUp(urls: string[], opts: { connections: number; seconds: number; token?: string }): Promise<void> {
  for (const url of urls) {
    await load({ url, connections: opts.connections, durationS: opts.seconds, token: opts.token, expect: [] });
  }
}

/** C connections sending the same request back to back for `durationS` seconds. */
export async function load(opts: {
  url: string;
  connections: number;
  durationS: number;
  method?: 'GET' | 'POST';
  token?: string;
  body?: unknown;
  expect: number[];
  /** Requests per second over all connections (autocannon's overallRate); default: as fast as answered. */
  overallRate?: number;
}): Promise<LoadResult> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.durationS,
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    // A slow answer is a measured latency, not an error (autocannon's default gives up at 10 s).
    timeout: 60,
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
  });
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = (stat as { count: number }).count;
  const expected = opts.expect.reduce((sum, code) => sum + (statuses[String(code)] ?? 0), 0);
  const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    perSec: round(result.requests.average, 1),
    p50Ms: round(result.latency.p50, 1),
    p99Ms: round(result.latency.p99, 1),
    requests: answered,
    unexpected: answered - expected + result.errors + result.timeouts,
    statuses,
  };
}
