// Databases of a test's own: an in-memory embedded PGlite always, and a fresh
// database on DATABASE_URL's PostgreSQL server when one is configured (CI).
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { Client } from 'pg';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface FreshDatabase {
  kind: 'PGlite' | 'PostgreSQL';
  url: string;
  drop(): Promise<void>;
}

/** The kinds of database available to this run (PostgreSQL only when DATABASE_URL is set). */
export const DATABASE_KINDS: FreshDatabase['kind'][] = process.env.DATABASE_URL ? ['PGlite', 'PostgreSQL'] : ['PGlite'];

export async function freshDatabase(kind: FreshDatabase['kind']): Promise<FreshDatabase> {
  if (kind === 'PGlite') {
    const server = await holdDatabase(['serve']);
    return { kind, url: server.url, drop: server.stop };
  }
  const serverUrl = process.env.DATABASE_URL!;
  const name = `crm_dbtest_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    async drop() {
      const c = new Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a TypeScript file of this repository with tsx in a child process. */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The last line of a command's stdout, parsed as JSON. */
export function lastJson<T>(out: { status: number | null; stdout: string; stderr: string }): T {
  if (out.status !== 0) throw new Error(`child exited ${out.status}: ${out.stderr}`);
  const lines = out.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

export interface HeldDatabase {
  url: string;
  embedded: boolean;
  pid: number;
  /** Asks the child to stop what it holds, and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Runs tests/db/fixtures/hold.ts in a child process (jest's sandbox cannot
 * load PGlite) and resolves once it serves. Rejects with the child's stderr
 * if it exits first.
 */
export function holdDatabase(args: string[], env: NodeJS.ProcessEnv = {}): Promise<HeldDatabase> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'tests/db/fixtures/hold.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      const info = JSON.parse(line) as { url: string; embedded: boolean; pid: number };
      resolve({
        ...info,
        async stop() {
          if (child.exitCode === null) child.stdin.end('stop\n');
          const code = await exited;
          if (code !== 0) throw new Error(`database holder exited ${code}: ${stderr}`);
        },
      });
    });
    void exited.then((code) => reject(new Error(`database holder exited ${code} before serving: ${stderr.trim()}`)));
  });
}
