// The worker as its own process (docker-compose `worker`, tests that kill it).
// The Temporal runtime shuts the worker down gracefully on SIGINT/SIGTERM.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../infra/config';
import { withPayloadKeys } from '../infra/codec';
import { ensureDatabase } from '../infra/database';
import { runWorker } from './index';

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
  Runtime.install({ logger: new DefaultLogger(SDK_LEVEL[config.LOG_LEVEL]) });
  const database = await ensureDatabase(config, (msg) => console.log(msg));
  try {
    await runWorker({ config, databaseUrl: database.url, workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined });
  } finally {
    await database.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
