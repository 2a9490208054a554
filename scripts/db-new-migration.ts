// npm run db:migration -- --name <name>
// Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that
// takes the current migrations to prisma/schema.prisma, computed offline by the
// wasm schema engine on an in-process PGlite shadow database (scripts/db-engine.ts).
// Then: review the SQL, `npm run db:generate`, `npm run db:migrate`.
import fs from 'node:fs';
import path from 'node:path';
import { diffMigrationsToSchema, LOCKFILE_CONTENT, MIGRATIONS_DIR } from './db-engine';

function usage(): never {
  process.stderr.write('usage: npm run db:migration -- --name <name> [--migrations DIR] [--schema FILE]\n');
  process.exit(2);
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const rawName = arg('name');
  if (!rawName) usage();
  const name = rawName.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  if (!name) usage();
  const migrationsDir = path.resolve(arg('migrations') ?? MIGRATIONS_DIR);
  const schemaPath = arg('schema') ? path.resolve(arg('schema')!) : undefined;

  const sql = await diffMigrationsToSchema({ migrationsDir, schemaPath });
  if (!sql) {
    process.stdout.write('prisma/schema.prisma matches the migrations; no migration written.\n');
    return;
  }
  fs.mkdirSync(migrationsDir, { recursive: true });
  const lock = path.join(migrationsDir, 'migration_lock.toml');
  if (!fs.existsSync(lock)) fs.writeFileSync(lock, LOCKFILE_CONTENT);
  let stamp = timestamp();
  // Keep directory names strictly increasing even when two run in one second.
  const last = fs.readdirSync(migrationsDir).filter((d) => /^\d{14}_/.test(d)).sort().pop();
  if (last && last.slice(0, 14) >= stamp) stamp = String(BigInt(last.slice(0, 14)) + 1n);
  const dir = path.join(migrationsDir, `${stamp}_${name}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'migration.sql'), sql);
  process.stdout.write(`wrote ${path.relative(process.cwd(), path.join(dir, 'migration.sql'))}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
