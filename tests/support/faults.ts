// What the fault suite (tests/faults) needs beyond tests/support/wizard.ts:
// real processes it can kill at an exact point (a worker with a trap, see
// fault-worker.ts), a database of the test's own that it can restart, and a
// Temporal client + wizard client over any database and Temporal server.
// Every child started here is remembered; killAllChildren() ends them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ActivityCancelledError, ActivityNotFoundError, Client, Connection } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import { createWizardClient } from '../../client/wizard-client';
import type { WizardApi } from '../../client/types';
import type { PrismaClient } from '../../generated/prisma/client';
import { dataConverter } from '../../infra/codec';
import { createPrisma } from '../../infra/database';
import { freePort } from '../../infra/ports';
import type { Role } from '../../domain/schemas';
import { testConfig, testEnv } from './env';
import { makeWorkspace, type TestWorkspace } from './wizard';

export const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

const children = new Set<ChildProcess>();

/** SIGKILLs every child a fault helper started that is still running (afterAll). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => killHard(c)));
}

/** SIGKILL, then wait until the process is gone. */
export async function killHard(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  const gone = exited(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  return gone;
}

export function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? child.exitCode);
    else child.once('exit', (code, signal) => resolve(signal ?? code));
  });
}

/** A child process that speaks one JSON object per stdout line. */
export class LineChild {
  readonly child: ChildProcess;
  private readonly messages: Record<string, unknown>[] = [];
  private readonly tail: string[] = [];
  private wake: (() => void)[] = [];

