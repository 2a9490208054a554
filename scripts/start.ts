// `npm start`: the whole service in one process, on one machine, with no
// setup: the database (embedded PGlite under DATA_DIR unless DATABASE_URL is
// set), migrations, demo data, a Temporal dev server persisted to
// DATA_DIR/temporal.sqlite (unless TEMPORAL_ADDRESS is set), the worker and
// the API. Ctrl-C stops everything it started, in reverse order; the next
// start finds all data where it was.
import path from 'node:path';
import { Runtime } from '@temporalio/worker';
import { startApi } from '../api/server';
import { type Config, ConfigError, loadConfig } from '../infra/config';
import { createPrisma, ensureDatabase } from '../infra/database';
import { processLogger, type Log } from '../infra/logger';
import { withPayloadKeys } from '../infra/codec';
import { setupTracing } from '../infra/tracing';
import { migrate } from '../infra/migrate';
import { findTemporalCli } from '../infra/temporal-cli';
import { temporalConnectOptions } from '../infra/temporal-connection';
import { ensureNamespace } from '../infra/temporal-namespace';
import { startTemporalDevServer } from '../infra/temporal-server';
import { createApiToken } from '../infra/tokens';
import { createWorker, stopIfRunning } from '../worker/index';
import { runtimeLogging } from '../worker/logging';
import { coreTelemetry, freeLoopbackAddress, serveWorkerMetrics } from '../worker/metrics';
import { seedDemo } from './seed';

const DEMO_ADMIN_EMAIL = 'admin@demo.test';

/** Progress on stdout; what went wrong (a `warn` sentence) on stderr. */
const log: Log = (message, level = 'info') => (level === 'warn' ? console.error : console.log)(`[start] ${message}`);

type Stop = { name: string; stop: () => Promise<void> };

async function main(): Promise<void> {
  const stops: Stop[] = [];
  let stopping: Promise<void> | null = null;
  let firstSignalAt = 0;

  /** Stops what has started, newest first; false when something failed to stop. */
  const stopAll = (reason: string): Promise<boolean> => {
    const run = (async () => {
      log(`${reason}: stopping…`);
      let clean = true;
      for (const { name, stop } of stops.splice(0).reverse()) {
        try {
          await stop();
          log(`  ${name} stopped`);
        } catch (err) {
          console.error(`[start]   stopping ${name} failed: ${(err as Error).message}`);
          clean = false;
        }
      }
      return clean;
    })();
    stopping = run.then(() => undefined);
    return run;
  };

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (!stopping) {
        firstSignalAt = now;
        void stopAll(signal).then((clean) => process.exit(clean ? 0 : 1));
      } else if (now - firstSignalAt > 2_000) {
        // The same Ctrl-C can arrive twice (from the terminal and from
        // bootstrap.mjs); only a later one means "stop waiting".
        console.error(`[start] ${signal} again: exiting without waiting for a clean stop.`);
        process.exit(130);
      }
    });
  }

  try {
    await startEverything(loadConfig(), stops, (reason) => {
      if (!stopping) void stopAll(reason).then(() => process.exit(1));
    });
  } catch (err) {
    if (stops.length && !stopping) await stopAll('Start failed');
    throw err;
  }
}

