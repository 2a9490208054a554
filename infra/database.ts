// The database runtime: real PostgreSQL when DATABASE_URL is set, otherwise an
// embedded PGlite (PostgreSQL compiled to wasm) served over the PostgreSQL wire
// protocol on 127.0.0.1, so that every process (API, Temporal worker, one-shot
// scripts) connects with an ordinary postgresql:// URL and a `pg` pool.
//
// How the embedded server shares one PGlite between clients
// ---------------------------------------------------------
// PGlite is ONE PostgreSQL backend (one session). @electric-sql/pglite-socket
// 0.2.17 multiplexes TCP clients onto it; its PGLiteSocketServer accepts
// `maxConnections` clients (default 1: a second pool connection is refused with
// "Too many connections") and queues every wire message on a global FIFO,
// keeping an explicit transaction (BEGIN..COMMIT) to the client that opened it.
// That is not enough for the extended query protocol that `pg` and Prisma use
// (Parse/Bind/Execute/Sync): between two messages of one client another
// client's Parse/Bind can run and replace the unnamed statement and portal.
// Tried here: client A sends Parse+Bind, client B a whole query, then A sends
// Execute+Sync -> A gets `portal "" does not exist`. It happens whenever a
// client's messages arrive in more than one TCP chunk (large statements).
//
// So we use pglite-socket's per-connection handler (framing, SSL refusal,
// cancel requests) with our own queue, SessionQueue below: a client owns the
// backend from its first message until PGlite answers ReadyForQuery with status
// Idle ('I'), i.e. for a whole query cycle or a whole transaction, and other
// clients' messages wait in FIFO order. Consequences to design around:
//   - Every statement in the process tree is serialized; an open transaction
//     blocks every other client until it ends (keep transactions short, e.g.
//     lead moves in batches). A client that opens a transaction and then waits
//     on a query from ANOTHER connection deadlocks itself.
//   - Session state (SET, temp tables, advisory locks, prepared statement
//     names) is shared by all clients. Advisory locks do not exclude anyone.
//   - Up to MAX_EMBEDDED_CONNECTIONS (64) client connections at once; keep
//     pools small (createPrisma defaults to 5): more connections add no
//     throughput, since only one runs at a time.
// A client that disconnects while owning the backend has its unfinished work
// rolled back, and the backend is released.
//
// One data directory, one server: the first process of ours to need it
// (ensureDatabase) opens PGlite and serves it, recording pid+port in
// DATA_DIR/pglite.lock; later processes (worker, `npm run token`) connect to
// that server, and lose it when its owner exits. Committed data survived a
// `kill -9` of the owner (tried); stop() closes PGlite cleanly.
// PGlite cannot be opened inside jest's module sandbox (it imports modules
// dynamically): tests run it in jest's globalSetup or in child processes.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client } from 'pg';
import { PrismaClient } from '../generated/prisma/client';
import { ConfigError, type Config } from './config';

export type Log = (msg: string) => void;

/** Client connections the embedded server accepts at once (API + worker + scripts pools). */
export const MAX_EMBEDDED_CONNECTIONS = 64;

const noop: Log = () => {};

// ---------------------------------------------------------------------------
// Embedded server

interface Queued {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

/**
 * Scans a stream of backend messages for ReadyForQuery ('Z', length 5, status
 * byte), across chunk boundaries. `status` is the last status seen, or null.
 */
class ReadyForQueryScanner {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private inReady = false;
  status: string | null = null;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        if (this.inReady) this.status = String.fromCharCode(chunk[i + take - 1]!);
        this.remaining -= take;
        i += take;
        continue;
      }
      const need = 5 - this.header.length;
      const take = Math.min(need, chunk.length - i);
      this.header = Buffer.concat([this.header, Buffer.from(chunk.subarray(i, i + take))]);
      i += take;
      if (this.header.length === 5) {
        const type = String.fromCharCode(this.header[0]!);
        this.remaining = this.header.readInt32BE(1) - 4;
        this.inReady = type === 'Z';
        this.header = Buffer.alloc(0);
      }
    }
  }
}

const TERMINATE = 0x58; // 'X'

function simpleQuery(sql: string): Uint8Array {
  const body = Buffer.from(sql + '\0');
  const msg = Buffer.alloc(5 + body.length);
  msg.write('Q', 0);
  msg.writeInt32BE(4 + body.length, 1);
  body.copy(msg, 5);
  return msg;
}
const SYNC = Uint8Array.from([0x53, 0, 0, 0, 4]); // 'S'

/**
 * Gives the single PGlite backend to one client at a time, for whole query
 * cycles and transactions (see the top of this file). Implements the interface
 * PGLiteSocketHandler expects of its `queryQueue`.
 */
class SessionQueue {
  private queue: Queued[] = [];
  private owner: number | null = null;
  private running = false;

