// Can the service work right now? The database answers `select 1`, and the
// Temporal frontend describes our namespace, each within a short deadline.
import { Connection } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';
import { clientConnectionOptions, type TemporalConnectOptions } from '../infra/temporal-connection';

const CHECK_TIMEOUT_MS = 2_000;

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
  const work = check(ctrl.signal);
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
 * Calls that come while a check runs share its answer, so a crowd of probes
 * (load balancers, many pods' kubelets, a benchmark) costs one check at a
 * time. One check per request ran into Temporal's namespace rate limit
 * (RESOURCE_EXHAUSTED) at ~1,700 requests a second: health answered 503,
 * "temporal down", for a server that was up.
 */
export function makeHealthCheck(deps: {
  prisma: PrismaClient;
  temporalAddress: string;
  namespace: string;
  /** TLS and API key of a secured server (infra/temporal-connection.ts). */
  temporal?: TemporalConnectOptions;
  timeoutMs?: number;
}): HealthCheck {
  const ms = deps.timeoutMs ?? CHECK_TIMEOUT_MS;
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
              connection.workflowService.describeNamespace({ namespace: deps.namespace }),
            ),
          ),
        ms,
      ),
    ]);
    return { database, temporal };
  };
  let running: Promise<{ database: boolean; temporal: boolean }> | undefined;
  const shared = () =>
    (running ??= check().finally(() => {
      running = undefined;
    }));
  return Object.assign(shared, { close: () => connection.close().catch(() => {}) });
}
