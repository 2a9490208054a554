// The embedded server's start and stop. Invariants:
//   - PGlite and its socket server run in a worker thread of their own, so a
//     long statement never blocks the event loop of the process that serves
//     it (HTTP, timers, the Temporal worker). The caller's thread only starts
//     and stops it (`inProcess` runs it on the caller's thread, for tools that
//     need the PGlite object itself, such as the schema engine).
//   - It listens on 127.0.0.1 only, accepts at most `maxConnections` clients,
//     and serves a client only once it gave the data folder's password.
//   - stop() closes every client connection, then PGlite, which flushes its
//     files; committed data also survives a `kill -9` of the process.
import net from 'node:net';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import { authenticate, embeddedUrl, ensurePassword } from './auth';
import { openPglite } from './templates';
import type { Log } from '../logger';
import { errorResponse, SessionQueue } from './wire';

/** Client connections the embedded server accepts at once (API + worker + scripts pools). */
const MAX_EMBEDDED_CONNECTIONS = 64;

/** How long a client may own the backend while sending nothing (idle in a transaction), by default. */
const DEFAULT_IDLE_IN_TRANSACTION_MS = 30_000;

interface ServeOptions {
  port: number;
  password: string;
  maxConnections: number;
  idleInTransactionMs: number;
  log: Log;
}

/** Serves `db` on 127.0.0.1:`port` (0 = a free port) from the calling thread. */
async function serveEmbedded(db: PGlite, opts: ServeOptions): Promise<{ port: number; close(): Promise<void> }> {
  const { log, maxConnections } = opts;
  const queue = new SessionQueue(db, opts.idleInTransactionMs, log);
  const handlers = new Set<PGLiteSocketHandler>();
  const sockets = new Set<net.Socket>();

  const serveClient = async (socket: net.Socket) => {
    const authenticated = await authenticate(socket, opts.password);
    if (!authenticated || socket.destroyed) return;
    const handler = new PGLiteSocketHandler({
      queryQueue: queue as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    queue.register(handler.handlerId, (farewell) => {
      socket.removeAllListeners('data'); // nothing more of it is served
      socket.write(farewell, () => socket.destroy());
    });
    // PGlite answers the startup itself (AuthenticationOk, parameters, ready).
    socket.unshift(Buffer.concat([authenticated.startup, authenticated.rest]));
    try {
      await handler.attach(socket);
      socket.resume();
    } catch (err) {
      forget();
      log(`embedded database: could not attach a client: ${(err as Error).message}`, 'warn');
      socket.destroy();
    }
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {}); // a client that vanished; its handler cleans up
    if (sockets.size > maxConnections) {
      log(`embedded database: refusing a connection, ${maxConnections} already open`, 'warn');
      socket.end(errorResponse('FATAL', '53300', `too many connections (the embedded database accepts ${maxConnections})`));
      return;
    }
    void serveClient(socket);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log(`embedded database server error: ${err.message}`, 'warn'));

  let closing: Promise<void> | null = null;
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([...handlers].map((h) => h.detach(true)));
        for (const s of sockets) s.destroy();
        queue.close();
        await closed;
        await db.close();
      })();
      return closing;
    },
  };
}

export interface EmbeddedOptions {
  /** PGlite's files; in memory when undefined. */
  dataDir?: string;
  /** 0 = a free port. */
  port: number;
  log?: Log;
  maxConnections?: number;
  /** A client idle inside a transaction longer than this is rolled back and disconnected (0 = never). */
  idleInTransactionMs?: number;
}

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/** What the thread is given (workerData) and what it says. */
export type ThreadOptions = Omit<EmbeddedOptions, 'log'>;
export type ThreadMessage =
  | { type: 'log'; message: string; level?: 'info' | 'warn' }
  | { type: 'ready'; port: number; password: string }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'stopped' };

const noop: Log = () => {};

