// The worker as its own process (docker-compose `worker`, tests that kill it).
// The Temporal runtime shuts the worker down gracefully on SIGINT/SIGTERM.
import { ConfigError, loadConfig } from '../infra/config';
import { ensureDatabase } from '../infra/database';
import { runWorker } from './index';

async function main() {
  const config = loadConfig();
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
