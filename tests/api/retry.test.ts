// POST /v1/deletions/{id}/retry over HTTP, with a real worker: a move the
// database refuses for good shows `attention`; once the cause is fixed, retry
// clears it and the wizard goes on to the end. Nothing to retry is 409.
import { eventually, leadsByOwner, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
let member: Call;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', calm: 'MEMBER' }, { leaver: 30 });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  member = client(api.url, await tokenOf(api.prisma, ws, 'ann'));
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;

async function waitFor(deletionId: string, ok: (d: any) => boolean, what: string) {
  return eventually(
    async () => {
      const r = await admin('GET', `/v1/deletions/${deletionId}`);
      return r.status === 200 && ok(r.body) ? r.body : undefined;
    },
    120_000,
    what,
  );
}

/** Makes the database refuse (CHECK, 23514) giving this workspace's lead named `poison` to `to`. */
async function poison(to: string) {
  const name = `poison_${ws.id.replace(/\W/g, '')}`;
  await api.prisma.$executeRawUnsafe(
    `ALTER TABLE leads ADD CONSTRAINT ${name} CHECK (workspace_id <> '${ws.id}' OR name <> 'poison' OR owner_id <> '${to}') NOT VALID`,
  );
  return { cure: () => api.prisma.$executeRawUnsafe(`ALTER TABLE leads DROP CONSTRAINT IF EXISTS ${name}`) };
}

test('a move refused for good shows attention; after the cause is fixed, retry clears it and the wizard goes on', async () => {
  const lead = await api.prisma.lead.findFirstOrThrow({ where: { workspaceId: ws.id, ownerId: id('leaver') }, orderBy: { id: 'desc' } });
  await api.prisma.lead.update({ where: { id: lead.id }, data: { name: 'poison' } });
  const { cure } = await poison(id('ann'));
  try {
    const started = await admin('POST', `/v1/users/${id('leaver')}/deletion`, {});
    expect(started.status).toBe(201);
    const d = started.body.id as string;
    // Nothing waits yet: 409, and nothing changed.
    expectProblem(await admin('POST', `/v1/deletions/${d}/retry`, {}), 409);
    expect((await admin('POST', `/v1/deletions/${d}/leads`, { targetUserId: id('ann') })).status).toBe(202);

    const stuck = await waitFor(d, (x) => x.attention !== null, 'attention');
    expect(stuck).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', leads: { state: 'MOVING' } });
    expect(stuck.attention.reason).toMatch(/Moving the leads: .*refused.*23514/);

    // Only deletion roles, and only an empty body.
    expectProblem(await member('POST', `/v1/deletions/${d}/retry`, {}), 403);
    expectProblem(await admin('POST', `/v1/deletions/${d}/retry`, { now: true }), 400);
    expectProblem(await admin('POST', '/v1/deletions/del_nosuchwizard/retry', {}), 404);

    // Still refused while the cause is there: tried again (the wizard saves anew), attention stays, since the first time.
    const early = await admin('POST', `/v1/deletions/${d}/retry`);
    expect(early.status).toBe(200);
    expect(early.body.id).toBe(d);
    const again = await waitFor(d, (x) => x.updatedAt !== stuck.updatedAt, 'the retry to be refused');
    expect(again.attention).toEqual(stuck.attention);

    await cure();
    const retried = await admin('POST', `/v1/deletions/${d}/retry`, {});
    expect(retried.status).toBe(200);
    const moved = await waitFor(d, (x) => x.step === 'AUTOMATIONS', 'the move to finish');
    expect(moved).toMatchObject({ status: 'IN_PROGRESS', attention: null, leads: { total: 30, moved: 30, state: 'DONE' } });
    expect(await leadsByOwner(api.prisma, ws.id)).toEqual({ [id('ann')]: 30 });
    // Nothing waits any more.
    expectProblem(await admin('POST', `/v1/deletions/${d}/retry`, {}), 409);

    for (const [step, body] of [
      ['automations', { overrides: [] }],
      ['integrations', { overrides: [] }],
      ['labels', { replacements: [] }],
    ] as const) {
      expect((await admin('POST', `/v1/deletions/${d}/${step}`, body)).status).toBe(200);
    }
    expect((await admin('POST', `/v1/deletions/${d}/confirm`, { confirmation: 'CONFIRM' })).status).toBe(202);
    expect(await waitFor(d, (x) => x.status !== 'IN_PROGRESS', 'the end')).toMatchObject({ status: 'COMPLETED', attention: null });
    // A finished wizard has nothing to retry.
    expectProblem(await admin('POST', `/v1/deletions/${d}/retry`, {}), 409);
  } finally {
    await cure();
  }
}, 240_000);

test('a wizard that never needed attention: retry is 409 and changes nothing', async () => {
  const started = await admin('POST', `/v1/users/${id('calm')}/deletion`, {});
  expect(started.status).toBe(201);
  const d = started.body.id as string;
  const r = await admin('POST', `/v1/deletions/${d}/retry`);
  expectProblem(r, 409);
  expect(r.body.detail).toMatch(/Nothing in this wizard is waiting to be tried again/);
  const now = (await admin('GET', `/v1/deletions/${d}`)).body;
  expect(now).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', attention: null, updatedAt: started.body.updatedAt });
}, 120_000);
