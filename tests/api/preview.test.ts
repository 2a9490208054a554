// GET /v1/users/{userId}/deletion-preview: what the wizard would show and why
// starting would be refused now, changing nothing; a deletion route.
import { Client } from 'pg';
import { DATABASE_KINDS } from '../db/helpers';
import { testEnv } from '../support/env';
import { addLeads, eventually, makeAutomation, makeIntegration, makeLabel, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let owner: Call;
let admin: Call;
let member: Call;
const uid = (handle: string) => ws.users[handle]!.id;
const preview = (call: Call, userId: string) => call('GET', `/v1/users/${encodeURIComponent(userId)}/deletion-preview`);
const codes = (answer: { body: { blockers: { code: string }[] } }) => answer.body.blockers.map((b) => b.code);

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(
    api.prisma,
    { owner: 'OWNER', admin: 'ADMIN', member: 'MEMBER', leaver: 'MEMBER', heir: 'MEMBER', quiet: 'MEMBER' },
    { leaver: 37 },
  );
  owner = client(api.url, await tokenOf(api.prisma, ws, 'owner'));
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  member = client(api.url, await tokenOf(api.prisma, ws, 'member'));
});
afterAll(async () => {
  await api?.close();
});

test('shows what the wizard would show, then the wizard opens with exactly that; the preview changes nothing', async () => {
  const shared = await makeAutomation(api.prisma, ws.id, 'Round robin', [
    { userId: uid('leaver'), weight: 30 },
    { userId: uid('heir'), weight: 70 },
  ]);
  const sole = await makeIntegration(api.prisma, ws.id, 'Web form', [{ userId: uid('leaver'), weight: 100 }]);
  const team = await makeLabel(api.prisma, ws.id, 'Team', 'SHARED', uid('heir'), [uid('leaver')]);
  await makeLabel(api.prisma, ws.id, 'Mine', 'PRIVATE', uid('leaver'), []);
  await makeAutomation(api.prisma, ws.id, 'Elsewhere', [{ userId: uid('heir'), weight: 100 }]);

  const before = await api.prisma.auditEvent.count({ where: { workspaceId: ws.id } });
  const answer = await preview(admin, uid('leaver'));
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({
    user: { id: uid('leaver'), name: 'leaver', email: ws.users.leaver!.email },
    leads: { total: 37 },
    automations: [
      {
        id: shared,
        name: 'Round robin',
        current: [
          { userId: uid('leaver'), weight: 30 },
          { userId: uid('heir'), weight: 70 },
        ],
        suggested: [{ userId: uid('heir'), weight: 100 }],
        requiresReplacement: false,
        applied: null,
      },
    ],
    integrations: [
      { id: sole, name: 'Web form', current: [{ userId: uid('leaver'), weight: 100 }], suggested: null, requiresReplacement: true, applied: null },
    ],
    labels: [{ id: team, name: 'Team', visibility: 'SHARED', replacementUserId: null, applied: false }],
    blockers: [],
    openDeletionId: null,
  });
  // The same for an OWNER; nothing changed: the user is ACTIVE, no wizard, no audit event.
  expect((await preview(owner, uid('leaver'))).body).toEqual(answer.body);
  expect((await admin('GET', `/v1/users/${uid('leaver')}`)).body.status).toBe('ACTIVE');
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id } })).toBe(0);
  expect(await api.prisma.auditEvent.count({ where: { workspaceId: ws.id } })).toBe(before);

  // Starting opens the wizard on the same contents.
  const started = await admin('POST', `/v1/users/${uid('leaver')}/deletion`, {});
  expect(started.status).toBe(201);
  const { user, leads, automations, integrations, labels } = started.body;
  expect({ user, leads: { total: leads.total }, automations, integrations, labels, blockers: [], openDeletionId: null }).toEqual(answer.body);

  // Now the preview names the open wizard, and no blocker: starting is not refused, it answers 200 with
  // that wizard (was: a blocker ALREADY_BEING_DELETED, so a client disabling Delete on any blocker could not resume).
  const after = await preview(admin, uid('leaver'));
  expect(after.status).toBe(200);
  expect(after.body).toMatchObject({ blockers: [], openDeletionId: started.body.id });
  const again = await admin('POST', `/v1/users/${uid('leaver')}/deletion`, {});
  expect({ status: again.status, id: again.body.id }).toEqual({ status: 200, id: started.body.id });
});

