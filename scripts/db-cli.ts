// Shared plumbing of the one-shot database scripts (token, hook-secret, …):
// arguments, one-sentence errors on stderr with exit code 1, and a Prisma
// client on the database the service uses (its embedded server when it runs).
import { loadConfig } from '../infra/config';
import { createPrisma, ensureDatabase } from '../infra/database';
import type { PrismaClient } from '../generated/prisma/client';

/** A failure the user can fix; its message is printed alone. */
export class CliError extends Error {
  override name = 'CliError';
}

export function fail(message: string): never {
  throw new CliError(message);
}

/** The value after `--name` on the command line. */
export function argValue(name: string, argv = process.argv.slice(2)): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

const USER_ERRORS = new Set(['CliError', 'ConfigError', 'MigrationError']);

/**
 * Runs `fn` with a Prisma client on the configured database, then releases
 * everything; prints a user error as one line on stderr and exits 1.
 */
export async function withDatabase<T>(fn: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  let stop = async () => {};
  try {
    const db = await ensureDatabase(loadConfig(), (m) => process.stderr.write(`${m}\n`));
    stop = db.stop;
    const prisma = createPrisma(db.url, { max: 2 });
    try {
      return await fn(prisma);
    } finally {
      await prisma.$disconnect();
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    await stop().catch(() => {});
    stop = async () => {};
    if (USER_ERRORS.has(e.name)) process.stderr.write(`${e.message}\n`);
    else if (e.code === 'P2021') process.stderr.write('The database has no tables yet; run npm run db:migrate (or npm start) first.\n');
    else process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  } finally {
    await stop();
  }
}
