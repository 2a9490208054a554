// What an operator's mistakes at start get from the standalone processes
// (operator probe 38): one sentence naming the setting to fix and exit code 1,
// before anything is served or polled. Real processes (`node --import tsx`),
// the test run's own PostgreSQL and Temporal.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrations } from '../../infra/migrate';
import { freePort } from '../../infra/ports';
import { testEnv } from '../support/env';
import { freshDatabase } from '../db/helpers';

const ROOT = path.resolve(__dirname, '../..');

function run(entry: string, env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: testEnv().temporalAddress,
      DATABASE_URL: testEnv().databaseUrl,
      PAYLOAD_ENCRYPTION_KEYS: `startup=${crypto.randomBytes(32).toString('base64')}`,
      WORKER_METRICS_PORT: '0',
      HOST: '127.0.0.1',
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stderr: result.stderr.trim() };
}

/** One line, ending with a full stop: a sentence, not a stack. */
const SENTENCE = /^[^\n]+\.$/;

test('the API on a port that is taken names PORT (it printed a stack trace)', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const port = (taken.address() as net.AddressInfo).port;
    const { status, stderr } = run('api/main.ts', { PORT: String(port) });
    expect(status).toBe(1);
    expect(stderr).toMatch(SENTENCE);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(stderr).toContain('PORT');
  } finally {
    taken.close();
  }
});

test('the API with DATABASE_URL on a server that does not answer says so and stops (it started and answered 500s)', async () => {
  const { status, stderr } = run('api/main.ts', { PORT: String(await freePort()), DATABASE_URL: 'postgresql://crm:crm@127.0.0.1:1/crm' });
  expect(status).toBe(1);
  expect(stderr).toMatch(SENTENCE);
  expect(stderr).toContain('DATABASE_URL');
});

test('a worker told of a Temporal server but not of its database refuses (it polled on a private embedded one)', () => {
  // Where it would have opened its embedded database: it must not.
  const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'crm-startup-')), 'data');
  try {
    const cases: [string, Record<string, string>][] = [
      ['TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: testEnv().temporalAddress, DATABASE_URL: '' }],
      ['TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: testEnv().temporalAddress }],
      ['TEMPORAL_CONFIG_FILE', { TEMPORAL_CONFIG_FILE: path.join(dataDir, 'temporal.toml') }],
    ];
    for (const [named, env] of cases) {
      const { DATABASE_URL: _url, TEMPORAL_ADDRESS: _address, ...rest } = process.env;
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: ROOT,
        env: { ...rest, PAYLOAD_ENCRYPTION_KEYS: `startup=${crypto.randomBytes(32).toString('base64')}`, WORKER_METRICS_PORT: '0', DATA_DIR: dataDir, ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect({ env, status: result.status }).toEqual({ env, status: 1 });
      expect(result.stderr.trim()).toMatch(SENTENCE);
      expect(result.stderr).toContain('DATABASE_URL');
      expect(result.stderr).toContain(named);
      expect(result.stderr).not.toContain('embedded PostgreSQL');
      expect(fs.existsSync(dataDir)).toBe(false);
    }
  } finally {
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }
});

// Operator probe 38 D4: started on a database a migration behind (the migrate Job forgotten, or not
// done yet), both processes ran, health said ok, and every Standard Webhooks delivery answered 500.
test.each(['api/main.ts', 'worker/main.ts'])('%s on a database that lacks a migration of this release names it and stops', async (entry) => {
  const db = await freshDatabase('PGlite');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-migrations-'));
  try {
    const all = readMigrations();
    const last = all[all.length - 1]!.name;
    for (const m of all.slice(0, -1)) fs.cpSync(path.join(DEFAULT_MIGRATIONS_DIR, m.name), path.join(dir, m.name), { recursive: true });
    await migrate(db.url, () => undefined, { migrationsDir: dir });
    const { status, stderr } = run(entry, { PORT: String(await freePort()), DATABASE_URL: db.url });
    expect(status).toBe(1);
    expect(stderr).toMatch(SENTENCE);
    expect(stderr).toContain(last);
    expect(stderr).toContain('npm run db:migrate');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
});

test('the API on a database a migration ahead of it (a release rolled back) starts: only missing ones refuse', async () => {
  const db = await freshDatabase('PGlite');
  try {
    await migrate(db.url, () => undefined);
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    await pg.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) VALUES ('ahead', 'x', now(), '29991231000000_from_a_later_release', 1)`,
    );
    await pg.end();
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: testEnv().temporalAddress,
        DATABASE_URL: db.url,
        PAYLOAD_ENCRYPTION_KEYS: `startup=${crypto.randomBytes(32).toString('base64')}`,
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    const gone = () => child.exitCode !== null || child.signalCode !== null;
    try {
      // Up: it answers its health check (within 60 s), or it has exited (refused).
      let answered = false;
      for (const until = Date.now() + 60_000; !answered && !gone() && Date.now() < until; ) {
        answered = await fetch(`http://127.0.0.1:${port}/v1/health`).then(() => true, () => false);
        if (!answered) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect({ answered, err: answered ? '' : err }).toEqual({ answered: true, err: '' });
    } finally {
      if (!gone()) child.kill('SIGKILL');
    }
  } finally {
    await db.drop();
  }
}, 90_000);
