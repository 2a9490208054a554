// The embedded database: PGlite served over the wire protocol to several pools
// at once, data that survives a restart, and one server per data directory
// shared by every process of ours through the lock file. The servers run in
// child processes (tests/db/fixtures/hold.ts), as they do in production.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { ConfigError, loadConfig } from '../../infra/config';
import { ensureDatabase } from '../../infra/database';
import { freePort } from '../../infra/ports';
import { holdDatabase, type HeldDatabase } from './helpers';

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-db-test-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function query<T extends object>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

describe('startEmbeddedPostgres', () => {
  test('data written before stop() is there after a restart on the same directory', async () => {
    const dataDir = path.join(tmpDir(), 'pglite');
    const first = await holdDatabase(['serve', '--data-dir', dataDir]);
    await query(first.url, 'CREATE TABLE kept (id int PRIMARY KEY, body text)');
    await query(first.url, "INSERT INTO kept SELECT g, 'row ' || g FROM generate_series(1, 1000) g");
    await first.stop();

    const second = await holdDatabase(['serve', '--data-dir', dataDir]);
    try {
      const rows = await query<{ n: number; last: string }>(
        second.url,
        'SELECT count(*)::int AS n, max(body) FILTER (WHERE id = 1000) AS last FROM kept',
      );
      expect(rows[0]).toEqual({ n: 1000, last: 'row 1000' });
    } finally {
      await second.stop();
    }
  });

  describe('several pools at once', () => {
    let server: HeldDatabase;
    let pools: Pool[];
    beforeAll(async () => {
      server = await holdDatabase(['serve']);
      pools = [0, 1, 2].map(() => new Pool({ connectionString: server.url, max: 4 }));
      await pools[0]!.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    });
    afterAll(async () => {
      for (const p of pools ?? []) await p.end();
      await server?.stop();
    });

    test('parameterized queries from three pools each get their own answer, large ones included', async () => {
      const big = 'x'.repeat(300_000); // arrives in several TCP chunks
      const results = await Promise.all(
        Array.from({ length: 600 }, (_, i) =>
          pools[i % 3]!.query<{ v: number; s: string; l: number }>('SELECT $1::int AS v, $2::text AS s, length($3::text) AS l', [
            i,
            `s${i}`,
            i % 20 === 0 ? big : 'y',
          ]),
        ),
      );
      results.forEach((r, i) => expect(r.rows[0]).toEqual({ v: i, s: `s${i}`, l: i % 20 === 0 ? 300_000 : 1 }));
    });

    test('concurrent transactions are isolated: each sees its own insert, rolled-back ones leave nothing', async () => {
      await Promise.all(
        Array.from({ length: 90 }, async (_, i) => {
          const c = await pools[i % 3]!.connect();
          try {
            await c.query('BEGIN');
            await c.query('INSERT INTO t VALUES ($1, $2)', [i, `v${i}`]);
            const seen = await c.query('SELECT v FROM t WHERE id = $1', [i]);
            expect(seen.rows[0].v).toBe(`v${i}`);
            await c.query(i % 3 === 0 ? 'ROLLBACK' : 'COMMIT');
          } finally {
            c.release();
          }
        }),
      );
      const rows = await pools[1]!.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
      expect(rows.rows[0]!.n).toBe(60);
    });

    test('a client that disconnects inside a transaction has it rolled back, and the others go on', async () => {
      const c = new Client({ connectionString: server.url });
      c.on('error', () => {});
      await c.connect();
      await c.query('BEGIN');
      await c.query("INSERT INTO t VALUES (1000, 'orphan')");
      const waiting = pools[2]!.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id = 1000');
      (c as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
      expect((await waiting).rows[0]!.n).toBe(0);
    });
  });

  test("one client's half-sent extended-protocol cycle is not interleaved with another client's", async () => {
    // Parse+Bind from A, then a whole query from B, then Execute+Sync from A:
    // with pglite-socket's own queue A's portal was replaced by B's ("portal does not exist").
    const server = await holdDatabase(['serve']);
    const a = await rawClient(server.url);
    const b = await rawClient(server.url);
    try {
      a.send(parse("SELECT 'A'"), bind());
      await a.waitFor((types) => types.includes('2')); // BindComplete: A's half is in
      b.send(parse("SELECT 'B'"), bind(), execute(), sync());
      a.send(execute(), sync());
      await a.waitFor((types) => types.includes('Z'));
      await b.waitFor((types) => types.includes('Z'));
      expect(a.errors()).toEqual([]);
      expect(a.rows()).toEqual(['A']);
      expect(b.rows()).toEqual(['B']);
    } finally {
      a.close();
      b.close();
      await server.stop();
    }
  });

  test('a client idle inside a transaction past the limit is rolled back and closed; the others are served', async () => {
    const server = await holdDatabase(['serve', '--idle-in-transaction-ms', '300']);
    const other = new Client({ connectionString: server.url });
    const idle = new Client({ connectionString: server.url });
    const idleErrors: Error[] = [];
    idle.on('error', (err) => idleErrors.push(err));
    const idleEnded = new Promise<void>((resolve) => idle.once('end', () => resolve()));
    try {
      await other.connect();
      await idle.connect();
      await other.query('CREATE TABLE idle_t (id int)');
      // One message: two round trips could themselves be 300 ms apart on a loaded machine.
      await idle.query('BEGIN; INSERT INTO idle_t VALUES (1)');
      // `idle` now sits in its transaction and sends nothing more.
      const answer = await within(30_000, other.query<{ n: number }>('SELECT count(*)::int AS n FROM idle_t'), 'the other client was not served');
      expect(answer.rows[0]!.n).toBe(0); // the idle one's insert was rolled back
      await within(30_000, idleEnded, 'the idle connection was not closed');
      expect(idleErrors.map((e) => e.message).join('\n')).toMatch(/idle-in-transaction timeout/);
      expect((await other.query<{ n: number }>('SELECT count(*)::int AS n FROM idle_t')).rows[0]!.n).toBe(0);
    } finally {
      await other.end().catch(() => {});
      await idle.end().catch(() => {});
      await server.stop();
    }
  });

  test('the password is random per data folder, kept in a file only its owner reads; "postgres" is refused', async () => {
    const dataDir = path.join(tmpDir(), 'pglite');
    const passwordFile = path.join(dataDir, 'password');
    const first = await holdDatabase(['serve', '--data-dir', dataDir]);
    let password: string;
    try {
      password = fs.readFileSync(passwordFile, 'utf8').trim();
      expect(fs.statSync(passwordFile).mode & 0o777).toBe(0o600);
      expect(password).not.toBe('postgres');
      expect(password.length).toBeGreaterThanOrEqual(20);
      expect(decodeURIComponent(new URL(first.url).password)).toBe(password);
      expect(await query(first.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      for (const wrong of ['postgres', '', `${password}x`]) {
        const url = new URL(first.url);
        url.password = wrong;
        await expect(query(url.toString(), 'SELECT 1')).rejects.toThrow(/password authentication failed/);
      }
    } finally {
      await first.stop();
    }
    // Kept across restarts; another folder has another one.
    const again = await holdDatabase(['serve', '--data-dir', dataDir]);
    const elsewhere = await holdDatabase(['serve', '--data-dir', path.join(tmpDir(), 'pglite')]);
    try {
      expect(decodeURIComponent(new URL(again.url).password)).toBe(password);
      expect(decodeURIComponent(new URL(elsewhere.url).password)).not.toBe(password);
    } finally {
      await again.stop();
      await elsewhere.stop();
    }
  });

  test('refuses connections beyond maxConnections with a PostgreSQL error', async () => {
    const server = await holdDatabase(['serve', '--max-connections', '2']);
    const clients = [new Client({ connectionString: server.url }), new Client({ connectionString: server.url })];
    try {
      for (const c of clients) await c.connect();
      const third = new Client({ connectionString: server.url });
      await expect(third.connect()).rejects.toThrow(/too many connections/);
      expect((await clients[1]!.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    } finally {
      for (const c of clients) await c.end();
      await server.stop();
    }
  });
});

describe('ensureDatabase', () => {
  const embeddedEnv = (dataRoot: string, port: number) => ({ DATABASE_URL: '', DATA_DIR: dataRoot, PGLITE_PORT: String(port) });
  const readLock = (dataRoot: string) => JSON.parse(fs.readFileSync(path.join(dataRoot, 'pglite.lock'), 'utf8'));

  test('a second process gets the running server instead of opening the files; stop() releases the lock', async () => {
    const dataRoot = tmpDir();
    const port = await freePort();
    const owner = await holdDatabase(['ensure'], embeddedEnv(dataRoot, port));
    let ownerStopped = false;
    try {
      expect(owner.embedded).toBe(true);
      const password = fs.readFileSync(path.join(dataRoot, 'pglite', 'password'), 'utf8').trim();
      expect(owner.url).toBe(`postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`);
      expect(readLock(dataRoot)).toMatchObject({ pid: owner.pid, port });
      await query(owner.url, 'CREATE TABLE note (body text)');
      await query(owner.url, "INSERT INTO note VALUES ('from owner')");

      // Another process, told to use another port, must find the owner's server through the lock.
      const second = await holdDatabase(['ensure'], embeddedEnv(dataRoot, await freePort()));
      expect(second).toMatchObject({ url: owner.url, embedded: true });
      await query(second.url, "INSERT INTO note VALUES ('from second')");
      await second.stop(); // not the owner: stops nothing
      expect(readLock(dataRoot)).toMatchObject({ pid: owner.pid, port });
      expect((await query<{ body: string }>(owner.url, 'SELECT body FROM note ORDER BY body')).map((r) => r.body)).toEqual([
        'from owner',
        'from second',
      ]);

      await owner.stop();
      ownerStopped = true;
      expect(fs.existsSync(path.join(dataRoot, 'pglite.lock'))).toBe(false);

      // Nobody serves it now: the next opener starts a server on the same files.
      const next = await holdDatabase(['ensure'], embeddedEnv(dataRoot, await freePort()));
      try {
        expect(next.url).not.toBe(owner.url);
        expect((await query<{ n: number }>(next.url, 'SELECT count(*)::int AS n FROM note'))[0]!.n).toBe(2);
      } finally {
        await next.stop();
      }
    } finally {
      if (!ownerStopped) await owner.stop();
    }
  });

  test('a lock left by a dead process is taken over', async () => {
    const dataRoot = tmpDir();
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    fs.writeFileSync(path.join(dataRoot, 'pglite.lock'), JSON.stringify({ pid: Number(dead.stdout.trim()), port: 1, startedAt: 'then' }));
    const port = await freePort();
    const db = await holdDatabase(['ensure'], embeddedEnv(dataRoot, port));
    try {
      expect(db.url).toContain(`:${port}/`);
      expect(readLock(dataRoot)).toMatchObject({ pid: db.pid, port });
      expect(await query(db.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.stop();
    }
  });

  test('an unreachable DATABASE_URL is a ConfigError of one sentence saying what to do', async () => {
    const port = await freePort(); // nothing listens there
    const config = loadConfig({ DATABASE_URL: `postgresql://crm:secret@127.0.0.1:${port}/crm` });
    const err = await ensureDatabase(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain(`127.0.0.1:${port}/crm`);
    expect(message).toMatch(/DATABASE_URL/);
    expect(message).not.toContain('secret');
    expect(message.split('\n')).toHaveLength(1);
  });

  test('a reachable DATABASE_URL is returned as is, not embedded', async () => {
    const server = await holdDatabase(['serve']);
    try {
      const db = await ensureDatabase(loadConfig({ DATABASE_URL: server.url }));
      expect(db).toMatchObject({ url: server.url, embedded: false });
      await db.stop();
      expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await server.stop();
    }
  });
});

/** `promise`, or a rejection naming what did not happen if it takes longer than `ms` (a guard against hanging, not a speed check). */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// --- a raw wire-protocol client, to send a query cycle in two halves ---------

const msg = (type: string, body: Buffer) => {
  const h = Buffer.alloc(5);
  h.write(type, 0);
  h.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
};
const cstr = (s: string) => Buffer.from(`${s}\0`);
const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const parse = (sql: string) => msg('P', Buffer.concat([cstr(''), cstr(sql), int16(0)]));
const bind = () => msg('B', Buffer.concat([cstr(''), cstr(''), int16(0), int16(0), int16(0)]));
const execute = () => msg('E', Buffer.concat([cstr(''), int32(0)]));
const sync = () => msg('S', Buffer.alloc(0));

async function rawClient(url: string) {
  const { port, password } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let buf = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    waiters.splice(0).forEach((w) => w());
  });
  const messages = () => {
    const out: { type: string; body: Buffer }[] = [];
    for (let o = 0; o + 5 <= buf.length; ) {
      const len = buf.readInt32BE(o + 1);
      if (o + 1 + len > buf.length) break;
      out.push({ type: String.fromCharCode(buf[o]!), body: buf.subarray(o + 5, o + 1 + len) });
      o += 1 + len;
    }
    return out;
  };
  const client = {
    send: (...parts: Buffer[]) => socket.write(Buffer.concat(parts)),
    async waitFor(pred: (types: string[]) => boolean) {
      while (!pred(messages().map((m) => m.type))) await new Promise<void>((r) => waiters.push(r));
    },
    rows: () => messages().filter((m) => m.type === 'D').map((m) => m.body.subarray(6).toString()),
    errors: () => messages().filter((m) => m.type === 'E').map((m) => m.body.toString()),
    close: () => socket.destroy(),
    reset: () => {
      buf = Buffer.alloc(0);
    },
  };
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const startup = Buffer.concat([int32(196608), cstr('user'), cstr('postgres'), cstr('database'), cstr('postgres'), Buffer.from([0])]);
  socket.write(Buffer.concat([int32(startup.length + 4), startup]));
  await client.waitFor((types) => types.includes('R'));
  const salt = messages().find((m) => m.type === 'R')!.body.subarray(4, 8); // AuthenticationMD5Password
  const md5 = (data: Buffer | string) => crypto.createHash('md5').update(data).digest('hex');
  const answer = `md5${md5(Buffer.concat([Buffer.from(md5(decodeURIComponent(password) + 'postgres')), salt]))}`;
  client.reset();
  socket.write(msg('p', cstr(answer)));
  await client.waitFor((types) => types.includes('Z'));
  client.reset();
  return client;
}
