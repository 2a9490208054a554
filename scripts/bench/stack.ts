// The service under measurement, started the way it runs for real:
// - on PostgreSQL (DATABASE_URL): a Temporal dev server of the run's own (or
//   TEMPORAL_ADDRESS), a worker process (worker/main.ts) and, when asked, an
//   API process (api/main.ts): the production shape of docker-compose;
// - embedded (no DATABASE_URL): `npm start` itself (scripts/start.ts: PGlite,
//   Temporal dev server, worker and API in one process) on a fresh data folder
//   and free ports, as a new user runs it; the bench connects to its database.
// The process that runs the worker is preloaded with batch-probe.cjs, so every
// lead-move batch's server-side time lands in `batchLog`.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { PrismaClient } from '../../generated/prisma/client';
import { loadConfig, temporalAddress, type Config } from '../../infra/config';
import { withPayloadKeys } from '../../infra/codec';
import { createPrisma, ensureDatabase } from '../../infra/database';
import { migrate } from '../../infra/migrate';
import { findTemporalCli } from '../../infra/temporal-cli';
import { startTemporalDevServer } from '../../infra/temporal-server';
import { freePort } from '../../infra/ports';
import { descendantNamed, type Components } from './cpu';

import type { Log } from '../../infra/logger';

const ROOT = path.resolve(__dirname, '..', '..');
const PROBE = path.join(__dirname, 'batch-probe.cjs');

