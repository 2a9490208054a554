// Applies prisma/migrations/*/migration.sql the way `prisma migrate deploy`
// does: Prisma's `_prisma_migrations` table (same columns), one row per
// migration with the sha256 of its script, applied in directory-name order,
// already-applied migrations skipped, and an applied migration whose file has
// changed since is an error.
//
// Why a small runner and not the engine: the Prisma 7 CLI needs the native
// schema engine, which cannot be downloaded here. The wasm schema engine
// (scripts/db-engine.ts) can apply migrations through a driver adapter, but
// its schema reads through @prisma/adapter-pg fail on PostgreSQL 15 ("Column
// type 'char' could not be deserialized"), and it would make every start
// depend on a 5 MB wasm module. This runner needs only `pg`, works on real
// PostgreSQL and on the embedded socket server alike, and its bookkeeping is
// checked against the engine by tests/db/migrations.test.ts
// (diagnoseMigrationHistory sees nothing pending, edited or failed).
//
// Two deliberate differences from Prisma, both on the safe side:
//   - Each script runs inside BEGIN/COMMIT together with its bookkeeping row
//     (Prisma sends it as one multi-statement query, which PostgreSQL also runs
//     as one implicit transaction). Scripts that manage transactions themselves
//     (BEGIN/COMMIT inside) run unwrapped, as Prisma would run them.
//   - A failing script is rolled back, and its row is recorded with the error
//     in `logs` and `rolled_back_at` set (the state `prisma migrate resolve
//     --rolled-back` gives), so the next run retries it once it is fixed.
//     A row left unfinished and not rolled back (Prisma's own failure state)
//     stops the runner, as Prisma does (P3009).
// Concurrency: PostgreSQL's session advisory lock 72707369 (Prisma's) on a real
// server; on the embedded server, where all clients share one session, the
// transaction itself excludes the other clients (see infra/database.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { Log } from './logger';
import { ConfigError } from './config';

export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, '..', 'prisma', 'migrations');

/** Prisma's advisory lock id for migrations. */
const MIGRATION_LOCK_ID = 72707369;

export class MigrationError extends Error {
  override name = 'MigrationError';
}


interface LocalMigration {
  name: string;
  script: string;
  checksum: string;
}

interface AppliedRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  rolled_back_at: Date | null;
  logs: string | null;
}

export function checksum(script: string): string {
  return crypto.createHash('sha256').update(script, 'utf8').digest('hex');
}

/** Prisma accepts a script whose only change is its line endings (a Windows checkout). */
function sameScript(row: AppliedRow, local: LocalMigration): boolean {
  return row.checksum === local.checksum || row.checksum === checksum(local.script.replace(/\r\n/g, '\n'));
}

export function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): LocalMigration[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const file = path.join(dir, name, 'migration.sql');
      if (!fs.existsSync(file)) throw new MigrationError(`Migration directory ${name} has no migration.sql; add it or remove the directory.`);
      const script = fs.readFileSync(file, 'utf8');
      return { name, script, checksum: checksum(script) };
    });
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

const MANAGES_TRANSACTIONS = /^\s*(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END)\b/im;

/**
 * Applies pending migrations from `opts.migrationsDir` (default
 * prisma/migrations) to the database at `url`. Returns the names applied now.
 */
