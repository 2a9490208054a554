// Can the service work right now? The database answers `select 1`, and the
// Temporal frontend describes our namespace, each within a short deadline.
import type { Connection } from '@temporalio/client';
import type { PrismaClient } from '../generated/prisma/client';

const CHECK_TIMEOUT_MS = 2_000;

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function answers(check: () => Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await within(ms, check());
    return true;
  } catch {
    return false;
  }
}

export function makeHealthCheck(deps: {
  prisma: PrismaClient;
  connection: Connection;
  namespace: string;
  timeoutMs?: number;
}): () => Promise<{ database: boolean; temporal: boolean }> {
  const ms = deps.timeoutMs ?? CHECK_TIMEOUT_MS;
  return async () => {
    const [database, temporal] = await Promise.all([
      answers(() => deps.prisma.$queryRaw`SELECT 1`, ms),
      answers(
        () =>
          deps.connection.withDeadline(Date.now() + ms, () =>
            deps.connection.workflowService.describeNamespace({ namespace: deps.namespace }),
          ),
        ms,
      ),
    ]);
    return { database, temporal };
  };
}
