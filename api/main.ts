// The API as a process of its own (the worker runs elsewhere):
//   DATABASE_URL=postgresql://… TEMPORAL_ADDRESS=host:7233 npx tsx api/main.ts
import { ConfigError, loadConfig } from '../infra/config';
import { withPayloadKeys } from '../infra/codec';
import { processLogger } from '../infra/logger';
import { setupTracing } from '../infra/tracing';
import { ensureDatabase } from '../infra/database';
import { requireMigrated } from '../infra/migrate';
import { startApi } from './index';

async function main(): Promise<void> {
  const config = withPayloadKeys(loadConfig());
  if (!config.DATABASE_URL) {
    throw new ConfigError('DATABASE_URL is not set: the standalone API needs a database (npm start runs the embedded one).');
  }
  // A database that does not answer is one sentence now, not a server answering 500s (as the worker does).
  await ensureDatabase(config);
  await requireMigrated(config.DATABASE_URL);
  const logger = processLogger(config, 'api');
  const tracing = setupTracing(config, { logger });
  const api = await startApi({ config, databaseUrl: config.DATABASE_URL });
  logger.info(`API listening on ${api.url} (docs at ${api.url}/docs)`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      api.close().then(
        () => (tracing?.shutdown() ?? Promise.resolve()).finally(() => process.exit(0)),
        (err: unknown) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
