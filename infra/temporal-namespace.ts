// Makes a Temporal server ready for us: our namespace exists and carries our
// search attributes. The dev server does this at launch (flags); a real
// server (docker compose, TEMPORAL_ADDRESS) gets it from here, idempotently.
import { Connection } from '@temporalio/client';
import { type SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import type { Log } from './logger';
import { clientConnectionOptions, explainConnectError, type TemporalConnectOptions } from './temporal-connection';

const GRPC_ALREADY_EXISTS = 6;
const GRPC_NOT_FOUND = 5;

export interface EnsureNamespaceOptions {
  address: string;
  namespace: string;
  log: Log;
  /** TLS and API key of a secured server (infra/temporal-connection.ts); default plain `address`. */
  connection?: TemporalConnectOptions;
  /** Keep closed workflow histories this long. Default 30 days. */
  retentionDays?: number;
  /** Wait this long for the server to answer at all (it may still be starting). Default 120 s. */
  waitForServerMs?: number;
}

export async function ensureNamespace(opts: EnsureNamespaceOptions): Promise<{ createdNamespace: boolean; addedAttributes: string[] }> {
  const { address, namespace, log } = opts;
  const connection = await connectWhenUp(opts.connection ?? { address, namespace }, opts.waitForServerMs ?? 120_000);
  try {
    let createdNamespace = false;
    try {
      await connection.workflowService.describeNamespace({ namespace });
    } catch (err) {
      if (grpcCode(err) !== GRPC_NOT_FOUND) throw err;
      try {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs(`${opts.retentionDays ?? 30} days`),
        });
        createdNamespace = true;
        log(`Registered Temporal namespace ${namespace}.`);
      } catch (registerErr) {
        if (grpcCode(registerErr) !== GRPC_ALREADY_EXISTS) throw registerErr;
      }
      // A new namespace takes a moment to reach every service.
      await retry(() => connection.workflowService.describeNamespace({ namespace }), 30_000);
    }

    // A new namespace reaches the operator service's cache some seconds after
    // it describes fine: retry while it answers "not found".
    const missing = await retryWhile(notFound, 60_000, async () => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const absent = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (customAttributes ?? {})));
      if (absent.length) {
        try {
          await connection.operatorService.addSearchAttributes({
            namespace,
            searchAttributes: Object.fromEntries(
              absent.map(([name, type]) => [name, encodeSearchAttributeIndexedValueType(type.toUpperCase() as SearchAttributeType)!]),
            ),
          });
        } catch (err) {
          if (grpcCode(err) !== GRPC_ALREADY_EXISTS) throw err;
        }
      }
      return absent;
    });
    if (missing.length) log(`Registered search attributes ${missing.map(([name]) => name).join(', ')} on ${namespace}.`);
    return { createdNamespace, addedAttributes: missing.map(([name]) => name) };
  } finally {
    await connection.close();
  }
}

async function connectWhenUp(target: TemporalConnectOptions, waitMs: number): Promise<Connection> {
  return retry(async () => {
    const connection = await Connection.connect(clientConnectionOptions(target, { connectTimeout: 5_000 })).catch((err: unknown) => {
      throw explainConnectError(target, err);
    });
    try {
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (err) {
      await connection.close();
      throw err;
    }
  }, waitMs, `Temporal at ${target.address} did not answer`);
}

async function retry<T>(attempt: () => Promise<T>, withinMs: number, what = 'gave up'): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} within ${Math.round(withinMs / 1000)} s: ${(err as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

async function retryWhile<T>(transient: (err: unknown) => boolean, withinMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (!transient(err) || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function notFound(err: unknown): boolean {
  return grpcCode(err) === GRPC_NOT_FOUND;
}

function grpcCode(err: unknown): number | undefined {
  return (err as { code?: number } | null)?.code;
}
