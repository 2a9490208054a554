// Which database a process of ours uses. Invariants:
//   - With DATABASE_URL: that server, checked to answer `select 1`.
//   - Without: the embedded PGlite of DATA_DIR/pglite, served over the
//     PostgreSQL wire protocol on 127.0.0.1 by exactly one of our processes
//     (the first to need it; infra/embedded/lock.ts); every other process
//     connects to that server with the password kept in the data folder.
//   - The embedded server runs every statement one client at a time (one
//     backend): keep transactions short and pools small; a client idle inside
//     a transaction past PGLITE_IDLE_IN_TRANSACTION_MS is rolled back and
//     disconnected. Session state (SET, advisory locks) is shared by all.
// How it works and why: docs/embedded-database.md.
import path from 'node:path';
import fs from 'node:fs';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client } from 'pg';
import { PrismaClient } from '../generated/prisma/client';
import { ConfigError, type Config } from './config';
import { embeddedUrl, readPassword } from './embedded/auth';
import { looksLikeOurs, pidAlive, postgresAnswers, publishPort, readLock, releaseLock, safeMtime, stealStaleLock, tryCreateLock } from './embedded/lock';
import { startEmbeddedPostgres } from './embedded/server';
import type { Log } from './logger';

export { startEmbeddedPostgres } from './embedded/server';

const noop: Log = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Embedded servers this process runs, by data directory. */
const ownServers = new Map<string, { url: string }>();

/**
 * The database this process should use. With DATABASE_URL: checks it answers
 * `select 1`. Without: the embedded PGlite of DATA_DIR, started here or, when
 * another of our processes already serves it, that process's server.
 */
export async function ensureDatabase(
  config: Config,
  log: Log = noop,
): Promise<{ url: string; embedded: boolean; stop(): Promise<void> }> {
  if (config.DATABASE_URL) {
    await checkReachable(config.DATABASE_URL);
    return { url: config.DATABASE_URL, embedded: false, stop: async () => {} };
  }

  const dataDir = path.resolve(config.DATA_DIR, 'pglite');
  const lockPath = path.resolve(config.DATA_DIR, 'pglite.lock');
  fs.mkdirSync(config.DATA_DIR, { recursive: true });

  const mine = ownServers.get(dataDir);
  if (mine) return { url: mine.url, embedded: true, stop: async () => {} };

  const deadline = Date.now() + 60_000;
  while (!tryCreateLock(lockPath)) {
    const lock = readLock(lockPath);
    if (!lock) continue; // released meanwhile
    const info = lock.info;
    if (info && info.pid !== process.pid && pidAlive(info.pid) && looksLikeOurs(info.pid)) {
      const password = readPassword(dataDir);
      if (info.port !== null && password && (await postgresAnswers(info.port))) {
        log(`using the embedded PostgreSQL of process ${info.pid} on 127.0.0.1:${info.port}`);
        return { url: embeddedUrl(info.port, password), embedded: true, stop: async () => {} };
      }
      if (Date.now() > deadline) {
        throw new ConfigError(
          `Process ${info.pid} holds ${lockPath} but its embedded database does not answer${info.port ? ` on port ${info.port}` : ''}; stop that process (or delete the lock file if it is not ours) and try again.`,
        );
      }
      await sleep(200); // still starting
      continue;
    }
    // No holder (dead pid, recycled pid, our own pid from an earlier run, or
    // an unreadable file written by a process that died mid-write).
    if (info === null && Date.now() - safeMtime(lockPath) < 5_000) {
      await sleep(100); // being written right now
      continue;
    }
    log(`removing a stale embedded-database lock (${lock.raw.trim() || 'empty'})`);
    if (!stealStaleLock(lockPath, lock.raw)) await sleep(100);
  }

  // We hold the lock: open the files and serve them.
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({
      dataDir,
      port: config.PGLITE_PORT,
      idleInTransactionMs: config.PGLITE_IDLE_IN_TRANSACTION_MS,
      log,
    });
  } catch (err) {
    fs.rmSync(lockPath, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(
        `Port ${config.PGLITE_PORT} is already in use, so the embedded database cannot listen there; free it or set PGLITE_PORT to another port.`,
      );
    }
    throw err;
  }
  publishPort(lockPath, Number(new URL(server.url).port));
  ownServers.set(dataDir, { url: server.url });
  let stopped: Promise<void> | null = null;
  return {
    url: server.url,
    embedded: true,
    stop() {
      stopped ??= (async () => {
        try {
          await server.stop();
        } finally {
          ownServers.delete(dataDir);
          releaseLock(lockPath);
        }
      })();
      return stopped;
    },
  };
}

/** Where a URL points, without its password, for messages. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'an unparsable URL';
  }
}

async function checkReachable(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    const reason = ((err as Error).message || (err as NodeJS.ErrnoException).code || String(err)).replace(/\.$/, '');
    throw new ConfigError(
      `Cannot reach PostgreSQL at DATABASE_URL (${describeUrl(url)}: ${reason}); start that server or fix DATABASE_URL, or unset it to use the embedded database.`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The work's interactive transactions' limits (activities, scripts): up to
 * 10 s to get a connection and 60 s to run (Prisma's defaults are 2 s and
 * 5 s). Long enough for 10,000 leads on a slow disk, or a transaction waiting
 * on another's lock; far below anything stuck. Their isolation is the
 * database's default, READ COMMITTED, unless one says otherwise: a change
 * that must see another attempt's commit first takes a lock (`oneAtATime`,
 * a row `FOR UPDATE`) and then reads, which sees that commit; under
 * REPEATABLE READ that read would not.
 */
export const TRANSACTION_LIMITS = { maxWait: 10_000, timeout: 60_000 } as const;

/**
 * The API's: a request's transaction (a preview of thousands of labels on a
 * busy database, a directory write) gets 5 s to get a connection and 9 s to
 * run, so that it answers within the API's 10 s; past that it is rolled back
 * and the request answers 503 with Retry-After (api/problems.ts), never 500.
 * Prisma's default 5 s to run made busy moments into 500s; a minute would
 * hold the embedded database (one statement at a time) for everyone.
 */
export const REQUEST_TRANSACTION_LIMITS = { maxWait: 5_000, timeout: 9_000 } as const;

/** A Prisma client over `pg` with a small pool (the embedded server runs one statement at a time anyway). */
export function createPrisma(
  url: string,
  opts: { max?: number; transactions?: { maxWait: number; timeout: number } } = {},
): PrismaClient {
  return new PrismaClient({
    adapter: new PrismaPg({ connectionString: url, max: opts.max ?? 5 }),
    transactionOptions: opts.transactions ?? TRANSACTION_LIMITS,
  });
}