async function startEverything(settings: Config, stops: Stop[], fatal: (reason: string) => void): Promise<void> {
  // Find (or build) the CLI first: a missing one is a one-line refusal before
  // anything else has started.
  const cliPath = settings.TEMPORAL_ADDRESS ? null : await findTemporalCli(settings, log);
  // Then the payload key: refused in production without one; in embedded
  // mode made once in DATA_DIR (only after the checks that create nothing).
  const baseConfig = withPayloadKeys(settings);

  const db = await ensureDatabase(baseConfig, log);
  stops.push({ name: db.embedded ? 'embedded PostgreSQL (PGlite)' : 'database connection', stop: () => db.stop() });
  const { applied } = await migrate(db.url, log);
  if (applied.length) log(`Applied ${applied.length} migration(s).`);

  const prisma = createPrisma(db.url);
  stops.push({ name: 'Prisma client', stop: () => prisma.$disconnect() });
  await seedDemo(prisma, log);

  let config = baseConfig;
  let uiUrl: string | null = null;
  if (cliPath) {
    const temporal = await startTemporalDevServer({
      cliPath,
      port: baseConfig.TEMPORAL_PORT,
      uiPort: baseConfig.TEMPORAL_UI_PORT,
      dbFile: path.join(baseConfig.DATA_DIR, 'temporal.sqlite'),
      namespace: baseConfig.TEMPORAL_NAMESPACE,
      log,
      // Killed or crashed, it is started again on the same file: the worker and the API reconnect.
      restart: true,
    });
    stops.push({ name: 'Temporal dev server', stop: temporal.stop });
    config = { ...baseConfig, TEMPORAL_ADDRESS: temporal.address };
    uiUrl = temporal.uiUrl;
  } else {
    log(`Using the Temporal server at ${baseConfig.TEMPORAL_ADDRESS} (namespace ${baseConfig.TEMPORAL_NAMESPACE}).`);
    const connection = temporalConnectOptions(baseConfig);
    await ensureNamespace({ address: connection.address, namespace: connection.namespace, connection, log });
  }

  // We stop the worker ourselves, after the API (the runtime would otherwise
  // start shutting it down on the same Ctrl-C, while requests still arrive).
  // One tracer for the API and the worker here: a failed export is said as the API's (JSON, WARN).
  const tracing = setupTracing(config, { logger: processLogger(config, 'api') });
  if (tracing) stops.push({ name: 'trace exporter', stop: () => tracing.shutdown() });
  const coreMetrics = config.WORKER_METRICS_PORT ? await freeLoopbackAddress() : undefined;
  // The worker's lines are JSON, as the API's; below WARN only when asked for debug (the console is a person's).
  const { logger: sdk, logging } = runtimeLogging(processLogger(config, 'worker'), config.LOG_LEVEL === 'debug' || config.LOG_LEVEL === 'trace' ? config.LOG_LEVEL : 'warn');
  Runtime.install({ shutdownSignals: [], logger: sdk, telemetryOptions: { logging, ...(coreMetrics ? coreTelemetry(coreMetrics) : {}) } });
  let workerMetricsUrl: string | null = null;
  if (config.WORKER_METRICS_PORT) {
    const metrics = await serveWorkerMetrics({ host: config.HOST, port: config.WORKER_METRICS_PORT, ...(coreMetrics ? { coreAddress: coreMetrics } : {}) }).catch(
      (err: NodeJS.ErrnoException) => {
        throw new ConfigError(`The worker cannot serve metrics on ${config.HOST}:${config.WORKER_METRICS_PORT} (${err.code ?? err.message}): set WORKER_METRICS_PORT to a free port, or 0 for none.`);
      },
    );
    stops.push({ name: 'worker metrics', stop: metrics.close });
    workerMetricsUrl = metrics.url;
  }
  // The worker is created (its workflow bundle built) before we say "running",
  // and run here rather than through runWorker so that a stop asked for at
  // any moment after that reaches it.
  log('Starting the worker (bundling workflows) and the API…');
  const [created, api] = await Promise.all([
    createWorker({ config, databaseUrl: db.url, embedded: db.embedded }),
    startApi({ config, databaseUrl: db.url }),
  ]);
  const { worker } = created;
  let workerFinished = false;
  const workerDone = worker.run().finally(() => created.close());
  stops.push({
    name: 'worker',
    stop: async () => {
      stopIfRunning(worker);
      await workerDone;
    },
  });
  workerDone.then(
    () => {
      workerFinished = true;
    },
    (err: unknown) => {
      workerFinished = true;
      console.error(`[start] The worker stopped: ${(err as Error).message}`);
      fatal('The worker failed');
    },
  );
  stops.push({ name: 'API', stop: () => api.close() });
  if (workerFinished) throw new Error('The worker stopped as it started.');

  const token = await adminToken(prisma);
  console.log(
    [
      '',
      'CRM offboarding is running.',
      `  API            ${api.url}`,
      `  API docs       ${api.url}/docs`,
      `  Metrics        ${api.url}/metrics${workerMetricsUrl ? `, ${workerMetricsUrl} (worker)` : ''}`,
      `  Temporal UI    ${uiUrl ?? '(the server at TEMPORAL_ADDRESS has its own)'}`,
      `  Temporal       ${config.TEMPORAL_ADDRESS} (namespace ${config.TEMPORAL_NAMESPACE})`,
      `  Data           ${db.embedded ? config.DATA_DIR : 'DATABASE_URL'}`,
      '',
      token
        ? `  Admin token for ${DEMO_ADMIN_EMAIL} (shown once):\n    ${token}\n  e.g. curl -H 'Authorization: Bearer ${token}' ${api.url}/v1/users`
        : `  (no ${DEMO_ADMIN_EMAIL} user in this database, so no token was made)`,
      '',
      'Ctrl-C stops everything; the next start keeps all data.',
      '',
    ].join('\n'),
  );
}

/** A fresh API token for the demo admin, so a first run can be tried with curl at once. */
async function adminToken(prisma: ReturnType<typeof createPrisma>): Promise<string | null> {
  const admin = await prisma.user.findFirst({
    where: { email: DEMO_ADMIN_EMAIL, status: 'ACTIVE' },
    orderBy: { createdAt: 'asc' },
  });
  if (!admin) return null;
  return createApiToken(prisma, {
    workspaceId: admin.workspaceId,
    userId: admin.id,
    label: `npm start ${new Date().toISOString()}`,
  });
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(err);
  }
  process.exit(1);
});
