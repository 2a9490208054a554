// The worker as its own process (docker-compose `worker`, tests that kill it).
// The Temporal runtime shuts the worker down gracefully on SIGINT/SIGTERM.
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../infra/config';
import { processLogger, sentenceLog } from '../infra/logger';
import { withPayloadKeys } from '../infra/codec';
import { setupTracing } from '../infra/tracing';
import { ensureDatabase } from '../infra/database';
import { requireMigrated } from '../infra/migrate';
import { runWorker } from './index';
import { runtimeLogging } from './logging';
import { coreTelemetry, freeLoopbackAddress, serveWorkerMetrics, type MetricsServer } from './metrics';

async function main() {
  const config = withPayloadKeys(loadConfig());
  // Told of a Temporal server, it serves that server's wizards: on their database, never a private embedded one.
  if ((config.TEMPORAL_ADDRESS || config.TEMPORAL_CONFIG_FILE) && !config.DATABASE_URL) {
    throw new ConfigError(
      `DATABASE_URL is not set: with ${config.TEMPORAL_ADDRESS ? 'TEMPORAL_ADDRESS' : 'TEMPORAL_CONFIG_FILE'} the worker needs the database the API uses (npm start runs the embedded one).`,
    );
  }
  // JSON lines on stdout, the SDK's (workflows', activities') among them.
  const logger = processLogger(config, 'worker');
  const tracing = setupTracing(config, { logger });
  const coreAddress = config.WORKER_METRICS_PORT ? await freeLoopbackAddress() : undefined;
  const { logger: sdk, logging } = runtimeLogging(logger, config.LOG_LEVEL);
  Runtime.install({ logger: sdk, telemetryOptions: { logging, ...(coreAddress ? coreTelemetry(coreAddress) : {}) } });
  let metrics: MetricsServer | undefined;
  if (config.WORKER_METRICS_PORT) {
    metrics = await serveWorkerMetrics({ host: config.HOST, port: config.WORKER_METRICS_PORT, ...(coreAddress ? { coreAddress } : {}) }).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`The worker cannot serve metrics on ${config.HOST}:${config.WORKER_METRICS_PORT} (${err.code ?? err.message}): set WORKER_METRICS_PORT to a free port, or 0 for none.`);
    });
    logger.info(`worker metrics on ${metrics.url}`);
  }
  const database = await ensureDatabase(config, sentenceLog(logger));
  // Its own database (npm start's embedded one) is migrated by whoever serves it; a real one by the release.
  if (config.DATABASE_URL) await requireMigrated(config.DATABASE_URL);
  try {
    await runWorker({ config, databaseUrl: database.url, embedded: database.embedded, workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined });
  } finally {
    await metrics?.close();
    await tracing?.shutdown();
    await database.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