  constructor(private readonly db: PGlite, private readonly log: Log) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    // Terminate: the socket closes next and detach() releases the backend; PGlite
    // has no backend process to end.
    if (message.length === 5 && message[0] === TERMINATE) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.pump();
    });
  }

  clearQueueForHandler(handlerId: number): void {
    this.queue = this.queue.filter((q) => {
      if (q.handlerId !== handlerId) return true;
      q.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  /** Called when a client goes away: undo whatever it left half done, then let the others in. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId) return;
    // Wait for a message of this handler that is still executing.
    while (this.running) await new Promise((r) => setImmediate(r));
    if (this.owner !== handlerId) return;
    try {
      await this.db.runExclusive(async () => {
        // ROLLBACK as a simple query aborts an unfinished extended-protocol
        // cycle (or is ignored while the backend skips to Sync after an error);
        // Sync then returns the backend to idle; a remaining BEGIN block is
        // rolled back last.
        await this.db.execProtocolRaw(simpleQuery('ROLLBACK'));
        await this.db.execProtocolRaw(SYNC);
        if (this.db.isInTransaction()) await this.db.execProtocolRaw(simpleQuery('ROLLBACK'));
      });
    } catch (err) {
      this.log(`embedded database: cleaning up after a disconnected client failed: ${(err as Error).message}`);
    }
    this.owner = null;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const idx = this.owner === null ? (this.queue.length > 0 ? 0 : -1) : this.queue.findIndex((q) => q.handlerId === this.owner);
        if (idx === -1) break;
        const item = this.queue.splice(idx, 1)[0]!;
        const scanner = new ReadyForQueryScanner();
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                scanner.push(data);
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          item.reject(err as Error);
          continue;
        }
        if (scanner.status === null) this.owner = item.handlerId; // mid-cycle: keep the backend
        else this.owner = scanner.status === 'I' ? null : item.handlerId; // 'T'/'E': inside a transaction
        item.resolve(bytes);
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * A blank cluster, as PGlite's initdb leaves it, cached as a tarball in the
 * system temp folder: initdb takes seconds (7 s on a busy 2-core machine),
 * loading the tarball under one. Every in-memory database (tests) and every
 * new data directory starts from it. Keyed by the PGlite version.
 */
const PGLITE_VERSION: string = (() => {
  try {
    // The package does not export ./package.json: find it above its entry point.
    let dir = path.dirname(require.resolve('@electric-sql/pglite'));
    while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
const templatePath = () => path.join(os.tmpdir(), `crm-offboarding-pglite-${PGLITE_VERSION}-blank.tar.gz`);

async function blankClusterTemplate(log: Log): Promise<Blob | undefined> {
  const file = templatePath();
  try {
    if (fs.existsSync(file)) return new Blob([fs.readFileSync(file)]);
    const fresh = await PGlite.create();
    try {
      const blob = await fresh.dumpDataDir('gzip');
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, Buffer.from(await blob.arrayBuffer()));
      fs.renameSync(tmp, file);
      return blob;
    } finally {
      await fresh.close();
    }
  } catch (err) {
    log(`embedded database: no blank-cluster template (${(err as Error).message}); running initdb`);
    return undefined;
  }
}

async function openPglite(dataDir: string | undefined, log: Log): Promise<PGlite> {
  const isNew = !dataDir || !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
  if (isNew) {
    const template = await blankClusterTemplate(log);
    if (template) {
      try {
        return await PGlite.create({ ...(dataDir ? { dataDir } : {}), loadDataDir: template });
      } catch (err) {
        log(`embedded database: the blank-cluster template did not load (${(err as Error).message}); running initdb`);
        fs.rmSync(templatePath(), { force: true });
        if (dataDir) {
          fs.rmSync(dataDir, { recursive: true, force: true });
          fs.mkdirSync(dataDir, { recursive: true });
        }
      }
    }
  }
  return PGlite.create(dataDir ? { dataDir } : {});
}

export interface EmbeddedPostgres {
  url: string;
  /** The PGlite instance behind the server (for in-process tools such as the schema engine). */
  pglite: PGlite;
  stop(): Promise<void>;
}

/**
 * Opens PGlite (file-backed in `dataDir`, in memory when undefined) and serves
 * it on 127.0.0.1:`port` (0 = a free port). stop() closes every client
 * connection, then closes PGlite, which flushes its files.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir?: string;
  port: number;
  log?: Log;
  maxConnections?: number;
}): Promise<EmbeddedPostgres> {
  const log = opts.log ?? noop;
  const maxConnections = opts.maxConnections ?? MAX_EMBEDDED_CONNECTIONS;
  const db = await openPglite(opts.dataDir, log);
  const queue = new SessionQueue(db, log);
  const handlers = new Set<PGLiteSocketHandler>();
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (handlers.size >= maxConnections) {
      log(`embedded database: refusing a connection, ${maxConnections} already open`);
      socket.end(errorResponse('53300', `too many connections (the embedded database accepts ${maxConnections})`));
      return;
    }
    const handler = new PGLiteSocketHandler({
      queryQueue: queue as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    handler.attach(socket).catch((err: Error) => {
      forget();
      log(`embedded database: could not attach a client: ${err.message}`);
      socket.destroy();
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await db.close();
    throw err;
  }
  server.on('error', (err) => log(`embedded database server error: ${err.message}`));
  const port = (server.address() as net.AddressInfo).port;
  const url = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  log(`embedded PostgreSQL (PGlite${opts.dataDir ? ` in ${opts.dataDir}` : ', in memory'}) listening on 127.0.0.1:${port}`);

  let stopped: Promise<void> | null = null;
  return {
    url,
    pglite: db,
    stop() {
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...handlers].map((h) => h.detach(true)));
        for (const s of sockets) s.destroy();
        await closed;
        await db.close();
        log('embedded PostgreSQL stopped');
      })();
      return stopped;
    },
  };
}

/** A PostgreSQL ErrorResponse, for refusing a client before it is served. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const msg = Buffer.alloc(5 + fields.length);
  msg.write('E', 0);
  msg.writeInt32BE(4 + fields.length, 1);
  fields.copy(msg, 5);
  return msg;
}

// ---------------------------------------------------------------------------
// One embedded server per data directory, shared by every process of ours

interface LockInfo {
  pid: number;
  port: number | null;
  startedAt: string;
}

/** Embedded servers this process runs, by data directory. */
const ownServers = new Map<string, { url: string }>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A live pid that is not a node process is a recycled pid: its lock is stale. */
function looksLikeOurs(pid: number): boolean {
  try {
    return /node|tsx|jest/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust the pid
  }
}

function readLock(lockPath: string): { raw: string; info: LockInfo | null } | null {
  try {
    const raw = fs.readFileSync(lockPath, 'utf8');
    try {
      const info = JSON.parse(raw) as LockInfo;
      return { raw, info: typeof info.pid === 'number' ? info : null };
    } catch {
      return { raw, info: null };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Does a PostgreSQL server answer on this port? An SSLRequest is answered at
 * once ('N' or 'S') by PostgreSQL and by our embedded server alike, without
 * waiting behind queries in progress.
 */
export function postgresAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      socket.write(req);
    });
    socket.once('data', (d) => done(d[0] === 0x4e || d[0] === 0x53));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replaces a stale lock file, one stealer at a time (guarded by `<lock>.steal`). */
function stealStaleLock(lockPath: string, staleRaw: string): boolean {
  const guard = `${lockPath}.steal`;
  try {
    fs.writeFileSync(guard, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A stealer that died leaves its guard: remove it once it is clearly old.
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 10_000) fs.unlinkSync(guard);
    } catch {
      /* gone already */
    }
    return false;
  }
  try {
    const now = readLock(lockPath);
    if (now && now.raw === staleRaw) fs.unlinkSync(lockPath);
    return true;
  } finally {
    fs.unlinkSync(guard);
  }
}

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
  for (;;) {
    let fd: number;
    try {
      fd = fs.openSync(lockPath, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const lock = readLock(lockPath);
      if (!lock) continue; // released meanwhile
      const info = lock.info;
      const holderAlive = info !== null && info.pid !== process.pid && pidAlive(info.pid) && looksLikeOurs(info.pid);
      if (info && holderAlive) {
        if (info.port !== null && (await postgresAnswers(info.port))) {
          log(`using the embedded PostgreSQL of process ${info.pid} on 127.0.0.1:${info.port}`);
          return { url: `postgresql://postgres:postgres@127.0.0.1:${info.port}/postgres`, embedded: true, stop: async () => {} };
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
      continue;
    }

    // We hold the lock: open the files and serve them.
    const write = (port: number | null) => {
      const info: LockInfo = { pid: process.pid, port, startedAt: new Date().toISOString() };
      fs.writeFileSync(lockPath, JSON.stringify(info) + '\n');
    };
    try {
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, port: null, startedAt: new Date().toISOString() }) + '\n');
    } finally {
      fs.closeSync(fd);
    }
    let server: EmbeddedPostgres;
    try {
      server = await startEmbeddedPostgres({ dataDir, port: config.PGLITE_PORT, log });
    } catch (err) {
      fs.rmSync(lockPath, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new ConfigError(
          `Port ${config.PGLITE_PORT} is already in use, so the embedded database cannot listen there; free it or set PGLITE_PORT to another port.`,
        );
      }
      throw err;
    }
    const port = Number(new URL(server.url).port);
    write(port);
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
            const lock = readLock(lockPath);
            if (lock?.info?.pid === process.pid) fs.rmSync(lockPath, { force: true });
          }
        })();
        return stopped;
      },
    };
  }
}

function safeMtime(p: string): number {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** Where a URL points, without its password, for messages. */
export function describeUrl(url: string): string {
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

/** A Prisma client over `pg` with a small pool (the embedded server runs one statement at a time anyway). */
export function createPrisma(url: string, opts: { max?: number } = {}): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: opts.max ?? 5 }) });
}
