// Databases of a test's own: an in-memory embedded PGlite always, and a fresh
// database on DATABASE_URL's PostgreSQL server when one is configured (CI).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createThrowawayDatabase } from '../support/throwaway-database';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface FreshDatabase {
  kind: 'PGlite' | 'PostgreSQL';
  url: string;
  drop(): Promise<void>;
}

/** Is a socket listening on this TCP port one of this process's own file descriptors? (Linux) */
function listenerIsThisProcess(port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A') inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return false;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
      if (socket && inodes.has(socket[1]!)) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/**
 * Does DATABASE_URL name a real PostgreSQL server? The test setup points
 * DATABASE_URL at its embedded PGlite when no server was given, and a
 * "CREATE DATABASE" there is not a fresh database (PGlite has one database).
 * Asked synchronously (test tables are declared from it); when jest runs in
 * band, that PGlite is served by this very process and cannot answer a
 * synchronous probe, but then it is ours, hence not a real server.
 */
function realPostgresConfigured(): boolean {
  const url = process.env.DATABASE_URL;
  if (!url) return false;
  const { hostname, port } = new URL(url);
  if (['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname) && listenerIsThisProcess(Number(port || 5432))) return false;
  const probe = spawnSync(
    process.execPath,
    ['-e', "const {Client}=require('pg');const c=new Client({connectionString:process.argv[1]});c.connect().then(()=>c.query('SELECT version() AS v')).then(r=>{console.log(r.rows[0].v);return c.end()}).catch(e=>{console.error(e.message);process.exit(1)})", url],
    { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
  );
  if (probe.status !== 0) throw new Error(`DATABASE_URL is set but does not answer: ${probe.stderr.trim() || 'no answer in 30 s'}`);
  return !/PGlite/.test(probe.stdout);
}

/** The kinds of database this run can test on: PostgreSQL too when DATABASE_URL names a real server. */
export const DATABASE_KINDS: FreshDatabase['kind'][] = realPostgresConfigured() ? ['PGlite', 'PostgreSQL'] : ['PGlite'];

export async function freshDatabase(kind: FreshDatabase['kind']): Promise<FreshDatabase> {
  if (kind === 'PGlite') {
    const server = await holdDatabase(['serve']);
    return { kind, url: server.url, drop: server.stop };
  }
  const name = `crm_dbtest_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const database = await createThrowawayDatabase(process.env.DATABASE_URL!, name);
  return { kind, url: database.url, drop: database.drop };
}

/** Runs a TypeScript file of this repository with tsx in a child process. */
export function runTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
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
  child.stderr.on('data', (chunk) => (stderr += chunk));
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
