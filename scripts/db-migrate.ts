// npm run db:migrate: applies pending prisma/migrations to DATABASE_URL, or to
// the embedded database (reusing the running service's server when there is one).
import { loadConfig } from '../infra/config';
import { ensureDatabase } from '../infra/database';
import { migrate } from '../infra/migrate';

async function main(): Promise<void> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const db = await ensureDatabase(loadConfig(), log);
  try {
    const { applied } = await migrate(db.url, log);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'no pending migrations\n');
  } finally {
    await db.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.name === 'ConfigError' || err.name === 'MigrationError' ? err.message : err.stack}\n`);
  process.exit(1);
});
