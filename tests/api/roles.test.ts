// api.md Conventions: only an OWNER may create a user with role OWNER, or
// start, step or confirm the deletion of an OWNER; an ADMIN gets 403. Before,
// an ADMIN could make themself a second OWNER and then delete the real ones.
import { makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let owner: Call;
let admin: Call;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(
    api.prisma,
    { owner: 'OWNER', boss: 'OWNER', chief: 'OWNER', admin: 'ADMIN', heir: 'MEMBER', plain: 'MEMBER' },
    { boss: 4 },
  );
  owner = client(api.url, await tokenOf(api.prisma, ws, 'owner'));
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;

test('an ADMIN may not create an OWNER (403, whatever else the body says); an OWNER may', async () => {
  const before = await api.prisma.user.count({ where: { workspaceId: ws.id } });
  expectProblem(await admin('POST', '/v1/users', { name: 'Usurper', email: 'usurper@roles.test', role: 'OWNER' }), 403);
  // 403 comes before 400: the role asked for is enough to refuse.
  expectProblem(await admin('POST', '/v1/users', { name: '', email: 'not an email', role: 'OWNER', extra: 1 }), 403);
  expect(await api.prisma.user.count({ where: { workspaceId: ws.id } })).toBe(before);

  expect((await admin('POST', '/v1/users', { name: 'Helper', email: 'helper@roles.test', role: 'ADMIN' })).status).toBe(201);
  const made = await owner('POST', '/v1/users', { name: 'Partner', email: 'partner@roles.test', role: 'OWNER' });
  expect(made.status).toBe(201);
  expect(made.body.role).toBe('OWNER');
});

test('an ADMIN may not start deleting an OWNER (403 before 400); an unknown user is still 400 then 404', async () => {
  expectProblem(await admin('POST', `/v1/users/${id('boss')}/deletion`, {}), 403);
  expectProblem(await admin('POST', `/v1/users/${id('boss')}/deletion`, { force: true }), 403);
  expectProblem(await admin('POST', `/v1/users/${id('boss')}/deletion`, '{"broken'), 403);
  expectProblem(await admin('POST', `/v1/users/${id('boss')}/deletion`), 403);
  expectProblem(await admin('POST', '/v1/users/no-such-user/deletion', { force: true }), 400);
  expectProblem(await admin('POST', '/v1/users/no-such-user/deletion', {}), 404);
  expect((await admin('GET', `/v1/users/${id('boss')}`)).body.status).toBe('ACTIVE');
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: id('boss') } })).toBe(0);
  // A MEMBER's deletion is an ADMIN's to run, as before.
  expect((await admin('POST', `/v1/users/${id('plain')}/deletion`, {})).status).toBe(201);
});

test("an ADMIN may not step, confirm or retry an OWNER's deletion, may read and cancel it; an OWNER steps it", async () => {
  const started = await owner('POST', `/v1/users/${id('boss')}/deletion`, {});
  expect(started.status).toBe(201);
  const d = started.body.id as string;

  const steps: [string, unknown][] = [
    ['leads', { targetUserId: id('heir') }],
    ['automations', { overrides: [] }],
    ['integrations', { overrides: [] }],
    ['labels', { replacements: [] }],
    ['confirm', { confirmation: 'CONFIRM' }],
    ['retry', {}],
  ];
  for (const [step, body] of steps) {
    for (const sent of [body, '{"broken', { unknown: 1 }]) {
      const r = await admin('POST', `/v1/deletions/${d}/${step}`, sent);
      expect({ step, sent, status: r.status }).toEqual({ step, sent, status: 403 });
      expectProblem(r, 403);
    }
  }
  const now = await admin('GET', `/v1/deletions/${d}`);
  expect(now.status).toBe(200);
  expect(now.body).toEqual(expect.objectContaining({ step: 'LEADS', leads: expect.objectContaining({ state: 'PENDING' }) }));

  const moving = await owner('POST', `/v1/deletions/${d}/leads`, { targetUserId: id('heir') });
  expect(moving.status).toBe(202);

  // Cancel gives the OWNER back their place: an ADMIN may do that.
  const cancelled = await admin('POST', `/v1/deletions/${d}/cancel`, {});
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.status).toBe('CANCELLED');
  expect((await admin('GET', `/v1/users/${id('boss')}`)).body.status).toBe('ACTIVE');
});

test('an ADMIN who names a fresh OWNER cannot go on to delete the real owners', async () => {
  expectProblem(await admin('POST', '/v1/users', { name: 'Me Too', email: 'metoo@roles.test', role: 'OWNER' }), 403);
  for (const handle of ['owner', 'chief']) {
    expectProblem(await admin('POST', `/v1/users/${id(handle)}/deletion`, { reason: 'takeover' }), 403);
    expect((await admin('GET', `/v1/users/${id(handle)}`)).body).toEqual(expect.objectContaining({ role: 'OWNER', status: 'ACTIVE' }));
  }
});
