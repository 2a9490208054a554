// Can the service work right now? The database answers `select 1`, and the
// Temporal frontend describes our namespace, each within a short deadline.
import { Connection } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import { singleFlight } from '../infra/single-flight';
import { clientConnectionOptions, type TemporalConnectOptions } from '../infra/temporal-connection';

const CHECK_TIMEOUT_MS = 2_000;
/** How long a finished check's answer serves the requests that come after it. */
const REUSE_MS = 1_000;
/** gRPC status RESOURCE_EXHAUSTED: the server answered, and is throttling. */
const RESOURCE_EXHAUSTED = 8;

/**
 * Temporal answered, though not with what was asked: it is rate-limiting the
 * namespace (shared by every process that uses it). For readiness that is a
 * busy server, not a missing one: taking every API process out of its load
 * balancer at once would not lighten it.
 */
export function temporalThrottled(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === RESOURCE_EXHAUSTED;
}

/**
 * True when `check` settles well within `ms`. The signal is aborted when time
 * is up, so that nothing keeps retrying in the background (gRPC calls retry
 * UNAVAILABLE on their own until cancelled).
 */
async function answers(check: (signal: AbortSignal) => Promise<unknown>, ms: number): Promise<boolean> {
  const ctrl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctrl.abort();
      reject(new Error(`no answer within ${ms} ms`));
    }, ms);
  });
  const work = Promise.resolve().then(() => check(ctrl.signal)); // a synchronous throw too is a failed check
  work.catch(() => {}); // its rejection after an abort is expected
  try {
    await Promise.race([work, timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
}

export interface HealthCheck {
  (): Promise<{ database: boolean; temporal: boolean }>;
  /** Closes the check's own Temporal connection. */
  close(): Promise<void>;
}

/**
 * The check keeps a Temporal connection of its own, without the SDK's retry
 * interceptor: that one keeps retrying an unreachable server on timers that
 * an abort does not stop, while a health check wants one quick answer.
 *
 * Calls that come while a check runs share its answer, and a finished
 * check's answer serves the calls of the next `reuseMs` (1 s): a crowd of
 * requests costs one check at a time and about one a second, per process.
 * One check per request ran into Temporal's namespace rate limit
 * (RESOURCE_EXHAUSTED) at ~1,700 requests a second: health answered 503,
 * "temporal down", for a server that was up. A throttled answer now counts
 * as Temporal up (`temporalThrottled`).
 */
export function makeHealthCheck(deps: {
  prisma: PrismaClient;
  temporalAddress: string;
  namespace: string;
  /** TLS and API key of a secured server (infra/temporal-connection.ts). */
  temporal?: TemporalConnectOptions;
  timeoutMs?: number;
  reuseMs?: number;
}): HealthCheck {
  const ms = deps.timeoutMs ?? CHECK_TIMEOUT_MS;
  const reuseMs = deps.reuseMs ?? REUSE_MS;
  const connection = Connection.lazy(
    clientConnectionOptions(deps.temporal ?? { address: deps.temporalAddress, namespace: deps.namespace }, { interceptors: [], connectTimeout: ms }),
  );
  const check = async () => {
    const [database, temporal] = await Promise.all([
      answers(() => deps.prisma.$queryRaw`SELECT 1`, ms),
      answers(
        (signal) =>
          connection.withAbortSignal(signal, () =>
            connection.withDeadline(Date.now() + ms, () =>
              connection.workflowService.describeNamespace({ namespace: deps.namespace }).catch((err: unknown) => {
                if (!temporalThrottled(err)) throw err;
              }),
            ),
          ),
        ms,
      ),
    ]);
    return { database, temporal };
  };
  let last: { at: number; answer: { database: boolean; temporal: boolean } } | undefined;
  const checkShared = singleFlight(() =>
    check().then((answer) => {
      last = { at: performance.now(), answer };
      return answer;
    }),
  );
  const shared = async () => (last && performance.now() - last.at < reuseMs ? last.answer : checkShared());
  return Object.assign(shared, { close: () => connection.close().catch(() => {}) });
}