export async function migrate(
  url: string,
  log: Log = () => {},
  opts: { migrationsDir?: string } = {},
): Promise<{ applied: string[] }> {
  const local = readMigrations(opts.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const client = new Client({ connectionString: url });
  client.on('error', () => {}); // a dropped connection surfaces on the next query
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await client.query(CREATE_TABLE);
      const rows = await appliedRows(client);
      check(local, rows, log);
      for (const m of local) {
        if (await applyOne(client, m, log)) applied.push(m.name);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
  log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database schema is up to date');
  return { applied };
}

/**
 * The migrations of this release the database at `url` has not applied (none
 * table yet: all of them). A process started on a schema behind its code
 * answers 500s where a column it writes is missing (operator probe 38: every
 * Standard Webhooks delivery did), so the standalone API and worker refuse.
 */
export async function missingMigrations(url: string, local: LocalMigration[] = readMigrations()): Promise<string[]> {
  const client = new Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const table = await client.query<{ exists: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS exists`);
    if (!table.rows[0]?.exists) return local.map((m) => m.name);
    const done = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const applied = new Set(done.rows.map((row) => row.migration_name));
    return local.map((m) => m.name).filter((name) => !applied.has(name));
  } finally {
    await client.end().catch(() => {});
  }
}

/** Refuses (one sentence) a database that lacks migrations of this release. */
export async function requireMigrated(url: string): Promise<void> {
  // This release's own, read first: a missing folder is said as such, not as the database's fault.
  const local = readMigrations();
  const missing = await missingMigrations(url, local).catch((err: unknown) => {
    const reason = ((err as Error).message || (err as NodeJS.ErrnoException).code || String(err)).replace(/\.$/, '');
    throw new ConfigError(`Cannot read which migrations the database at DATABASE_URL has applied (${reason}); fix DATABASE_URL or its role's rights, then start again.`);
  });
  if (missing.length === 0) return;
  throw new ConfigError(
    `The database at DATABASE_URL lacks ${missing.length} migration(s) of this release (${missing.length > 3 ? `${missing.slice(0, 3).join(', ')}, …` : missing.join(', ')}): ` +
      'run them first (npm run db:migrate, or the release\'s migrate Job), then start again.',
  );
}

async function appliedRows(client: Client): Promise<AppliedRow[]> {
  const res = await client.query<AppliedRow>(
    'SELECT id, checksum, finished_at, migration_name, rolled_back_at, logs FROM "_prisma_migrations" ORDER BY started_at, migration_name',
  );
  return res.rows;
}

function check(local: LocalMigration[], rows: AppliedRow[], log: Log): void {
  const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
  if (failed) {
    throw new MigrationError(
      `Migration ${failed.migration_name} failed earlier and is recorded as unfinished in _prisma_migrations; repair the database, then mark it rolled back (set rolled_back_at) or applied (set finished_at) and run the migrations again.`,
    );
  }
  const byName = new Map(local.map((m) => [m.name, m]));
  for (const row of rows) {
    if (row.finished_at === null || row.rolled_back_at !== null) continue;
    const m = byName.get(row.migration_name);
    if (!m) {
      log(`warning: migration ${row.migration_name} is applied in the database but missing from the migrations folder`, 'warn');
      continue;
    }
    if (!sameScript(row, m)) {
      throw new MigrationError(
        `Migration ${m.name} was modified after it was applied (its checksum differs from the one recorded in _prisma_migrations); restore its original migration.sql and put the change in a new migration.`,
      );
    }
  }
}

/** Applies one migration unless already applied; true when applied now. */
async function applyOne(client: Client, m: LocalMigration, log: Log): Promise<boolean> {
  const wrap = !MANAGES_TRANSACTIONS.test(m.script);
  const id = crypto.randomUUID();
  if (wrap) await client.query('BEGIN');
  try {
    // Re-read inside the transaction: on the embedded server it is what keeps
    // another client from applying the same migration at the same time.
    const done = await client.query<AppliedRow>(
      'SELECT id, checksum, finished_at, migration_name, rolled_back_at, logs FROM "_prisma_migrations" WHERE migration_name = $1 AND finished_at IS NOT NULL AND rolled_back_at IS NULL',
      [m.name],
    );
    if (done.rows.length > 0) {
      if (wrap) await client.query('COMMIT');
      if (!sameScript(done.rows[0]!, m)) throw new MigrationError(`Migration ${m.name} was modified after it was applied; restore its original migration.sql.`);
      return false;
    }
    log(`applying migration ${m.name}`);
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, started_at, migration_name, applied_steps_count) VALUES ($1, $2, now(), $3, 0)',
      [id, m.checksum, m.name],
    );
    await client.query(m.script);
    await client.query(
      'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = applied_steps_count + 1 WHERE id = $1',
      [id],
    );
    if (wrap) await client.query('COMMIT');
    return true;
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    const reason = (err as Error).message;
    if (wrap) {
      await client.query('ROLLBACK').catch(() => {});
      await client
        .query(
          'INSERT INTO "_prisma_migrations" (id, checksum, started_at, migration_name, logs, rolled_back_at, applied_steps_count) VALUES ($1, $2, now(), $3, $4, now(), 0)',
          [id, m.checksum, m.name, reason],
        )
        .catch(() => {});
      throw new MigrationError(`Migration ${m.name} failed and was rolled back (${reason}); fix its migration.sql and run the migrations again.`);
    }
    await client.query('UPDATE "_prisma_migrations" SET logs = $1 WHERE id = $2', [reason, id]).catch(() => {});
    throw new MigrationError(
      `Migration ${m.name} failed (${reason}) and may be partly applied; repair the database, then mark it in _prisma_migrations and run the migrations again.`,
    );
  }
}
