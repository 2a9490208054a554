// Runs `temporal server start-dev` as a child process: a real Temporal server
// (SQLite-backed when given a file, in memory otherwise) for `npm start` and
// the tests. The launcher registers our search attributes, waits until the
// namespace answers, and makes sure the server never outlives us.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ConfigError } from './config';
import { freePort } from './ports';
import { takeLock } from './embedded/lock';
import type { Log } from './logger';

export interface TemporalDevServerOptions {
  cliPath: string;
  /** Frontend gRPC port; 0 picks a free one. */
  port: number;
  /** Web UI port (0 picks a free one); null runs headless. */
  uiPort: number | null;
  /** SQLite file that keeps workflows across restarts; null keeps them in memory only. */
  dbFile: string | null;
  namespace: string;
  log: Log;
  /** How long to wait for the namespace to answer. Default 90 s. */
  readyTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL on stop. Default 10 s. */
  stopTimeoutMs?: number;
  /** More `server start-dev` flags, e.g. ['--dynamic-config-value', 'k=v']. */
  extraArgs?: string[];
  /**
   * Keep it running: a server that exits after it was ready (killed, crashed)
   * is started again at the same address, on the same file, until `stop`
   * (`npm start`: its wizards would otherwise wait on a server that is gone).
   */
  restart?: boolean;
}

export interface TemporalDevServer {
  /** host:port of the frontend, for Connection/NativeConnection. */
  address: string;
  uiUrl: string | null;
  /** Process id of the launcher that owns the server (for diagnostics; a restarted server has a new one). */
  readonly pid: number;
  stop(): Promise<void>;
}

/** One server process, as started: `exited` resolves when it is gone, stopped or not. */
interface StartedServer extends TemporalDevServer {
  exited: Promise<void>;
}

/** The first wait before starting a server that exited again, doubled up to the last. */
const RESTART_DELAYS_MS = { first: 1_000, max: 30_000, /** a server that ran this long was no crash loop */ stable: 60_000 };

/**
 * The server runs under a tiny Node launcher whose stdin is a pipe from us.
 * When this process dies, even by SIGKILL, the pipe closes and the launcher
 * stops the server: no orphaned servers holding ports or the SQLite file.
 * The launcher is its own process group, so a terminal's Ctrl-C reaches only
 * us and we stop things in order.
 */
const LAUNCHER = `
const { spawn } = require('node:child_process');
const [command, graceMs, ...args] = JSON.parse(process.argv[1]);
const server = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let killTimer = null;
const stop = () => {
  if (killTimer) return;
  server.kill('SIGTERM');
  killTimer = setTimeout(() => server.kill('SIGKILL'), graceMs);
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('SIGHUP', stop);
server.on('error', (err) => { console.error(String(err)); process.exit(127); });
server.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGTERM' ? 0 : 1)));
`;

/** A server that exited before it was ready, on ports we picked: another try, on other ports, may well work. */
class ExitedEarly extends Error {}

/** Attempts when the ports are ours to pick (port 0). */
const PICKED_PORT_ATTEMPTS = 3;

/**
 * Starts a dev server and waits until its namespace and search attributes
 * answer. With `port` 0 the ports are picked here (`freePort`: kept from the
 * kernel's own picks until the server binds them, though a process binding
 * one of them by number can still take it; seen in CI before that guard: the
 * server exited at start with code 2). A server that exits before it is ready
 * is then started again on other ports, up to 3 times in all, each failure
 * logged with its reason.
 */
