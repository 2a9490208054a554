// The dev-server launcher: a SQLite file keeps workflows across a restart
// (and memory does not), a busy port is a one-sentence refusal, and a server
// never outlives the process that started it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { ConfigError } from '../../infra/config';
import { SEARCH_ATTRIBUTES } from '../../domain/search-attributes';
import { type TemporalDevServer, startTemporalDevServer } from '../../infra/temporal-server';
import { freePort } from '../../infra/ports';
import { testEnv } from '../support/env';

const { cliPath } = testEnv();
const quiet = () => undefined;
let scratch: string;
const running: TemporalDevServer[] = [];

beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-temporal-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
  fs.rmSync(scratch, { recursive: true, force: true });
});

async function start(dbFile: string | null, namespace = 'persist-test'): Promise<TemporalDevServer> {
  const server = await startTemporalDevServer({ cliPath, port: 0, uiPort: null, dbFile, namespace, log: quiet });
  running.push(server);
  return server;
}

async function withClient<T>(server: TemporalDevServer, namespace: string, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: server.address });
  try {
    return await use(new Client({ connection, namespace }));
  } finally {
    await connection.close();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopAndForget(server: TemporalDevServer): Promise<void> {
  await server.stop();
  running.splice(running.indexOf(server), 1);
}

async function startOpenWorkflow(server: TemporalDevServer, workflowId: string): Promise<void> {
  await withClient(server, 'persist-test', (client) =>
    client.workflow.start('neverPolled', { taskQueue: 'nobody-polls-this', workflowId }),
  );
}

async function statusAfterRestart(dbFile: string | null, workflowId: string): Promise<string> {
  const server = await start(dbFile);
  return withClient(server, 'persist-test', async (client) => {
    try {
      return (await client.workflow.getHandle(workflowId).describe()).status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
      throw err;
    }
  });
}

test('a SQLite file keeps an open workflow and the namespace across a restart', async () => {
  const dbFile = path.join(scratch, 'nested', 'temporal.sqlite');
  const first = await start(dbFile);
  await startOpenWorkflow(first, 'kept-across-restart');
  await stopAndForget(first);
  expect(alive(first.pid)).toBe(false);
  expect(fs.existsSync(dbFile)).toBe(true);

  expect(await statusAfterRestart(dbFile, 'kept-across-restart')).toBe('RUNNING');
  const server = running[0]!;
  const connection = await Connection.connect({ address: server.address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'persist-test' });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));
  } finally {
    await connection.close();
  }
});

// Operator probe 38 D1: a second `npm start` on one DATA_DIR started a second dev server on the same
// SQLite file; each took itself for its only owner, and they disagreed on a wizard's step.
test('a file another server is running on is refused in one sentence naming its process; stopped, the file is served again', async () => {
  const dbFile = path.join(scratch, 'temporal.sqlite');
  const first = await start(dbFile);
  await startOpenWorkflow(first, 'kept-across-owners');
  const refused = await start(dbFile).then(
    () => null,
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(ConfigError);
  expect((refused as Error).message).toContain(`process ${process.pid}`);
  expect((refused as Error).message).toContain('TEMPORAL_ADDRESS');
  await stopAndForget(first);
  const next = await start(dbFile);
  await withClient(next, 'persist-test', async (client) => {
    expect((await client.workflow.getHandle('kept-across-owners').describe()).status.name).toBe('RUNNING');
  });
});

test('a server left running on the file by a starter that died is waited for, then named', async () => {
  const dbFile = path.join(scratch, 'temporal.sqlite');
  // Stands for a dev server whose launcher was killed: a process with the file on its command line.
  const left = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)', '--', '--db-filename', dbFile], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = await startTemporalDevServer({ cliPath, port: 0, uiPort: null, dbFile, namespace: 'persist-test', log: quiet, stopTimeoutMs: 500 }).then(
      (server) => (running.push(server), null),
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as Error).message).toContain(`process ${left.pid}`);
  } finally {
    left.kill('SIGKILL');
  }
  // Gone: the file is served again (the refused start left no lock behind).
  if (left.exitCode === null && left.signalCode === null) await new Promise((resolve) => left.once('exit', resolve));
  await start(dbFile);
});