  constructor(args: string[], env: NodeJS.ProcessEnv, private readonly name: string) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.once('exit', () => {
      children.delete(this.child);
      this.notify();
    });
    this.child.stdin!.on('error', () => undefined);
    let partial = '';
    this.child.stdout!.on('data', (chunk: Buffer) => {
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        try {
          this.messages.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.keep(line);
        }
      }
      this.notify();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => chunk.toString('utf8').split('\n').forEach((l) => this.keep(l)));
  }

  private keep(line: string) {
    if (!line.trim()) return;
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
  }

  private notify() {
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  /** The first message with this key (waiting for it), or a failure with the child's last words. */
  async message<T>(key: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((m) => key in m);
      if (found) return found[key] as T;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`${this.name} exited (${this.child.signalCode ?? this.child.exitCode}) before saying "${key}":\n${this.tail.join('\n')}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name} did not say "${key}" within ${timeoutMs} ms:\n${this.tail.join('\n')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1_000));
        this.wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  kill(): Promise<NodeJS.Signals | number | null> {
    return killHard(this.child);
  }
}

// ---------------------------------------------------------------------------
// Workers with a trap

export interface Trap {
  activity: 'openDeletion' | 'moveLeadsSlice' | 'removeUser' | 'finishLeadMove' | 'cancelDeletion' | 'saveDeletionState' | 'startLeadMove' | 'acknowledgeUpdate' | 'applyRouting';
  kind?: 'MOVE' | 'SWEEP';
  /** saveDeletionState only: springs on a save of a view whose leads are in this state (not an earlier save replayed). */
  viewLeads?: 'PENDING' | 'MOVING' | 'DONE';
  /** before: it has not run; after: it ran (committed) and its result is not reported yet. */
  at: 'before' | 'after';
  /** Springs on the nth matching execution (default 1). */
  nth?: number;
  /** Every matching execution from the nth on pauses, not only the nth (`release` lets all go). */
  every?: boolean;
}

export interface Paused {
  activity: string;
  at: 'before' | 'after';
  attempt: number;
  activityId: string;
  workflowId: string;
  runId: string;
  outcome?: string;
  /** A local activity: it runs inside a workflow task, not as a task of its own. */
  local?: boolean;
}

export interface FaultWorkerOptions {
  taskQueue: string;
  temporalAddress?: string;
  namespace?: string;
  databaseUrl?: string;
  batchSize: number;
  streams?: number;
  /** 0: each move slice runs one batch per stream. */
  sliceBudgetMs?: number;
  trap?: Trap;
  /** Workflow tasks never wait on this worker's sticky queue once it is dead. */
  noSticky?: boolean;
  /** One activity at a time: a paused one keeps its retry off this worker until released. */
  oneActivity?: boolean;
  /** host:port where the worker's Temporal SDK core serves Prometheus metrics (workflows' own included). */
  coreMetrics?: string;
}

export class FaultWorker extends LineChild {
  /** Waits until the trap has sprung: the worker is stopped at its point. */
  paused(timeoutMs = 60_000): Promise<Paused> {
    return this.message<Paused>('paused', timeoutMs);
  }

  release(): void {
    this.send('release');
  }
}

/** A worker process (tests/support/fault-worker.ts), ready to poll when this resolves. */
export async function startFaultWorker(o: FaultWorkerOptions): Promise<FaultWorker> {
  const worker = spawnFaultWorker(o, false);
  await worker.message('ready', 90_000);
  return worker;
}

/**
 * A warm replacement: a worker process built (bundle loaded, connections
 * open) but not polling until `take(trap)`; building takes seconds on a busy
 * machine, so a test keeps one spare ahead instead of waiting for it after a kill.
 */
export function spareFaultWorkers(o: Omit<FaultWorkerOptions, 'trap'>): {
  /** Resolves once the next spare is built, so that a later take() starts polling at once. */
  warm(): Promise<void>;
  take(trap?: Trap): Promise<FaultWorker>;
} {
  // Two being built at a time: a wizard killed at several points needs its replacements in a row.
  const pool: FaultWorker[] = [];
  const fill = () => {
    while (pool.length < 2) pool.push(spawnFaultWorker(o, true));
  };
  fill();
  return {
    async warm() {
      await pool[0]!.message('created', 90_000);
    },
    async take(trap) {
      const w = pool.shift()!;
      fill();
      await w.message('created', 90_000);
      w.send(`go ${trap ? JSON.stringify(trap) : ''}`);
      await w.message('ready', 30_000);
      return w;
    },
  };
}

function spawnFaultWorker(o: FaultWorkerOptions, spare: boolean): FaultWorker {
  const env = testEnv();
  return new FaultWorker(
    ['tests/support/fault-worker.ts'],
    {
      ...process.env,
      DATABASE_URL: o.databaseUrl ?? env.databaseUrl,
      TEMPORAL_ADDRESS: o.temporalAddress ?? env.temporalAddress,
      TEMPORAL_NAMESPACE: o.namespace ?? env.namespace,
      TEMPORAL_TASK_QUEUE: o.taskQueue,
      LEAD_MOVE_BATCH_SIZE: String(o.batchSize),
      LEAD_MOVE_BATCH_TARGET_MS: '0',
      LEAD_MOVE_STREAMS: String(o.streams ?? 1),
      WORKFLOW_BUNDLE_PATH: env.workflowBundlePath ?? '',
      LOG_LEVEL: 'error',
      FAULT_TRAP: o.trap ? JSON.stringify(o.trap) : '',
      ...(o.sliceBudgetMs !== undefined ? { FAULT_SLICE_BUDGET_MS: String(o.sliceBudgetMs) } : {}),
      ...(o.noSticky ? { FAULT_NO_STICKY: '1' } : {}),
      ...(o.oneActivity ? { FAULT_ONE_ACTIVITY: '1' } : {}),
      ...(o.coreMetrics ? { FAULT_CORE_METRICS: o.coreMetrics } : {}),
      ...(spare ? { FAULT_WAIT_GO: '1' } : {}),
    },
    `worker${o.trap ? ` (trap: ${o.trap.activity}${o.trap.kind ? ` ${o.trap.kind}` : ''} ${o.trap.at})` : spare ? ' (spare)' : ''}`,
  );
}

/**
 * Reports the attempt a killed worker was running as failed (retryable), as
 * the server itself would once the activity's start-to-close timeout (2
 * minutes for the wizard's database activities, which do not heartbeat) ran
 * out: the retry then comes in a second instead of minutes. A local activity
 * has nothing to report: the workflow task it ran in times out (10 s) and the
 * replacement runs that task again, the local activity with it.
 */
export async function failDeadAttempt(temporal: Client, p: Paused): Promise<void> {
  if (p.local) return;
  await temporal.activity.fail(
    { workflowId: p.workflowId, runId: p.runId, activityId: p.activityId },
    ApplicationFailure.retryable(`the worker running ${p.activity} was killed (SIGKILL)`, 'WorkerKilled'),
  );
}

/**
 * Heartbeats a stopped (or killed) worker's attempt from the test until
 * `release()`, as the worker did while it ran: the server keeps the attempt
 * open (its heartbeat timeout is 10 s) however long the machine takes between
 * the kill and the test's next step. A test that needs "the attempt is still
 * open when X lands" holds it until it has seen X land. The heartbeats carry
 * no details (a retry of this attempt would resume from the committed cursors,
 * without comparing them with the dead attempt's last heartbeat). A failed
 * heartbeat (the server busy) is tried again a second later; `lastError` says
 * what failed last, for a test's failure message.
 */
export function holdAttemptOpen(temporal: Client, p: Paused): { release(): Promise<void>; lastError(): unknown } {
  const id = { workflowId: p.workflowId, runId: p.runId, activityId: p.activityId };
  const released = new AbortController();
  let failed: unknown;
  const beating = (async () => {
    while (!released.signal.aborted) {
      try {
        await temporal.activity.heartbeat(id);
      } catch (err) {
        if (err instanceof ActivityNotFoundError) return; // it ended: nothing left to hold
        // A cancel requested: still open, still held. Anything else: tried again.
        if (!(err instanceof ActivityCancelledError)) failed = err;
      }
      await sleep(1_000, undefined, { signal: released.signal }).catch(() => undefined); // cut short by release()
    }
  })();
  return {
    async release() {
      released.abort();
      await beating;
    },
    lastError: () => failed,
  };
}

// ---------------------------------------------------------------------------
// Clients over any database and Temporal server

export interface FaultHarness {
  prisma: PrismaClient;
  temporal: Client;
  wizard: WizardApi;
  taskQueue: string;
  /** New database connections (after a database restart the old ones are gone). */
  reconnectDatabase(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A fault suite's setting, before all its tests: the harness, a workspace of
 * `users` with their `leads`, and warm replacement workers without a workflow
 * cache, hence no sticky queue (after a kill, workflow tasks go to the
 * replacement at once rather than after the dead worker's sticky timeout);
 * after all of them, every worker killed and the harness closed. Move slices
 * are one batch of `batchSize` per stream, so a test knows what each commits.
 */
export function faultSuite(o: { batchSize: number; users: Record<string, Role>; leads: Record<string, number> }): {
  readonly h: FaultHarness;
  readonly ws: TestWorkspace;
  worker(trap?: Trap): Promise<FaultWorker>;
  /** Resolves once the next replacement is built (see spareFaultWorkers). */
  warm(): Promise<void>;
} {
  let h: FaultHarness | undefined;
  let ws: TestWorkspace | undefined;
  let spares: ReturnType<typeof spareFaultWorkers> | undefined;
  beforeAll(async () => {
    h = await faultHarness();
    spares = spareFaultWorkers({ taskQueue: h.taskQueue, batchSize: o.batchSize, sliceBudgetMs: 0, noSticky: true });
    ws = await makeWorkspace(h.prisma, o.users, o.leads);
  });
  afterAll(async () => {
    await killAllChildren();
    await h?.close();
  });
  return {
    get h() {
      return h!;
    },
    get ws() {
      return ws!;
    },
    worker: (trap) => spares!.take(trap),
    warm: () => spares!.warm(),
  };
}

export async function faultHarness(o: { databaseUrl?: string; temporalAddress?: string; namespace?: string } = {}): Promise<FaultHarness> {
  const env = testEnv();
  const databaseUrl = o.databaseUrl ?? env.databaseUrl;
  const connection = await Connection.connect({ address: o.temporalAddress ?? env.temporalAddress });
  // The same payload codec as the workers (tests run encrypted).
  const temporal = new Client({ connection, namespace: o.namespace ?? env.namespace, dataConverter: dataConverter(testConfig()) });
  const taskQueue = `faults-${randomUUID()}`;
  // These tests drive the wizard client directly while workers are killed and replaced: the HTTP
  // contract's 10 s wait limit is not theirs.
  const wizardClient = (prisma: PrismaClient) =>
    createWizardClient({ temporal, prisma, config: { TEMPORAL_TASK_QUEUE: taskQueue }, waitLimitMs: 300_000 });
  const h: FaultHarness = {
    prisma: createPrisma(databaseUrl, { max: 4 }),
    temporal,
    wizard: undefined as unknown as WizardApi,
    taskQueue,
    async reconnectDatabase() {
      await h.prisma.$disconnect().catch(() => undefined);
      h.prisma = createPrisma(databaseUrl, { max: 4 });
      h.wizard = wizardClient(h.prisma);
    },
    async close() {
      await connection.close().catch(() => undefined);
      await h.prisma.$disconnect().catch(() => undefined);
    },
  };
  h.wizard = wizardClient(h.prisma);
  return h;
}

// ---------------------------------------------------------------------------
// A database of the test's own that it may restart

export interface ScratchDatabase {
  kind: 'PostgreSQL' | 'PGlite';
  url: string;
  /** PostgreSQL: `pg_ctl restart -m immediate` (a crash and recovery). PGlite: the serving process SIGKILLed and started again on the same files and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Is this run on a real PostgreSQL server (CI), or on the embedded PGlite? */
export async function runOnPostgres(url = testEnv().databaseUrl): Promise<boolean> {
  const c = new PgClient({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ v: string }>('SELECT version() AS v');
    return !/PGlite/i.test(rows[0]!.v);
  } finally {
    await c.end();
  }
}

function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return null;
  const versions = fs
    .readdirSync(base)
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b));
  return versions.length ? path.join(base, versions.at(-1)!, 'bin') : null;
}

/**
 * PostgreSQL when this run is on PostgreSQL (a throw-away cluster from the
 * machine's binaries, durability off, never the shared server), else PGlite
 * in a child process; migrated either way.
 */
export async function startScratchDatabase(): Promise<ScratchDatabase> {
  return (await runOnPostgres()) ? startScratchPostgres() : startScratchPglite();
}

async function startScratchPostgres(): Promise<ScratchDatabase> {
  const bin = postgresBin();
  if (!bin) {
    throw new Error('This run is on PostgreSQL, but no PostgreSQL binaries are installed (/usr/lib/postgresql/*/bin/initdb); .ci/run installs the postgresql package.');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-fault-pg-'));
  const asPg: string[] = [];
  if (process.getuid?.() === 0) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    fs.chownSync(dir, uid, gid);
    asPg.push('runuser', '-u', 'postgres', '--');
  }
  const pg = (tool: string, args: string[]) => {
    const [cmd, ...pre] = asPg.length ? [...asPg, path.join(bin, tool)] : [path.join(bin, tool)];
    return run(cmd!, [...pre, ...args], { timeout: 120_000 });
  };
  const port = await freePort();
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'postgres.log');
  await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  const ctl = (args: string[]) => pg('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', ...args]);
  const stop = async () => {
    await ctl(['-m', 'immediate', 'stop']).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ctl(['-o', options, 'start']);
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    const migrator = new LineChild(['tests/support/fault-db.ts', 'migrate', '--url', url], process.env, 'migration');
    await migrator.message('url', 120_000);
    return { kind: 'PostgreSQL', url, restart: async () => void (await ctl(['-m', 'immediate', 'restart'])), stop };
  } catch (err) {
    const why = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2_000) : '';
    await stop();
    throw new Error(`${(err as Error).message}\n${why}`);
  }
}

async function startScratchPglite(): Promise<ScratchDatabase> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-fault-pglite-'));
  const port = await freePort();
  const serve = async (first: boolean) => {
    const args = ['tests/support/fault-db.ts', 'serve', '--data-dir', path.join(dir, 'pglite'), '--port', String(port)];
    const child = new LineChild(first ? [...args, '--migrate'] : args, process.env, 'embedded database');
    const url = await child.message<string>('url', 120_000);
    return { child, url };
  };
  let current = await serve(true);
  return {
    kind: 'PGlite',
    url: current.url,
    async restart() {
      await current.child.kill();
      current = await serve(false);
    },
    async stop() {
      await current.child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Steps 2-4 with every suggestion kept (the fault suite's workspaces have no routing or labels to decide). */
export async function passRoutingSteps(wizard: WizardApi, workspaceId: string, deletionId: string, actor: { type: 'USER'; id: string }) {
  await wizard.submitAutomations(workspaceId, deletionId, actor, { overrides: [] });
  await wizard.submitIntegrations(workspaceId, deletionId, actor, { overrides: [] });
  return wizard.submitLabels(workspaceId, deletionId, actor, { replacements: [] });
}

/** Audit actions of one deletion, oldest first, with how often each was written. */
export async function auditCounts(wizard: WizardApi, workspaceId: string, deletionId: string): Promise<Record<string, number>> {
  const page = await wizard.audit(workspaceId, deletionId, { limit: 500 });
  const counts: Record<string, number> = {};
  for (const e of page.items) counts[e.action] = (counts[e.action] ?? 0) + 1;
  return counts;
}