export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  // One server per file: two on one SQLite file each take themselves for its only owner (operator probe 38:
  // a second `npm start` on one DATA_DIR did, and the two disagreed on a wizard's step).
  const dbFile = opts.dbFile ? path.resolve(opts.dbFile) : null;
  if (dbFile) fs.mkdirSync(path.dirname(dbFile), { recursive: true });
  const lockPath = dbFile ? `${dbFile}.lock` : '';
  const lock = dbFile ? await takeLock(lockPath) : null;
  if (lock && 'holder' in lock) {
    throw new ConfigError(
      `${opts.dbFile} is served by the Temporal dev server of process ${lock.holder.pid} (another npm start on this DATA_DIR?): ` +
        `stop that process, give this one a DATA_DIR of its own, or set TEMPORAL_ADDRESS to that server (if process ${lock.holder.pid} is no npm start, delete ${lockPath}).`,
    );
  }
  // A server whose starter died (kill -9) is still ending, for up to its grace period, or was left
  // behind by a launcher killed alone: wait for it to let go of the file, else name it.
  if (dbFile) {
    const deadline = Date.now() + (opts.stopTimeoutMs ?? 10_000) + 2_000;
    for (let other = serverOnFile(dbFile), said = false; other !== null; other = serverOnFile(dbFile)) {
      if (!said) {
        said = true;
        opts.log(`waiting for process ${other} (a Temporal dev server still on ${opts.dbFile}) to exit…`);
      }
      if (Date.now() > deadline) {
        lock?.release();
        throw new ConfigError(`${opts.dbFile} is open in process ${other} (a Temporal dev server left running): stop it, then start again.`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  let server: TemporalDevServer;
  try {
    const first = await startOnPorts(opts);
    server = opts.restart ? keptRunning(first, opts) : first;
  } catch (err) {
    lock?.release();
    throw err;
  }
  if (!lock) return server;
  return {
    address: server.address,
    uiUrl: server.uiUrl,
    get pid() {
      return server.pid;
    },
    async stop() {
      try {
        await server.stop();
      } finally {
        lock.release();
      }
    },
  };
}

async function startOnPorts(opts: TemporalDevServerOptions): Promise<StartedServer> {
  const attempts = opts.port === 0 ? PICKED_PORT_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      // A picked port taken before the check (ConfigError) or before the server bound it (ExitedEarly).
      if (!(err instanceof ExitedEarly || err instanceof ConfigError) || attempt >= attempts) throw err;
      opts.log(`${err.message.split('\n')[0]} Trying again on other ports (attempt ${attempt + 1} of ${attempts}).`);
    }
  }
}

/**
 * `first`, started again whenever it exits unless asked to stop: at the same
 * address and UI port, on the same file, after 1 s, then 2, 4, ... up to 30 s
 * between failed starts. Clients (the worker, the API) reconnect by themselves.
 */
function keptRunning(first: StartedServer, opts: TemporalDevServerOptions): TemporalDevServer {
  const { log } = opts;
  const port = Number(first.address.slice(first.address.lastIndexOf(':') + 1));
  const uiPort = first.uiUrl === null ? null : Number(new URL(first.uiUrl).port);
  const again: TemporalDevServerOptions = { ...opts, port, uiPort };
  let current = first;
  let startedAt = Date.now();
  let stopping = false;
  let wake: () => void = () => undefined;
  /** The next wait: doubled while servers keep dying soon after they started (a crash loop), else from the first again. */
  let delay = RESTART_DELAYS_MS.first;
  const watching = (async () => {
    for (;;) {
      await current.exited;
      // The launcher gone (killed itself) leaves its server running, in its process group: end it, or it holds the port.
      killGroup(current.pid);
      if (Date.now() - startedAt > RESTART_DELAYS_MS.stable) delay = RESTART_DELAYS_MS.first;
      for (; !stopping; delay = Math.min(delay * 2, RESTART_DELAYS_MS.max)) {
        log(`Temporal dev server on ${first.address} is gone; starting it again in ${delay / 1000} s…`, 'warn');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (stopping) return;
        try {
          current = await startOnce(again, () => stopping);
          startedAt = Date.now();
          delay = Math.min(delay * 2, RESTART_DELAYS_MS.max);
          if (stopping) await current.stop();
          break;
        } catch (err) {
          log(`Temporal dev server did not start again: ${(err as Error).message.split('\n')[0]}`, 'warn');
        }
      }
      if (stopping) return;
    }
  })();
  return {
    address: first.address,
    uiUrl: first.uiUrl,
    get pid() {
      return current.pid;
    },
    async stop() {
      stopping = true;
      wake();
      await current.stop();
      await watching;
      killGroup(current.pid);
    },
  };
}

/** A process (not this one) running a Temporal server on `dbFile`, by its command line; null when none (or no /proc). */
function serverOnFile(dbFile: string): number | null {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--db-filename');
      if (at >= 0 && args[at + 1] === dbFile) return Number(pid);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return null;
}

/** SIGKILL to a launcher's whole process group (its server included), if any of it is left. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // nothing left
  }
}

async function startOnce(opts: TemporalDevServerOptions, abandoned: () => boolean = () => false): Promise<StartedServer> {
  const { cliPath, namespace, log } = opts;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  const port = opts.port === 0 ? await freePort() : opts.port;
  const uiPort = opts.uiPort === null ? null : opts.uiPort === 0 ? await freePort() : opts.uiPort;
  const address = `127.0.0.1:${port}`;
  const uiUrl = uiPort === null ? null : `http://127.0.0.1:${uiPort}`;

  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace];
  args.push(...(uiPort === null ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(path.resolve(opts.dbFile)), { recursive: true });
    args.push('--db-filename', path.resolve(opts.dbFile));
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  args.push('--color', 'never', ...(opts.extraArgs ?? []));

  await assertPortFree(port, `Temporal port ${port}`);
  if (uiPort !== null) await assertPortFree(uiPort, `Temporal UI port ${uiPort}`);

  log(`Starting Temporal dev server on ${address}${opts.dbFile ? ` (data: ${path.resolve(opts.dbFile)})` : ' (in memory)'}…`);
  const child = spawn(process.execPath, ['-e', LAUNCHER, JSON.stringify([cliPath, stopTimeoutMs, ...args])], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Could not start ${cliPath}`);

  // Keep the last lines of output so a failure can say why, and the first line of a
  // Go panic (its goroutine dump would push it out of the last lines).
  const tail: string[] = [];
  let panicLine: string | null = null;
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      if (panicLine === null && /^(panic|fatal error): /.test(line)) panicLine = line.trim();
      tail.push(line);
      if (tail.length > 30) tail.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // Our end of the pipe must not keep the event loop alive on its own.
  child.stdin.on('error', () => undefined);
  unrefChild(child);

  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let stopping = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      if (!stopping) log(`Temporal dev server exited unexpectedly (code ${code ?? signal}): ${tail.slice(-10).join('\n')}`, 'warn');
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    stopping = true;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const killer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL'); // the launcher's whole group, server included
      } catch {
        // already gone
      }
    }, stopTimeoutMs + 2_000);
    await exitPromise;
    clearTimeout(killer);
  };

  try {
    await waitUntilReady(address, namespace, readyTimeoutMs, () => exited !== null || abandoned());
  } catch (err) {
    await stop();
    const died = exited as { code: number | null } | null;
    const why = died ? `it exited (code ${died.code})${panicLine ? `: ${panicLine}` : ''}` : (err as Error).message;
    const message = `Temporal dev server did not become ready on ${address}: ${why}.\n${tail.join('\n')}`;
    throw died ? new ExitedEarly(message) : new Error(message);
  }
  log(`Temporal dev server ready on ${address}${uiUrl ? `, UI at ${uiUrl}` : ''}.`);
  return { address, uiUrl, pid, stop, exited: exitPromise };
}

/** Polls until the namespace exists and our search attributes are registered on it. */
async function waitUntilReady(address: string, namespace: string, timeoutMs: number, died: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    if (died()) throw new Error('the server process exited');
    let connection: Connection | null = null;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      await connection.workflowService.describeNamespace({ namespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !(name in (customAttributes ?? {})));
      if (missing.length === 0) return;
      lastError = new Error(`search attributes not registered yet: ${missing.join(', ')}`);
    } catch (err) {
      lastError = err;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s (${(lastError as Error | null)?.message ?? 'no answer'})`);
}

function unrefChild(child: ReturnType<typeof spawn>): void {
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
}

async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new ConfigError(
              `${what} is already in use: stop whatever listens there, choose another port, or set TEMPORAL_ADDRESS to use a running server.`,
            )
          : new Error(`${what}: ${err.message}`),
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}
