// SCIM requests racing the wizard they reach, forced: the no-op that lets the
// task accepting an update complete before the update writes
// (`acknowledgeUpdate`) waits at a gate the test holds, so a confirm sits
// accepted but not yet applied while the identity provider's request arrives.
// (The wizard waits for that no-op 3 s at most: the gate opens as soon as the race is set.)
import { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { createScimToken } from '../../api/scim/auth';
import { usersService } from '../../api/scim/users';
import { offboardUser, reinstateUser } from '../../client/offboarding';
import { SCIM } from '../../domain/scim';
import { acceptedUpdates, eventually, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, startTestApi, tokenOf, type Call, type TestApi } from './support';

let held = false;
let waiting: (() => void)[] = [];
const open = () => {
  held = false;
  for (const wake of waiting.splice(0)) wake();
};
class AcknowledgementGate implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (held && Context.current().info.activityType === 'acknowledgeUpdate') await new Promise<void>((resolve) => waiting.push(resolve));
    return next(input);
  }
}

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
let scim: Call;
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
beforeAll(async () => {
  api = await startTestApi({ worker: true, activityInterceptors: [() => ({ inbound: new AcknowledgementGate() })] });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', heir: 'MEMBER' });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  const call = client(api.url, await createScimToken(api.prisma, ws.id));
  scim = (method, path, body) => call(method, `/scim/v2${path}`, body, body === undefined ? {} : { 'content-type': 'application/scim+json' });
});
afterEach(open);
afterAll(async () => {
  await api?.close();
});

test('creating a userName again while its old user is being removed (a confirm applied) is answered once they are: a new user, 201, never 400', async () => {
  const email = `rehired@${ws.slug}.test`;
  const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, displayName: 'First', active: true });
  const old = created.body.id;
  expect((await scim('DELETE', `/Users/${old}`)).status).toBe(204);
  const deletion = await api.prisma.deletion.findFirstOrThrow({ where: { userId: old, status: 'IN_PROGRESS' } });
  const heir = ws.users.heir!.id;
  expect((await admin('POST', `/v1/deletions/${deletion.id}/leads`, { targetUserId: heir })).status).toBe(202);
  await eventually(async () => ((await admin('GET', `/v1/deletions/${deletion.id}`)).body.step !== 'LEADS' ? true : undefined), 60_000, 'the move');
  for (const [step, body] of [['automations', { overrides: [] }], ['integrations', { overrides: [] }], ['labels', { replacements: [] }]] as const) {
    expect((await admin('POST', `/v1/deletions/${deletion.id}/${step}`, body)).status).toBe(200);
  }

  held = true;
  const confirming = admin('POST', `/v1/deletions/${deletion.id}/confirm`, { confirmation: 'CONFIRM' });
  await eventually(async () => (waiting.length > 0 ? true : undefined), 60_000, 'the confirm to be accepted');
  // The provider creates the userName again: its reactivation of the old user reaches the wizard (and waits for the confirm).
  const again = scim('POST', '/Users', { schemas: [SCIM.User], userName: email, displayName: 'Second', active: true });
  let answered = false;
  void again.then(() => (answered = true));
  // (The wizard waits 3 s at most for the held no-op: past that the confirm goes on, the reactivation is refused
  // at once rather than waiting for it, and the POST must end the same way.)
  await eventually(
    async () => ((await acceptedUpdates(api.harness.temporal, deletion.workflowId, 'cancel')).length === 1 || answered ? true : undefined),
    60_000,
    'the reactivation to reach the wizard',
  );
  open();

  expect((await confirming).status).toBe(202);
  const answer = await again;
  expect([answer.status, answer.body.scimType]).toEqual([201, undefined]);
  expect(answer.body).toMatchObject({ userName: email, displayName: 'Second', active: true });
  expect(answer.body.id).not.toBe(old);
  expect(await api.prisma.user.findUnique({ where: { id: old } })).toBeNull();
  expect((await admin('GET', `/v1/deletions/${deletion.id}`)).body.status).toBe('COMPLETED');
});

