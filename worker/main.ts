// The worker as its own process (docker-compose `worker`, tests that kill it).
// The Temporal runtime shuts the worker down gracefully on SIGINT/SIGTERM.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../infra/config';
import { withPayloadKeys } from '../infra/codec';
import { setupTracing } from '../infra/tracing';
import { ensureDatabase } from '../infra/database';
import { runWorker } from './index';
import { coreTelemetry, freeLoopbackAddress, serveWorkerMetrics, type MetricsServer } from './metrics';

const SDK_LEVEL: Record<Config['LOG_LEVEL'], LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

async function main() {
  const config = withPayloadKeys(loadConfig());
  const tracing = setupTracing(config);
  const coreAddress = config.WORKER_METRICS_PORT ? await freeLoopbackAddress() : undefined;
  Runtime.install({
    logger: new DefaultLogger(SDK_LEVEL[config.LOG_LEVEL]),
    ...(coreAddress ? { telemetryOptions: coreTelemetry(coreAddress) } : {}),
  });
  let metrics: MetricsServer | undefined;
  if (config.WORKER_METRICS_PORT) {
    metrics = await serveWorkerMetrics({ host: config.HOST, port: config.WORKER_METRICS_PORT, ...(coreAddress ? { coreAddress } : {}) }).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`The worker cannot serve metrics on ${config.HOST}:${config.WORKER_METRICS_PORT} (${err.code ?? err.message}): set WORKER_METRICS_PORT to a free port, or 0 for none.`);
    });
    console.log(JSON.stringify({ level: 30, time: Date.now(), msg: `worker metrics on ${metrics.url}` }));
  }
  const database = await ensureDatabase(config, (msg) => console.log(msg));
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