/** Opens PGlite and serves it, on the calling thread. */
export async function serveInThisThread(opts: EmbeddedOptions): Promise<{ port: number; password: string; pglite: PGlite; close(): Promise<void> }> {
  const log = opts.log ?? noop;
  const db = await openPglite(opts.dataDir, log);
  try {
    const password = ensurePassword(opts.dataDir);
    const served = await serveEmbedded(db, {
      port: opts.port,
      password,
      maxConnections: opts.maxConnections ?? MAX_EMBEDDED_CONNECTIONS,
      idleInTransactionMs: opts.idleInTransactionMs ?? DEFAULT_IDLE_IN_TRANSACTION_MS,
      log,
    });
    return { ...served, password, pglite: db };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** A worker thread running thread.ts, under tsx when this is TypeScript source. */
function spawnThread(options: ThreadOptions): Worker {
  const entry = path.join(__dirname, `thread${path.extname(__filename)}`);
  if (!entry.endsWith('.ts')) return new Worker(entry, { workerData: options });
  const code = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\nrequire(${JSON.stringify(entry)});\n`;
  return new Worker(code, { eval: true, workerData: options });
}

/**
 * Opens PGlite (file-backed in `dataDir`, in memory when undefined) and serves
 * it on 127.0.0.1:`port` from a worker thread; `inProcess` serves it from the
 * calling thread and hands out the PGlite object too.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions & { inProcess: true }): Promise<EmbeddedPostgres & { pglite: PGlite }>;
export async function startEmbeddedPostgres(opts: EmbeddedOptions & { inProcess?: false }): Promise<EmbeddedPostgres>;
export async function startEmbeddedPostgres(opts: EmbeddedOptions & { inProcess?: boolean }): Promise<EmbeddedPostgres & { pglite?: PGlite }> {
  const log = opts.log ?? noop;
  const where = opts.dataDir ? ` in ${opts.dataDir}` : ', in memory';
  if (opts.inProcess) {
    const served = await serveInThisThread(opts);
    log(`embedded PostgreSQL (PGlite${where}) listening on 127.0.0.1:${served.port}`);
    let stopped: Promise<void> | null = null;
    return {
      url: embeddedUrl(served.port, served.password),
      pglite: served.pglite,
      stop: () => (stopped ??= served.close().then(() => log('embedded PostgreSQL stopped'))),
    };
  }

  const { log: _log, inProcess: _inProcess, ...threadOptions } = opts;
  const thread = spawnThread(threadOptions);
  let stopping = false;
  const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
  const said = (type: ThreadMessage['type']) =>
    new Promise<ThreadMessage>((resolve, reject) => {
      const onMessage = (m: ThreadMessage) => {
        if (m.type === type || m.type === 'failed') {
          thread.off('message', onMessage);
          resolve(m);
        }
      };
      thread.on('message', onMessage);
      void exited.then((code) => reject(new Error(`the embedded database thread exited (code ${code})`)));
    });
  thread.on('message', (m: ThreadMessage) => {
    if (m.type === 'log') log(m.message, m.level);
  });
  thread.on('error', (err) => log(`embedded database thread failed: ${err.stack ?? err.message}`, 'warn'));
  void exited.then((code) => {
    if (!stopping) log(`embedded database thread stopped unexpectedly (exit code ${code}); its clients are disconnected`, 'warn');
  });

  const ready = await said('ready').catch((err: Error) => ({ type: 'failed' as const, message: err.message }));
  if (ready.type !== 'ready') {
    stopping = true;
    await thread.terminate();
    const failed = ready as { message: string; code?: string };
    throw Object.assign(new Error(failed.message), failed.code ? { code: failed.code } : {});
  }
  log(`embedded PostgreSQL (PGlite${where}) listening on 127.0.0.1:${ready.port}`);
  let stopped: Promise<void> | null = null;
  return {
    url: embeddedUrl(ready.port, ready.password),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const done = said('stopped').catch(() => undefined);
        thread.postMessage('stop');
        await Promise.race([done, exited]);
        await thread.terminate();
        log('embedded PostgreSQL stopped');
      })();
      return stopped;
    },
  };
}
