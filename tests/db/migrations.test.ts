// prisma/migrations: Prisma's layout, applied by infra/migrate.ts like
// `prisma migrate deploy` to fresh databases (the embedded PGlite always, and
// PostgreSQL when DATABASE_URL names a server), building exactly what
// schema.prisma describes according to Prisma's own (wasm) schema engine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { checksum, migrate, MigrationError, readMigrations } from '../../infra/migrate';
import { DATABASE_KINDS, freshDatabase, type FreshDatabase, lastJson, ROOT, runTs } from './helpers';

const MIGRATIONS = path.join(ROOT, 'prisma', 'migrations');
const localNames = readMigrations(MIGRATIONS).map((m) => m.name);
const firstName = localNames[0]!;

const tmpDirs: string[] = [];
function copyOfMigrations(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-migrations-'));
  tmpDirs.push(dir);
  fs.cpSync(MIGRATIONS, dir, { recursive: true });
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function rows<T extends object>(url: string, sql: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

const tablesAndColumns = (url: string) =>
  rows<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
    url,
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );

test('the migrations folder has Prisma layout: a PostgreSQL lockfile and <14-digit timestamp>_<name>/migration.sql', () => {
  expect(fs.readFileSync(path.join(MIGRATIONS, 'migration_lock.toml'), 'utf8')).toMatch(/^provider = "postgresql"$/m);
  expect(localNames.length).toBeGreaterThan(0);
  for (const name of localNames) {
    expect(name).toMatch(/^\d{14}_[a-z0-9_]+$/);
    expect(fs.existsSync(path.join(MIGRATIONS, name, 'migration.sql'))).toBe(true);
  }
});

describe.each(DATABASE_KINDS)('migrate() on a fresh %s database', (kind) => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase(kind);
  });
  afterAll(async () => {
    await db?.drop();
  });

  test('applies every migration to an empty database, recording them as Prisma does; a second run applies nothing', async () => {
    const logs: string[] = [];
    expect(await migrate(db.url, (m) => logs.push(m))).toEqual({ applied: localNames });
    expect(logs).toContain(`applying migration ${firstName}`);

    const recorded = await rows<{ migration_name: string; checksum: string; done: boolean; rolled_back: boolean; applied_steps_count: number }>(
      db.url,
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS done, rolled_back_at IS NOT NULL AS rolled_back, applied_steps_count
       FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(recorded).toEqual(
      localNames.map((name) => ({
        migration_name: name,
        checksum: checksum(fs.readFileSync(path.join(MIGRATIONS, name, 'migration.sql'), 'utf8')),
        done: true,
        rolled_back: false,
        applied_steps_count: 1,
      })),
    );
    const tables = new Set((await tablesAndColumns(db.url)).map((c) => c.table_name));
    for (const t of ['workspaces', 'users', 'api_tokens', 'leads', 'automations', 'automation_members', 'integrations', 'integration_members', 'labels', 'label_members', 'deletions', 'lead_moves', 'lead_move_streams', 'audit_events', 'scim_tokens', 'webhook_deliveries']) {
      expect(tables).toContain(t);
    }
    // Dropped once nothing read or wrote it (the HR hook joins the user's open wizard).
    expect(tables).not.toContain('hr_offboardings');

    expect(await migrate(db.url)).toEqual({ applied: [] });
    expect((await rows<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM _prisma_migrations'))[0]!.n).toBe(localNames.length);
  });

  test('an applied migration whose file was edited is refused, and nothing after it is applied', async () => {
    const dir = copyOfMigrations();
    fs.appendFileSync(path.join(dir, firstName, 'migration.sql'), '\n-- an afterthought\n');
    fs.mkdirSync(path.join(dir, '29991231000000_later'));
    fs.writeFileSync(path.join(dir, '29991231000000_later', 'migration.sql'), 'CREATE TABLE later_table (id int);\n');
    const err = await migrate(db.url, () => {}, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toContain(`Migration ${firstName} was modified after it was applied`);
    expect(await rows(db.url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'later_table'")).toEqual([]);
  });

  test('a failing migration is rolled back whole and retried once fixed', async () => {
    const dir = copyOfMigrations();
    const name = '29991231000001_broken';
    fs.mkdirSync(path.join(dir, name));
    const file = path.join(dir, name, 'migration.sql');
    fs.writeFileSync(file, 'CREATE TABLE half_done (id int);\nSELECT 1 / 0;\n');
    const err = await migrate(db.url, () => {}, { migrationsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(new RegExp(`Migration ${name} failed and was rolled back \\(division by zero\\)`));
    expect(await rows(db.url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'")).toEqual([]);
    expect(await rows(db.url, `SELECT logs LIKE '%division by zero%' AS logged, rolled_back_at IS NOT NULL AS rolled_back, finished_at FROM _prisma_migrations WHERE migration_name = '${name}'`)).toEqual([
      { logged: true, rolled_back: true, finished_at: null },
    ]);

    fs.writeFileSync(file, 'CREATE TABLE half_done (id int);\n');
    expect(await migrate(db.url, () => {}, { migrationsDir: dir })).toEqual({ applied: [name] });
    expect(await rows(db.url, "SELECT 1 AS present FROM information_schema.tables WHERE table_name = 'half_done'")).toEqual([{ present: 1 }]);
  });
});

if (DATABASE_KINDS.includes('PostgreSQL')) {
  test('PostgreSQL and the embedded PGlite get the same tables, columns, types and defaults', async () => {
    const pg = await freshDatabase('PostgreSQL');
    const lite = await freshDatabase('PGlite');
    try {
      await migrate(pg.url);
      await migrate(lite.url);
      const onPg = await tablesAndColumns(pg.url);
      expect(onPg.length).toBeGreaterThan(50);
      expect(await tablesAndColumns(lite.url)).toEqual(onPg);
    } finally {
      await pg.drop();
      await lite.drop();
    }
  });
}

// Prisma's schema engine (wasm) in a child process: it cannot load inside jest's sandbox.
interface Check {
  appliedFirst: string[];
  appliedSecond: string[];
  drift: string;
  history: { editedMigrationNames: string[]; failedMigrationNames: string[]; hasMigrationsTable: boolean; history: unknown };
}

test("Prisma's engine finds no drift from schema.prisma and accepts our _prisma_migrations rows", () => {
  const check = lastJson<Check>(runTs('scripts/db-engine.ts', ['check']));
  expect(check.appliedFirst).toEqual(localNames);
  expect(check.appliedSecond).toEqual([]);
  expect(check.drift).toBe('');
  expect(check.history).toEqual({ editedMigrationNames: [], failedMigrationNames: [], hasMigrationsTable: true, history: null });
});

test("the same check reports a schema change as drift, and Prisma's engine sees an edited migration as edited", () => {
  const dir = copyOfMigrations();
  fs.appendFileSync(path.join(dir, firstName, 'migration.sql'), '\n-- an afterthought\n');
  const schema = path.join(dir, 'schema.prisma');
  fs.writeFileSync(
    schema,
    fs.readFileSync(path.join(ROOT, 'prisma', 'schema.prisma'), 'utf8').replace(/(model Workspace \{\n)/, '$1  extraNote String? @map("extra_note")\n'),
  );
  const check = lastJson<Check>(runTs('scripts/db-engine.ts', ['check', '--schema', schema, '--diagnose', dir]));
  expect(check.drift).toMatch(/ALTER TABLE "workspaces" ADD COLUMN\s+"extra_note" TEXT/);
  expect(check.history.editedMigrationNames).toEqual([firstName]);
});