export interface Stack {
  config: Config;
  embedded: boolean;
  /** The database, as the service's processes reach it. */
  databaseUrl: string;
  /** The bench's own client (a small pool). */
  prisma: PrismaClient;
  temporal: { address: string; namespace: string; taskQueue: string };
  /** Base URL of the API, when one was asked for (always, embedded). */
  apiUrl: string | null;
  /** The process the worker runs in (RSS). */
  workerPid: number;
  /** The worker's Prometheus endpoint (with the Temporal SDK core's metrics), when it serves one. */
  workerMetricsUrl: string | null;
  /** Processes whose CPU time the bench reports (worker, API, Temporal; PostgreSQL's are found by name). */
  cpu: Components;
  /** Where batch-probe.cjs appends each batch's server-side time. */
  batchLog: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tsxProcess(script: string, env: NodeJS.ProcessEnv, log: Log, name: string, stdout: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  // BENCH_CPU_PROFILE=<dir>: each service process writes a V8 CPU profile there when it exits.
  const profile = process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROFILE)}`] : [];
  const child = spawn(process.execPath, [...profile, '--require', PROBE, '--import', 'tsx', path.join(ROOT, script)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', stdout, 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping.has(child)) log(`${name} exited unexpectedly (${signal ?? `code ${code}`})`);
  });
  return child;
}

const stopping = new WeakSet<ChildProcess>();

/** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
export async function stopProcess(child: ChildProcess, graceMs = 20_000): Promise<void> {
  stopping.add(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Waits until GET `url` answers 200 (the API's health: database and Temporal reachable). */
async function waitHealthy(url: string, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited before answering`);
    try {
      const r = await fetch(url);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within 3 minutes`);
    await sleep(250);
  }
}

export async function startStack(opts: { api: boolean; streams?: number; batch?: number | null; log: Log }): Promise<Stack> {
  const base = loadConfig();
  const { log } = opts;
  const batchLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'crm-bench-batches-')), 'batches.log');
  const tuning = {
    LEAD_MOVE_BATCH_SIZE: String(opts.batch ?? base.LEAD_MOVE_BATCH_SIZE),
    LEAD_MOVE_BATCH_TARGET_MS: String(base.LEAD_MOVE_BATCH_TARGET_MS),
    LEAD_MOVE_STREAMS: String(opts.streams ?? base.LEAD_MOVE_STREAMS),
    LEAD_MOVE_WORKER_STATEMENTS: String(base.LEAD_MOVE_WORKER_STATEMENTS),
  };
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((e: Error) => log(`stopping: ${e.message}`));
    fs.rmSync(path.dirname(batchLog), { recursive: true, force: true });
  };
  try {
    if (!base.DATABASE_URL) return await startEmbedded(base, tuning, batchLog, stops, stop, log);

    const url = base.DATABASE_URL;
    await migrate(url, log);
    const prisma = createPrisma(url, { max: 4 });
    stops.push(() => prisma.$disconnect());

    let address = base.TEMPORAL_ADDRESS ? temporalAddress(base) : undefined;
    let temporalPid: number | null = null;
    const namespace = base.TEMPORAL_ADDRESS ? base.TEMPORAL_NAMESPACE : 'crm-offboarding-bench';
    if (!address) {
      const cliPath = await findTemporalCli(base, log);
      const server = await startTemporalDevServer({ cliPath, port: 0, uiPort: null, dbFile: null, namespace, log: () => {} });
      address = server.address;
      temporalPid = descendantNamed(server.pid, 'temporal') ?? server.pid;
      stops.push(server.stop);
    }
    const taskQueue = `bench-${randomUUID()}`;
    // Payloads encrypted as in production: the configured keys, or one for this run.
    const payloadKeys = base.PAYLOAD_ENCRYPTION_KEYS ?? `bench=${randomBytes(32).toString('base64')}`;
    const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-bench-'));
    stops.push(async () => fs.rmSync(bundleDir, { recursive: true, force: true }));
    const bundlePath = path.join(bundleDir, 'workflows.js');
    log('bundling workflows');
    fs.writeFileSync(bundlePath, (
        await bundleWorkflowCode({
          workflowsPath: require.resolve('../../workflows'),
          workflowInterceptorModules: [require.resolve('../../infra/tracing-workflow')],
          logger: undefined,
        })
      ).code);

    const metricsPort = await freePort();
    const env = {
      ...process.env,
      ...tuning,
      // A port of its own: another bench, or `npm start`, may hold the default.
      WORKER_METRICS_PORT: String(metricsPort),
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      PAYLOAD_ENCRYPTION_KEYS: payloadKeys,
      LOG_LEVEL: 'warn',
    };
    const worker = tsxProcess('worker/main.ts', { ...env, WORKFLOW_BUNDLE_PATH: bundlePath, BENCH_BATCH_LOG: batchLog }, log, 'the worker');
    stops.push(() => stopProcess(worker));
    let apiUrl: string | null = null;
    let apiPid: number | null = null;
    if (opts.api) {
      const port = await freePort();
      const api = tsxProcess('api/main.ts', { ...env, HOST: '127.0.0.1', PORT: String(port) }, log, 'the API');
      stops.push(() => stopProcess(api));
      apiUrl = `http://127.0.0.1:${port}`;
      apiPid = api.pid ?? null;
      log('waiting for the API');
      await waitHealthy(`${apiUrl}/v1/health`, api, 'the API');
    }
    return {
      config: { ...base, PAYLOAD_ENCRYPTION_KEYS: payloadKeys },
      embedded: false,
      databaseUrl: url,
      prisma,
      temporal: { address, namespace, taskQueue },
      apiUrl,
      workerPid: worker.pid!,
      workerMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      cpu: { pids: { worker: worker.pid, api: apiPid, temporal: temporalPid, bench: process.pid }, postgres: true },
      batchLog,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `npm start` on a data folder of its own, free ports; the bench connects to its embedded database. */
async function startEmbedded(
  base: Config,
  tuning: Record<string, string>,
  batchLog: string,
  stops: (() => Promise<void>)[],
  stop: () => Promise<void>,
  log: Log,
): Promise<Stack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-bench-data-'));
  stops.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
  const [port, pglitePort, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...tuning,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PGLITE_PORT: String(pglitePort),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    LOG_LEVEL: 'warn',
    BENCH_BATCH_LOG: batchLog,
  };
  delete env.DATABASE_URL;
  delete env.TEMPORAL_ADDRESS;
  log(`starting npm start's service on embedded PGlite (data in ${dataDir})`);
  const app = tsxProcess('scripts/start.ts', env, log, 'npm start', 'pipe');
  app.stdout!.resume(); // its banner (and admin token) are not ours to print
  stops.push(() => stopProcess(app, 30_000));
  const apiUrl = `http://127.0.0.1:${port}`;
  await waitHealthy(`${apiUrl}/v1/health`, app, 'npm start');
  // npm start made the payload key and keeps it in DATA_DIR: the bench's client reads it there.
  const config = withPayloadKeys(loadConfig(env));
  const db = await ensureDatabase(config, log);
  const prisma = createPrisma(db.url, { max: 2 });
  stops.push(() => prisma.$disconnect());
  return {
    config,
    embedded: true,
    databaseUrl: db.url,
    prisma,
    temporal: { address: temporalAddress(config), namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE },
    apiUrl,
    workerPid: app.pid!,
    workerMetricsUrl: null,
    // One process: PGlite, the worker and the API; its Temporal dev server is its child.
    cpu: { pids: { service: app.pid, temporal: descendantNamed(app.pid!, 'temporal'), bench: process.pid }, postgres: false },
    batchLog,
    stop,
  };
}

/** Vacuum and checkpoint, so the next measurement does not pay for the last one's dirty pages. */
export async function settle(prisma: PrismaClient, log: Log): Promise<void> {
  await prisma.$executeRawUnsafe('VACUUM ANALYZE leads');
  await prisma.$executeRawUnsafe('CHECKPOINT').catch((e: Error) => log(`no CHECKPOINT (${e.message}): the role needs pg_checkpoint (GRANT pg_checkpoint TO <role>) or superuser`));
}

export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}