test('a user with nothing to reassign previews empty lists', async () => {
  const answer = await preview(admin, uid('quiet'));
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ leads: { total: 0 }, automations: [], integrations: [], labels: [], blockers: [] });
});

test('blockers: yourself, the last owner, an ADMIN previewing an OWNER', async () => {
  expect(codes(await preview(admin, uid('admin')))).toEqual(['SELF']);
  const self = await preview(owner, uid('owner'));
  expect(self.status).toBe(200);
  // The only owner previewing themself: both reasons, each with words for the admin.
  expect(codes(self)).toEqual(['SELF', 'LAST_OWNER']);
  expect(self.body.blockers[1].message).toMatch(/last owner/);
  expect(codes(await preview(admin, uid('owner')))).toEqual(['ROLE', 'LAST_OWNER']);
  // Starting is refused for the same reason the preview gave.
  expectProblem(await owner('POST', `/v1/users/${uid('owner')}/deletion`, {}), 422);
  expect((await admin('GET', `/v1/users/${uid('owner')}`)).body.status).toBe('ACTIVE');
});

test('a second owner lifts LAST_OWNER', async () => {
  const second = await makeWorkspace(api.prisma, { a: 'OWNER', b: 'OWNER' });
  const a = client(api.url, await tokenOf(api.prisma, second, 'a'));
  expect(codes(await preview(a, second.users.b!.id))).toEqual([]);
});

test('a MEMBER gets 403; another workspace\'s user and an unknown id are 404; no token is 401', async () => {
  expectProblem(await preview(member, uid('leaver')), 403);
  expectProblem(await preview(member, 'nobody'), 403);
  const other = await makeWorkspace(api.prisma, { boss: 'OWNER', x: 'MEMBER' });
  await addLeads(api.prisma, other.id, other.users.x!.id, 3);
  const elsewhere = await preview(admin, other.users.x!.id);
  expectProblem(elsewhere, 404);
  expect(elsewhere.body.detail).toBe(`User ${other.users.x!.id} does not exist in this workspace.`);
  const nobody = await preview(admin, 'nobody');
  expectProblem(nobody, 404);
  expect(nobody.body.detail).toBe('User nobody does not exist in this workspace.');
  expectProblem(await preview(client(api.url), uid('leaver')), 401);
});

test('a preview whose reads wait on the database for longer than a few seconds still answers, with what it read', async () => {
  const own = await makeWorkspace(api.prisma, { owner: 'OWNER', leaver: 'MEMBER' }, { leaver: 2 });
  await makeLabel(api.prisma, own.id, 'Held', 'SHARED', own.users.leaver!.id, []);
  const call = client(api.url, await tokenOf(api.prisma, own, 'owner'));
  // A plain client holds the labels table (ACCESS EXCLUSIVE: reads wait too), uncommitted, for 6 s once
  // the preview's read is seen waiting on it: longer than an interactive transaction's default limit (5 s).
  // PGlite runs one transaction at a time: there the preview waits for the hold to end before it begins.
  const hold = new Client({ connectionString: testEnv().databaseUrl });
  await hold.connect();
  let answer: ReturnType<Call> | undefined;
  try {
    await hold.query('BEGIN');
    await hold.query('LOCK TABLE labels IN ACCESS EXCLUSIVE MODE');
    answer = preview(call, own.users.leaver!.id);
    if (DATABASE_KINDS.includes('PostgreSQL')) {
      const holder = (await hold.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await eventually(async () => {
        const [waiting] = await api.prisma.$queryRaw<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${holder}::int = ANY(pg_blocking_pids(pid))`;
        return waiting!.n > 0 ? true : undefined;
      }, 30_000, "the preview's read to wait on the hold");
    }
    await new Promise((resolve) => setTimeout(resolve, 6_000));
  } finally {
    await hold.query('ROLLBACK');
    await hold.end();
  }
  const r = await answer!;
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ leads: { total: 2 }, labels: [{ name: 'Held' }], blockers: [] });
}, 60_000);