test('without a file, a restart starts empty', async () => {
  const first = await start(null);
  await startOpenWorkflow(first, 'lost-on-restart');
  await stopAndForget(first);
  expect(await statusAfterRestart(null, 'lost-on-restart')).toBe('NOT_FOUND');
});

/**
 * A CLI that fails as a port taken at start does (a Go panic, exit code 2, a
 * goroutine dump) the first `failures` times, then is the real one.
 */
function flakyCli(failures: number): { cliPath: string; runs: () => number } {
  const counter = path.join(scratch, 'runs');
  const script = path.join(scratch, 'flaky-temporal');
  fs.writeFileSync(
    script,
    `#!/bin/sh
echo run >> '${counter}'
if [ "$(wc -l < '${counter}')" -le ${failures} ]; then
  echo 'panic: listen tcp 127.0.0.1:7235: bind: address already in use' >&2
  for i in $(seq 1 40); do echo "goroutine $i [running]:" >&2; done
  exit 2
fi
exec '${cliPath}' "$@"
`,
    { mode: 0o755 },
  );
  return { cliPath: script, runs: () => (fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8').trim().split('\n').length : 0) };
}

test('on ports it picked, a server that dies at start is started again on other ports, and the reason is logged', async () => {
  const cli = flakyCli(2);
  const lines: string[] = [];
  const server = await startTemporalDevServer({ cliPath: cli.cliPath, port: 0, uiPort: null, dbFile: null, namespace: 'retry-test', log: (m) => lines.push(m) });
  running.push(server);
  expect(cli.runs()).toBe(3);
  const retries = lines.filter((l) => l.includes('Trying again on other ports'));
  expect(retries).toHaveLength(2);
  expect(retries[0]).toMatch(/exited \(code 2\): panic: listen tcp 127\.0\.0\.1:7235: bind: address already in use/);
  const status = await withClient(server, 'retry-test', async (client) => {
    await client.workflow.start('neverPolled', { taskQueue: 'nobody-polls-this', workflowId: 'after-retries' });
    return (await client.workflow.getHandle('after-retries').describe()).status.name;
  });
  expect(status).toBe('RUNNING');
});

test('a picked port is kept from the kernel\'s own picks until the server binds it (TIME_WAIT), and an explicit bind still gets it', async () => {
  const port = await freePort();
  // /proc/net/tcp: "sl local_address rem_address st ...", addresses as HEXIP:HEXPORT, st 06 = TIME_WAIT.
  const waiting = fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '06')
    .map((fields) => parseInt(fields[1]!.split(':')[1]!, 16));
  expect(waiting).toContain(port);
  // The server we start on it binds it at once (SO_REUSEADDR, as Go's listeners and Node's set it).
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  await new Promise((resolve) => server.close(resolve));
});

test('on a port the caller chose, a server that dies at start is not retried, and the error says why', async () => {
  const cli = flakyCli(5);
  const port = await freePort();
  const attempt = startTemporalDevServer({ cliPath: cli.cliPath, port, uiPort: null, dbFile: null, namespace: 'x', log: quiet });
  await expect(attempt).rejects.toThrow(/exited \(code 2\): panic: listen tcp 127\.0\.0\.1:7235: bind: address already in use/);
  expect(cli.runs()).toBe(1);
});

test('a busy port is refused in one sentence', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as net.AddressInfo;
  try {
    const attempt = startTemporalDevServer({ cliPath, port, uiPort: null, dbFile: null, namespace: 'x', log: quiet });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(`Temporal port ${port} is already in use`);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('the server dies with the process that started it, even by SIGKILL', async () => {
  const fixture = path.join(__dirname, 'fixtures', 'server-then-wait.ts');
  const parent = spawn(process.execPath, ['--import', 'tsx', fixture, cliPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    parent.on('exit', (code) => reject(new Error(`fixture exited early (${code})`)));
  });
  const { address, pid } = JSON.parse(line) as { address: string; pid: number };
  const [host, port] = address.split(':');
  expect(await accepts(host!, Number(port))).toBe(true);

  parent.kill('SIGKILL');
  // Give the launcher up to 30 s to notice and take the server down.
  let closed = false;
  for (let attempt = 0; attempt < 150 && !closed; attempt++) {
    closed = !alive(pid) && !(await accepts(host!, Number(port)));
    if (!closed) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(closed).toBe(true);
});

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The first child process of `pid` (a launcher's server). */
async function childOf(pid: number): Promise<number> {
  const out = await new Promise<string>((resolve) => {
    const ps = spawn('pgrep', ['-P', String(pid)], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    ps.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    ps.on('exit', () => resolve(text));
  });
  return Number(out.trim().split('\n')[0]);
}

/**
 * The workflow's status once a kept-running server answers again and its
 * restart has seen the new server ready (it polls): a new launcher; '' if
 * that did not happen within a minute.
 */
async function statusOnceRestarted(server: TemporalDevServer, firstLauncher: number, workflowId: string): Promise<string> {
  let status = '';
  for (let attempt = 0; attempt < 300 && (status !== 'RUNNING' || server.pid === firstLauncher); attempt++) {
    status = await withClient(server, 'persist-test', async (client) => (await client.workflow.getHandle(workflowId).describe()).status.name).catch(() => '');
    if (status !== 'RUNNING' || server.pid === firstLauncher) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return status;
}

test('kept running (`restart`): a server killed after it was ready is started again at the same address, on the same file; stop ends it for good', async () => {
  // `npm start`'s own server: killed (kill -9, a crash), every wizard would wait on it forever.
  const dbFile = path.join(scratch, 'temporal.sqlite');
  const logged: string[] = [];
  const server = await startTemporalDevServer({ cliPath, port: 0, uiPort: null, dbFile, namespace: 'persist-test', log: (line) => logged.push(line), restart: true });
  running.push(server);
  await startOpenWorkflow(server, 'kept-across-a-crash');
  const firstLauncher = server.pid;
  const [host, port] = server.address.split(':');

  // The server itself dies, not the launcher (as when the temporal process is killed).
  const serverPid = await childOf(firstLauncher);
  expect(serverPid).toBeGreaterThan(0);
  process.kill(serverPid, 'SIGKILL');
  for (let attempt = 0; attempt < 100 && alive(firstLauncher); attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(alive(firstLauncher)).toBe(false);

  expect(await statusOnceRestarted(server, firstLauncher, 'kept-across-a-crash')).toBe('RUNNING');
  expect(server.pid).not.toBe(firstLauncher);
  expect(logged.join('\n')).toMatch(/exited unexpectedly[\s\S]*starting it again/i);

  await stopAndForget(server);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect(alive(server.pid)).toBe(false);
  expect(await accepts(host!, Number(port))).toBe(false);
}, 120_000);

test('kept running: its launcher killed, the server it leaves behind is ended and a new one started; nothing is left after stop', async () => {
  // Found by review: the orphaned server kept the port, and every restart failed with "port in use".
  const dbFile = path.join(scratch, 'temporal.sqlite');
  const server = await startTemporalDevServer({ cliPath, port: 0, uiPort: null, dbFile, namespace: 'persist-test', log: quiet, restart: true });
  running.push(server);
  await startOpenWorkflow(server, 'kept-across-a-launcher-kill');
  const firstLauncher = server.pid;
  const orphan = await childOf(firstLauncher);
  expect(orphan).toBeGreaterThan(0);
  process.kill(firstLauncher, 'SIGKILL');

  expect(await statusOnceRestarted(server, firstLauncher, 'kept-across-a-launcher-kill')).toBe('RUNNING');
  expect(server.pid).not.toBe(firstLauncher);
  expect(alive(orphan)).toBe(false);

  const [host, port] = server.address.split(':');
  await stopAndForget(server);
  for (let attempt = 0; attempt < 50 && (await accepts(host!, Number(port))); attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await accepts(host!, Number(port))).toBe(false);
  expect(alive(server.pid)).toBe(false);
}, 120_000);