describe('a deactivation and a reactivation of one user at once', () => {
  // The users service over the real database and wizard, its client wrapped so that the other
  // request runs to its end at one exact point of this one: after this one decided what to do
  // about `active` (from the user as it read them), before it reads the user back to answer.
  function racedService(other: () => Promise<unknown>) {
    let armed = true;
    const users = new Proxy(api.prisma.user, {
      get(target, name) {
        const value = Reflect.get(target, name, target);
        if (name !== 'findUniqueOrThrow' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (args: unknown) => {
          if (armed) {
            armed = false;
            await other();
          }
          return value.call(target, args);
        };
      },
    });
    const prisma = new Proxy(api.prisma, { get: (target, name) => (name === 'user' ? users : Reflect.get(target, name, target)) });
    return usersService({ prisma: prisma as typeof api.prisma, wizard: api.wizard });
  }
  const auth = () => ({ workspaceId: ws.id, tokenId: 'race' });
  const idp = { type: 'IDP' as const, id: 'scim-token:race' };
  const patch = (active: boolean) => ({ schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active } }] });

  test('the reactivation decided before the deactivation landed still reactivates, and answers active: true', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'Rae', email: `rae@${ws.slug}.test`, role: 'MEMBER' } });
    const deactivation = () => offboardUser({ prisma: api.prisma, wizard: api.wizard }, { workspaceId: ws.id, userId: u.id, source: 'IDP', actor: idp });
    const answer = await racedService(deactivation).patch(auth(), u.id, patch(true), api.url);
    expect(answer.active).toBe(true);
    expect(await api.prisma.user.findUniqueOrThrow({ where: { id: u.id } })).toMatchObject({ status: 'ACTIVE' });
    expect(await api.prisma.deletion.count({ where: { userId: u.id, status: 'IN_PROGRESS' } })).toBe(0);
  });

  test('the deactivation whose wizard a reactivation cancelled meanwhile opens a new one, and answers active: false', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'Dee', email: `dee@${ws.slug}.test`, role: 'MEMBER' } });
    const reactivation = () => reinstateUser({ prisma: api.prisma, wizard: api.wizard }, { workspaceId: ws.id, userId: u.id, actor: idp });
    const answer = await racedService(reactivation).patch(auth(), u.id, patch(false), api.url);
    expect(answer.active).toBe(false);
    expect(await api.prisma.user.findUniqueOrThrow({ where: { id: u.id } })).toMatchObject({ status: 'PENDING_DELETION' });
    expect(await api.prisma.deletion.count({ where: { userId: u.id, status: 'IN_PROGRESS' } })).toBe(1);
    expect(await api.prisma.deletion.count({ where: { userId: u.id, status: 'CANCELLED' } })).toBe(1);
  });

  test('a deactivation while an admin renames the user: the rename stays (the PATCH never writes back the name it read)', async () => {
    // Found by a review: the PATCH, built on the user as read before the wizard, wrote that name back.
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'Ren', email: `ren@${ws.slug}.test`, role: 'MEMBER' } });
    // The admin's rename lands while the deactivation's wizard opens (after the PATCH read the user).
    const wizard = {
      ...api.wizard,
      start: async (args: Parameters<typeof api.wizard.start>[0]) => {
        await api.prisma.user.update({ where: { id: u.id }, data: { name: 'Renata' } });
        return api.wizard.start(args);
      },
    };
    const answer = await usersService({ prisma: api.prisma, wizard }).patch(auth(), u.id, patch(false), api.url);
    expect(answer.active).toBe(false);
    expect(answer.displayName).toBe('Renata');
    expect(await api.prisma.user.findUniqueOrThrow({ where: { id: u.id } })).toMatchObject({ name: 'Renata', status: 'PENDING_DELETION' });
  });

  test('a reactivation that a rule keeps from cancelling (a wizard HR started) answers active: false, as the user is', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'Hal', email: `hal@${ws.slug}.test`, role: 'MEMBER' } });
    const hr = () => offboardUser({ prisma: api.prisma, wizard: api.wizard }, { workspaceId: ws.id, userId: u.id, source: 'HR', actor: { type: 'HR', id: 'E-1' } });
    const answer = await racedService(hr).patch(auth(), u.id, patch(true), api.url);
    expect(answer.active).toBe(false);
    expect(await api.prisma.deletion.count({ where: { userId: u.id, status: 'IN_PROGRESS', source: 'HR' } })).toBe(1);
  });
});
