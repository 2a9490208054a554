// Races over HTTP against the real API server and a real worker: the same
// step sent ten times at once, confirm sent ten times at once, and two owners
// deleted at the same moment. On PostgreSQL the two opening transactions are
// made to overlap: a test connection holds both owners' rows locked until
// both transactions are seen waiting (pg_stat_activity), then lets go. On the
// embedded PGlite every transaction runs alone (one backend), so there the
// two requests are simply sent together.
import { Client as PgClient } from 'pg';
import { client, expectProblem, startTestApi, tokenOf, type Answer, type Call, type TestApi } from '../api/support';
import { runOnPostgres } from '../support/faults';
import { testEnv } from '../support/env';
import { eventually, leadsByOwner, makeWorkspace, type TestWorkspace } from '../support/wizard';

const BOOK = 500;

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
let onPostgres: boolean;
beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(
    api.prisma,
    { boss: 'OWNER', chief: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' },
    { leaver: BOOK },
  );
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  onPostgres = await runOnPostgres();
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;
const statuses = (answers: Answer[]) => answers.map((a) => a.status).sort();

async function waitFor(deletionId: string, ok: (d: any) => boolean, what: string) {
  return eventually(
    async () => {
      const r = await admin('GET', `/v1/deletions/${deletionId}`);
      return r.status === 200 && ok(r.body) ? r.body : undefined;
    },
    90_000,
    what,
  );
}

async function auditActions(deletionId: string): Promise<string[]> {
  const r = await admin('GET', `/v1/deletions/${deletionId}/audit?limit=500`);
  expect(r.status).toBe(200);
  return r.body.items.map((e: { action: string }) => e.action);
}

test('the same step ten times at once: exactly one applies, nine are 409; confirm ten times at once: the same', async () => {
  const opened = await admin('POST', `/v1/users/${id('leaver')}/deletion`, {});
  expect(opened.status).toBe(201);
  const d = opened.body;

  const leads = await Promise.all(Array.from({ length: 10 }, () => admin('POST', `/v1/deletions/${d.id}/leads`, { targetUserId: id('ann') })));
  expect(statuses(leads)).toEqual([202, ...Array(9).fill(409)]);
  for (const r of leads.filter((a) => a.status === 409)) expectProblem(r, 409);
  await waitFor(d.id, (x) => x.step === 'AUTOMATIONS', 'the move to finish');
  expect(await leadsByOwner(api.prisma, ws.id)).toEqual({ [id('ann')]: BOOK });

  for (const step of ['automations', 'integrations']) expect((await admin('POST', `/v1/deletions/${d.id}/${step}`, { overrides: [] })).status).toBe(200);
  expect((await admin('POST', `/v1/deletions/${d.id}/labels`, { replacements: [] })).status).toBe(200);

  const confirms = await Promise.all(Array.from({ length: 10 }, () => admin('POST', `/v1/deletions/${d.id}/confirm`, { confirmation: 'CONFIRM' })));
  expect(statuses(confirms)).toEqual([202, ...Array(9).fill(409)]);
  for (const r of confirms.filter((a) => a.status === 409)) expectProblem(r, 409);
  const done = await waitFor(d.id, (x) => x.status !== 'IN_PROGRESS', 'the wizard to finish');
  expect(done).toMatchObject({ status: 'COMPLETED', leads: { total: BOOK, moved: BOOK, swept: 0 } });

  const actions = await auditActions(d.id);
  for (const action of ['DELETION_STARTED', 'LEADS_MOVED', 'AUTOMATIONS_APPLIED', 'LEADS_SWEPT', 'USER_DELETED']) {
    expect(actions.filter((a) => a === action)).toHaveLength(1);
  }
}, 180_000);

/** Holds both users' rows locked (PostgreSQL) until `both` transactions wait on a lock, then lets go. */
async function overlapOpenings(userIds: string[], send: () => Promise<Answer[]>): Promise<Answer[]> {
  if (!onPostgres) return send();
  const pg = new PgClient({ connectionString: testEnv().databaseUrl });
  // Watched from a connection of its own: within the holding transaction, pg_stat_activity would
  // keep showing what it showed at its first read.
  const watch = new PgClient({ connectionString: testEnv().databaseUrl });
  await pg.connect();
  await watch.connect();
  try {
    const holder = (await pg.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await pg.query('BEGIN');
    await pg.query('SELECT id FROM users WHERE id = ANY($1) FOR UPDATE', [userIds]);
    const sent = send();
    sent.catch(() => undefined);
    await eventually(
      async () => {
        const { rows } = await watch.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), $1) AND wait_event_type = 'Lock'`,
          [holder],
        );
        return rows[0]!.n >= 2 ? true : undefined;
      },
      30_000,
      'both opening transactions to wait on the locked rows',
    );
    await pg.query('COMMIT');
    return await sent;
  } finally {
    await pg.end();
    await watch.end();
  }
}

test('two owners deleted at the same moment: one wizard opens, the other is refused with the rule\'s own reason', async () => {
  const boss = client(api.url, await tokenOf(api.prisma, ws, 'boss'));
  const chief = client(api.url, await tokenOf(api.prisma, ws, 'chief'));
  // Each owner deletes the other: either alone would be allowed (another owner remains).
  const answers = await overlapOpenings([id('boss'), id('chief')], () =>
    Promise.all([boss('POST', `/v1/users/${id('chief')}/deletion`, {}), chief('POST', `/v1/users/${id('boss')}/deletion`, {})]),
  );
  expect(statuses(answers)).toEqual([201, 422]);
  const refused = answers.find((a) => a.status === 422)!;
  expectProblem(refused, 422);
  expect(refused.body.detail).toMatch(/last owner/i);

  // The workspace keeps exactly one active owner, and only one wizard is open.
  const owners = await api.prisma.user.findMany({ where: { workspaceId: ws.id, role: 'OWNER' }, select: { id: true, status: true } });
  expect(owners.filter((o) => o.status === 'ACTIVE')).toHaveLength(1);
  const open = await api.prisma.deletion.findMany({ where: { workspaceId: ws.id, status: 'IN_PROGRESS' } });
  expect(open).toHaveLength(1);
  const opened = answers.find((a) => a.status === 201)!.body;
  expect(open[0]!.id).toBe(opened.id);

  // Cancelled, both are owners again.
  expect((await admin('POST', `/v1/deletions/${opened.id}/cancel`, {})).status).toBe(200);
  const after = await api.prisma.user.findMany({ where: { workspaceId: ws.id, role: 'OWNER', status: 'ACTIVE' } });
  expect(after).toHaveLength(2);
}, 120_000);
