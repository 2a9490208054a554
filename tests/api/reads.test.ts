// What a read of a wizard costs the database, counted at the driver: every
// statement the API sends is seen (a pg pool whose clients record each query).
// A page open on a wizard reads it every 500 ms, a hundred pages at once on a
// layoff day: GET /v1/deletions/{id} is ONE statement (the token, its user, the
// wizard's row and its moves' committed counts), reads arriving together share
// one, and the lead total before the move is counted at most once per
// LEAD_TOTAL_MAX_AGE_MS per user, however many read it.
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { PrismaClient } from '../../generated/prisma/client';
import { buildServer } from '../../api/server';
import { createWizardClient, LEAD_TOTAL_MAX_AGE_MS, leadTotals } from '../../client/wizard-client';
import { deletionReads } from '../../client/deletion-reads';
import { addLeads, eventually, makeAutomation, makeIntegration, makeWorkspace, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';
import { testEnv } from '../support/env';
import { client, tokenOf, type Call } from './support';

let h: WizardHarness;
let app: FastifyInstance;
let counted: PrismaClient;
let pool: pg.Pool;
let admin: Call;
let ws: TestWorkspace;
/** Every statement the API's database client sent, in order. */
const statements: string[] = [];
/** Each statement waits this long before it is sent (a database slower than the requests arriving). */
let slowMs = 0;

beforeAll(async () => {
  h = await wizardHarness();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 4 });
  pool.on('error', () => {}); // an idle client cut off when the run's database goes away
  pool.on('connect', (c) => {
    const query = c.query.bind(c) as (...args: unknown[]) => unknown;
    (c as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const q = args[0] as string | { text?: string };
      statements.push((typeof q === 'string' ? q : (q.text ?? '')).replace(/\s+/g, ' ').trim());
      return slowMs ? new Promise((r) => setTimeout(r, slowMs)).then(() => query(...args)) : query(...args);
    };
  });
  counted = new PrismaClient({ adapter: new PrismaPg(pool) });
  // A count shared for a minute, so the reads below never depend on how fast they run.
  const wizard = createWizardClient({ temporal: h.temporal, prisma: counted, config: h.config, leadTotalMaxAgeMs: 60_000 });
  app = buildServer({ prisma: counted, wizard, health: async () => ({ database: true, temporal: true }), config: h.config, logger: false, webDir: '/nonexistent' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  ws = await makeWorkspace(
    h.prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', second: 'MEMBER', third: 'MEMBER', heir: 'MEMBER' },
    { leaver: 50, second: 20, third: 10 },
  );
  admin = client(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, await tokenOf(h.prisma, ws, 'admin'));
});

afterAll(async () => {
  await app?.close();
  await counted?.$disconnect();
  await pool?.end();
  await h?.close();
});

/** The statements one request sent. */
async function statementsOf(path: string): Promise<{ status: number; body: any; sent: string[] }> {
  statements.length = 0;
  const r = await admin('GET', path);
  return { status: r.status, body: r.body, sent: [...statements] };
}

async function start(handle: string): Promise<string> {
  const r = await admin('POST', `/v1/users/${ws.users[handle]!.id}/deletion`, {});
  expect(r.status).toBe(201);
  return r.body.id;
}

test('reading a wizard is one statement (token, user, row, moves), before and after the move', async () => {
  const id = await start('leaver');
  await admin('GET', `/v1/deletions/${id}`); // the first read counts the book; the next ones share that count

  const pending = await statementsOf(`/v1/deletions/${id}`);
  expect(pending.status).toBe(200);
  expect(pending.body.leads).toMatchObject({ total: 50, state: 'PENDING' });
  expect(pending.sent).toHaveLength(1);
  expect(pending.sent[0]).toMatch(/api_tokens.*JOIN.*users.*JOIN.*deletions.*lead_moves/is);

  expect((await admin('POST', `/v1/deletions/${id}/leads`, { targetUserId: ws.users.heir!.id })).status).toBe(202);
  const moved = await eventually(async () => {
    const r = await statementsOf(`/v1/deletions/${id}`);
    return r.body.step === 'AUTOMATIONS' ? r : undefined;
  }, 60_000, 'the move to finish');
  expect(moved.body.leads).toMatchObject({ total: 50, moved: 50, state: 'DONE' });
  expect(moved.sent).toHaveLength(1);
});

test('reads that arrive together share statements, and each gets its own answer', async () => {
  const mine = await makeWorkspace(h.prisma, { admin: 'ADMIN', member: 'MEMBER', a: 'MEMBER', b: 'MEMBER' }, { a: 3, b: 4 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const mineAdmin = client(base, await tokenOf(h.prisma, mine, 'admin'));
  const member = client(base, await tokenOf(h.prisma, mine, 'member'));
  const anonymous = client(base, 'not-a-token');
  const ids: string[] = [];
  for (const who of ['a', 'b'] as const) {
    const r = await mineAdmin('POST', `/v1/users/${mine.users[who]!.id}/deletion`, {});
    expect(r.status).toBe(201);
    ids.push(r.body.id);
  }
  const other = await makeWorkspace(h.prisma, { admin: 'ADMIN', x: 'MEMBER' }, { x: 1 });
  const started = await client(base, await tokenOf(h.prisma, other, 'admin'))('POST', `/v1/users/${other.users.x!.id}/deletion`, {});
  expect(started.status).toBe(201);
  const otherWorkspaces: string = started.body.id;
  for (const id of ids) await mineAdmin('GET', `/v1/deletions/${id}`); // the counts, shared from now on

  statements.length = 0;
  // However the machine schedules the fifty requests, the statements in flight are still busy
  // when the next reads arrive: those wait and go together.
  slowMs = 200;
  const rounds = 10;
  const asked = Array.from({ length: rounds }, () => [
    mineAdmin('GET', `/v1/deletions/${ids[0]}`),
    mineAdmin('GET', `/v1/deletions/${ids[1]}`),
    mineAdmin('GET', `/v1/deletions/${otherWorkspaces}`),
    member('GET', `/v1/deletions/${ids[0]}`),
    anonymous('GET', `/v1/deletions/${ids[0]}`),
  ]).flat();
  const answers = await Promise.all(asked).finally(() => (slowMs = 0));
  const reads = statements.filter((q) => /FROM unnest/i.test(q));
  expect(statements).toHaveLength(reads.length); // nothing but the shared reads
  expect(reads.length).toBeLessThan(answers.length);

  for (let i = 0; i < rounds; i++) {
    const [a, b, other, byMember, byAnyone] = answers.slice(i * 5, i * 5 + 5);
    expect(a!.status).toBe(200);
    expect(a!.body).toMatchObject({ id: ids[0], user: { id: mine.users.a!.id }, leads: { total: 3 } });
    expect(b!.status).toBe(200);
    expect(b!.body).toMatchObject({ id: ids[1], user: { id: mine.users.b!.id }, leads: { total: 4 } });
    expect(other!.status).toBe(404); // another workspace's wizard is not there
    expect(byMember!.status).toBe(403);
    expect(byAnyone!.status).toBe(401);
  }
});

test('a page of wizards is read in a fixed number of statements, however many it holds', async () => {
  await start('second');
  await start('third');
  await admin('GET', '/v1/deletions'); // counts each open wizard's book once

  const list = await statementsOf('/v1/deletions');
  expect(list.status).toBe(200);
  expect(list.body.items.length).toBeGreaterThanOrEqual(3);
  // The token, the page of rows, the page's moves.
  expect(list.sent).toHaveLength(3);
});

test('at the automations step, a read adds one statement for its items as they are now (each read its own: another wizard may change them); a page one per kind', async () => {
  const mine = await makeWorkspace(h.prisma, { admin: 'ADMIN', p: 'MEMBER', q: 'MEMBER', heir: 'MEMBER' }, { p: 2, q: 2 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const mineAdmin = client(base, await tokenOf(h.prisma, mine, 'admin'));
  const [p, q, heir] = [mine.users.p!.id, mine.users.q!.id, mine.users.heir!.id];
  const shared = await makeAutomation(h.prisma, mine.id, 'P and Q', [{ userId: p, weight: 50 }, { userId: q, weight: 50 }]);
  const ids: string[] = [];
  for (const who of [p, q]) {
    const r = await mineAdmin('POST', `/v1/users/${who}/deletion`, {});
    expect(r.status).toBe(201);
    ids.push(r.body.id);
    expect((await mineAdmin('POST', `/v1/deletions/${r.body.id}/leads`, { targetUserId: heir })).status).toBe(202);
  }
  for (const id of ids) {
    await eventually(async () => ((await mineAdmin('GET', `/v1/deletions/${id}`)).body.step === 'AUTOMATIONS' ? true : undefined), 60_000, 'the move');
  }
  const read = async (path: string) => {
    statements.length = 0;
    const r = await mineAdmin('GET', path);
    return { body: r.body, sent: [...statements] };
  };
  // The reads above read the items too: this one reads them again, as they are now (not shared after a read).
  const again = await read(`/v1/deletions/${ids[0]}`);
  expect(again.sent).toHaveLength(2);
  expect(again.sent[1]).toMatch(/FROM automations i LEFT JOIN automation_members m/i);
  expect(again.body.automations.find((a: { id: string }) => a.id === shared)).toMatchObject({ suggested: null, requiresReplacement: true });
  const page = await read('/v1/deletions');
  // The token, the page of rows, the page's moves, and the automations of the wizards at that step (both, in one).
  expect(page.sent).toHaveLength(4);
  expect(page.sent[3]).toMatch(/FROM automations i LEFT JOIN automation_members m/i);
  for (const d of page.body.items) expect(d.automations.find((a: { id: string }) => a.id === shared)).toMatchObject({ requiresReplacement: true });
});

test('before the move the total follows the book: new leads show without anyone asking twice', async () => {
  const leaver = await makeWorkspace(h.prisma, { admin: 'ADMIN', gone: 'MEMBER' }, { gone: 7 });
  const wizard = createWizardClient({ temporal: h.temporal, prisma: h.prisma, config: h.config });
  const { deletion } = await wizard.start({
    workspaceId: leaver.id,
    userId: leaver.users.gone!.id,
    actor: { type: 'USER', id: leaver.users.admin!.id },
    source: 'ADMIN',
  });
  expect(deletion.leads.total).toBe(7);
  await addLeads(h.prisma, leaver.id, leaver.users.gone!.id, 5);
  const caughtUp = await eventually(async () => {
    const d = await wizard.get(leaver.id, deletion.id);
    return d.leads.total === 12 ? d : undefined;
  }, 60_000, 'the total to include the new leads');
  expect(caughtUp.leads).toMatchObject({ total: 12, state: 'PENDING' });
});

test('leads a client adds through the API show in its next read at once, though totals are shared (here for a minute)', async () => {
  const mine = await makeWorkspace(h.prisma, { admin: 'ADMIN', gone: 'MEMBER', later: 'MEMBER' }, { gone: 7, later: 4 });
  const mineAdmin = client(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, await tokenOf(h.prisma, mine, 'admin'));
  const total = async (id: string) => (await mineAdmin('GET', `/v1/deletions/${id}`)).body.leads.total;

  // Delivered by a lead source the leaver is alone in (the leads reach them; the final sweep moves them).
  const gone = mine.users.gone!.id;
  const started = await mineAdmin('POST', `/v1/users/${gone}/deletion`, {});
  expect(started.status).toBe(201);
  expect(await total(started.body.id)).toBe(7);
  const source = await makeIntegration(h.prisma, mine.id, 'Solo source', [{ userId: gone, weight: 100 }]);
  const delivered = await mineAdmin('POST', `/v1/integrations/${source}/leads`, { leads: [{ name: 'From the web form' }, { name: 'Another' }] });
  expect(delivered.status).toBe(201);
  expect(await total(started.body.id)).toBe(9);

  // Created in bulk for a leader HR says leaves tomorrow (SUSPENDED until then: bulk leads may still be theirs).
  const later = mine.users.later!.id;
  const hr = createWizardClient({ temporal: h.temporal, prisma: h.prisma, config: h.config });
  const { deletion } = await hr.start({
    workspaceId: mine.id,
    userId: later,
    actor: { type: 'HR', id: 'hr-hook' },
    source: 'HR',
    effectiveAt: new Date(Date.now() + 24 * 3_600_000),
  });
  expect(await total(deletion.id)).toBe(4);
  const bulk = await mineAdmin('POST', '/v1/leads/bulk', { leads: [1, 2, 3].map((n) => ({ name: `New ${n}`, ownerId: later })) });
  expect(bulk.status).toBe(201);
  expect(await total(deletion.id)).toBe(7);

  for (const id of [started.body.id, deletion.id]) expect((await mineAdmin('POST', `/v1/deletions/${id}/cancel`, {})).status).toBe(200);
});

describe('leadTotals: one count shared for at most its age', () => {
  afterEach(() => jest.restoreAllMocks());

  test('readers within the age share one count, even while it runs; after it, the book is counted again', async () => {
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    let book = 10;
    const begun: number[] = [];
    const release: (() => void)[] = [];
    const total = leadTotals((_ws, _user) => {
      begun.push(now);
      const value = book;
      return new Promise((resolve) => release.push(() => resolve(value)));
    }, LEAD_TOTAL_MAX_AGE_MS);

    const a = total('w', 'u');
    const b = total('w', 'u'); // while the first count runs
    expect(begun).toHaveLength(1);
    release[0]!();
    expect(await Promise.all([a, b])).toEqual([10, 10]);

    book = 11;
    now += LEAD_TOTAL_MAX_AGE_MS - 1;
    expect(await total('w', 'u')).toBe(10); // still within the age of the count
    expect(begun).toHaveLength(1);
    const other = total('w', 'someone-else'); // another user is counted on their own
    expect(begun).toHaveLength(2);
    release[1]!();
    await other;

    now += 1; // the first count is now LEAD_TOTAL_MAX_AGE_MS old
    const fresh = total('w', 'u');
    expect(begun).toHaveLength(3);
    release[2]!();
    expect(await fresh).toBe(11);
  });

  test('a count that failed is not shared: the next reader counts again', async () => {
    let calls = 0;
    const total = leadTotals(async () => {
      calls += 1;
      if (calls === 1) throw new Error('database away');
      return 3;
    }, 60_000);
    await expect(total('w', 'u')).rejects.toThrow('database away');
    expect(await total('w', 'u')).toBe(3);
    expect(calls).toBe(2);
  });
});

describe('deletionReads: the shared statement', () => {
  test('a statement the database does not answer in time fails its reads with 503, and frees its place for the next', async () => {
    let calls = 0;
    const hanging = {
      $queryRaw: () => {
        calls++;
        return calls <= 2 ? new Promise(() => {}) : Promise.resolve([]);
      },
    } as unknown as PrismaClient;
    const read = deletionReads(hanging, { timeoutMs: 200 });
    // Two statements in flight (both hang), a third batch queued behind them.
    const first = read('a'.repeat(64), 'del_1');
    await new Promise((r) => setImmediate(r));
    const second = read('b'.repeat(64), 'del_2');
    await new Promise((r) => setImmediate(r));
    const third = read('c'.repeat(64), 'del_3');
    await expect(first).rejects.toMatchObject({ name: 'Unavailable' });
    await expect(second).rejects.toMatchObject({ name: 'Unavailable' });
    await expect(third).resolves.toEqual({ token: null, deletion: null });
    expect(calls).toBe(3);
  });
});
