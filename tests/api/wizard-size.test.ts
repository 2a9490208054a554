// A wizard carries its view (the Deletion: every automation, integration and
// label it lists, with their distributions) through Temporal, whose payloads
// have limits (2 MB each, 4 MB to a workflow task's answer). Past them a
// workflow task fails on every try: the wizard was stuck for good, cancel
// included (found by the contract audit: 9,000 shared labels). Now a wizard
// that would not fit does not open (422, saying why), and a step whose
// choices would not fit is refused (422); the wizard goes on.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { signHookBody } from '../../api/hook-signature';
import { createScimToken } from '../../api/scim/auth';
import { duringRequest } from '../../client/request-deadline';
import { createWizardClient, NothingSent } from '../../client/wizard-client';
import { createApiToken } from '../../infra/tokens';
import { LONE_STEP_BODY_BYTES, STEP_BODY_MAX_BYTES, STEP_VIEW_MAX_BYTES } from '../../domain/wizard-size';
import { eventually, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let owner: Call;
/** While set, the no-op a wizard's run waits for before it closes takes this long (a busy worker): the run stays open. */
let closingDelayMs = 0;
class SlowClosing implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (closingDelayMs > 0 && Context.current().info.activityType === 'acknowledgeUpdate') {
      await new Promise((resolve) => setTimeout(resolve, closingDelayMs));
    }
    return next(input);
  }
}

beforeAll(async () => {
  api = await startTestApi({ worker: true, activityInterceptors: [() => ({ inbound: new SlowClosing() })] });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', bea: 'MEMBER' });
  owner = client(api.url, await tokenOf(api.prisma, ws, 'owner'));
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;

async function member(name: string): Promise<string> {
  const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name, email: `${name}-${randomUUID().slice(0, 8)}@${ws.slug}.test`, role: 'MEMBER' } });
  return u.id;
}

test('a user named by more labels than one wizard can carry: the start is 422 saying so, nothing changes, and the preview says it first', async () => {
  const leaver = await member('labelled');
  // 6,000 shared labels with names of 190 characters: about 1.6 MB of view.
  const names = Array.from({ length: 6_000 }, (_, i) => `${i} `.padEnd(190, 'x'));
  await api.prisma.label.createMany({ data: names.map((name) => ({ workspaceId: ws.id, name, visibility: 'SHARED' as const, ownerId: leaver })) });

  const preview = await owner('GET', `/v1/users/${leaver}/deletion-preview`);
  expect(preview.status).toBe(200);
  expect(preview.body.blockers.map((b: { code: string }) => b.code)).toEqual(['TOO_BIG']);

  const r = await owner('POST', `/v1/users/${leaver}/deletion`, {});
  expectProblem(r, 422);
  expect(r.body.detail).toMatch(/6000 labels.*more than one wizard can carry/);
  // Nothing changed: the user is ACTIVE, no wizard is open.
  expect((await owner('GET', `/v1/users/${leaver}`)).body.status).toBe('ACTIVE');
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: leaver, status: 'IN_PROGRESS' } })).toBe(0);

  // With fewer labels the same user's wizard opens, and cancels.
  await api.prisma.label.deleteMany({ where: { ownerId: leaver, name: { in: names.slice(1_000) } } });
  const opened = await owner('POST', `/v1/users/${leaver}/deletion`, {});
  expect(opened.status).toBe(201);
  expect(opened.body.labels).toHaveLength(1_000);
  expect((await owner('POST', `/v1/deletions/${opened.body.id}/cancel`, {})).status).toBe(200);
}, 120_000);

test('a step whose choices would make the wizard too big to carry is 422; the wizard stays at its step, takes a smaller body and cancels', async () => {
  const leaver = await member('routed');
  // 2,500 shared labels (about 0.7 MB of view), 45 colleagues, and 400 automations that route to
  // the leaver and one colleague: the wizard opens, its suggestions taken it stays under 1 MB.
  await api.prisma.label.createMany({
    data: Array.from({ length: 2_500 }, (_, i) => ({ workspaceId: ws.id, name: `${i} `.padEnd(190, 'x'), visibility: 'SHARED' as const, ownerId: leaver })),
  });
  const colleagues: string[] = [];
  for (let i = 0; i < 60; i++) colleagues.push(await member(`colleague${i}`));
  const automations = Array.from({ length: 400 }, () => randomUUID());
  await api.prisma.automation.createMany({ data: automations.map((a, i) => ({ id: a, workspaceId: ws.id, name: `Routing ${i}` })) });
  await api.prisma.automationMember.createMany({
    data: automations.flatMap((automationId) => [
      { automationId, userId: leaver, weight: 50, position: 0 },
      { automationId, userId: colleagues[0]!, weight: 50, position: 1 },
    ]),
  });
  const started = await owner('POST', `/v1/users/${leaver}/deletion`, {});
  expect(started.status).toBe(201);
  const d = started.body.id as string;
  expect((await owner('POST', `/v1/deletions/${d}/leads`, { targetUserId: id('bea') })).status).toBe(202);
  await eventually(async () => ((await owner('GET', `/v1/deletions/${d}`)).body.step === 'AUTOMATIONS' ? true : undefined), 60_000, 'the move');

  // Every automation to 45 colleagues: a body the API hands to the wizard (under its 1 MB), which
  // would leave a view of over 1.5 MB.
  const everyone = colleagues.slice(0, 45).map((userId, i) => ({ userId, weight: i < 10 ? 3 : 2 }));
  const wide = { overrides: automations.map((automationId) => ({ automationId, distribution: everyone })) };
  expect(JSON.stringify(wide).length).toBeLessThan(STEP_BODY_MAX_BYTES);
  expect(JSON.stringify(wide).length + JSON.stringify(started.body).length).toBeGreaterThan(STEP_VIEW_MAX_BYTES);
  const refused = await owner('POST', `/v1/deletions/${d}/automations`, wide);
  expectProblem(refused, 422);
  expect(refused.body.detail).toMatch(/more than one wizard can carry/);
  // Nothing changed: still at AUTOMATIONS, every automation as it was.
  expect((await owner('GET', `/v1/deletions/${d}`)).body).toMatchObject({ step: 'AUTOMATIONS', attention: null });
  expect(await api.prisma.automationMember.count({ where: { automationId: { in: automations } } })).toBe(800);
  // To all 60: a body over the 1 MB the API hands to a wizard, which the rules accept. Refused as the
  // same rule (422), not as a body over the 10 MB api.md gives 413 to (was: 413).
  const wider = { overrides: automations.map((automationId) => ({ automationId, distribution: colleagues.map((userId, i) => ({ userId, weight: i < 40 ? 2 : 1 })) })) };
  expect(JSON.stringify(wider).length).toBeGreaterThan(STEP_BODY_MAX_BYTES);
  const tooWide = await owner('POST', `/v1/deletions/${d}/automations`, wider);
  expectProblem(tooWide, 422);
  // The API's own answer (the body's weight), not the wizard's (the view it would leave).
  expect(tooWide.body.detail).toMatch(/as a request: more than one wizard can carry/);
  expect((await owner('GET', `/v1/deletions/${d}`)).body).toMatchObject({ step: 'AUTOMATIONS', attention: null });
  expect(await api.prisma.automationMember.count({ where: { automationId: { in: automations } } })).toBe(800);

  // The suggestions (each automation to the colleague alone) fit: the step applies.
  const ok = await owner('POST', `/v1/deletions/${d}/automations`, { overrides: [] });
  expect(ok.status).toBe(200);
  expect(ok.body.step).toBe('INTEGRATIONS');
  expect((await owner('POST', `/v1/deletions/${d}/cancel`, {})).status).toBe(200);
}, 180_000);

test('starts that join one opening at once all get their answer: the wizard is not stuck', async () => {
  // A view of about 0.9 MB (its steps taken): it opens. Each start joining the opening waits on it
  // with an update, and their answers can all end in one workflow task; were each the whole view,
  // six of them would pass Temporal's 4 MB and the task would fail on every try (found by review).
  const leaver = await member('joined');
  await api.prisma.label.createMany({
    data: Array.from({ length: 2_800 }, (_, i) => ({ workspaceId: ws.id, name: `${i} `.padEnd(200, 'x'), visibility: 'SHARED' as const, ownerId: leaver })),
  });
  const preview = await owner('GET', `/v1/users/${leaver}/deletion-preview`);
  expect(preview.body.blockers).toEqual([]);
  expect(JSON.stringify(preview.body).length).toBeGreaterThan(800_000);
  const answers = await Promise.all(Array.from({ length: 8 }, () => owner('POST', `/v1/users/${leaver}/deletion`, {})));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
  expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  expect(answers.every((a) => a.body.labels.length === 2_800)).toBe(true);
  expect((await owner('POST', `/v1/deletions/${answers[0]!.body.id}/cancel`, {})).status).toBe(200);
  expect((await owner('GET', `/v1/users/${leaver}`)).body.status).toBe('ACTIVE');
}, 120_000);

test('a large step body is sent to its wizard alone, across API servers: another at the same moment is 409 and never reaches Temporal', async () => {
  // Temporal's worker echoes each update's request in its task's answer: several large bodies in one
  // task could pass 4 MB. The unit under test is the wizard client, two of them (two API servers) on
  // one database; Temporal is a stub that holds every update until released.
  const leaver = await member('lone');
  const started = await owner('POST', `/v1/users/${leaver}/deletion`, {});
  expect(started.status).toBe(201);
  const d = started.body.id as string;
  let sent = 0;
  let release!: () => void;
  let held = new Promise<void>((resolve) => (release = resolve));
  const temporal = {
    withDeadline: (_at: number, fn: () => unknown) => fn(),
    withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn(),
    workflow: {
      getHandle: () => ({
        executeUpdate: async () => {
          sent++;
          await held;
          return { id: d, status: 'IN_PROGRESS', step: 'AUTOMATIONS' };
        },
      }),
    },
  } as unknown as Client;
  const server = (waitLimitMs: number, stepLeaseMs?: number) =>
    createWizardClient({ temporal, prisma: api.prisma, config: api.harness.config, waitLimitMs, ...(stepLeaseMs ? { stepLeaseMs } : {}) });
  const [one, two] = [server(30_000), server(30_000)];
  const actor = { type: 'USER' as const, id: id('owner') };
  // About 160 KB: over LONE_STEP_BODY_BYTES, well under the 1 MB a body may weigh.
  const large = { overrides: Array.from({ length: 2_000 }, (_, i) => ({ automationId: `a${i}`.padEnd(25, 'x'), distribution: [{ userId: 'u'.padEnd(25, 'y'), weight: 100 }] })) };
  expect(JSON.stringify(large).length).toBeGreaterThan(LONE_STEP_BODY_BYTES);
  const another = /Another large step/;

  const first = one.submitAutomations(ws.id, d, actor, large);
  await eventually(async () => (sent === 1 ? true : undefined), 10_000, 'the first body sent');
  await expect(one.submitAutomations(ws.id, d, actor, large)).rejects.toMatchObject({ name: 'StepConflict', message: expect.stringMatching(another) });
  // Through another API server too.
  await expect(two.submitAutomations(ws.id, d, actor, large)).rejects.toMatchObject({ name: 'StepConflict', message: expect.stringMatching(another) });
  expect(sent).toBe(1);
  // A small body is not held back.
  const small = two.submitLabels(ws.id, d, actor, { replacements: [] });
  await eventually(async () => (sent === 2 ? true : undefined), 10_000, 'the small body sent');
  release();
  await first;
  await small;
  // Once the first is answered, the next large one goes, from either server.
  await two.submitAutomations(ws.id, d, actor, large);
  expect(sent).toBe(3);

  // Not answered in time (a busy worker): the update may still wait for the wizard's next task, so the
  // lease stays until it expires, and only then does another large body go.
  held = new Promise<void>((resolve) => (release = resolve));
  const impatient = server(1_000, 4_000);
  const gaveUpAt = Date.now();
  await expect(impatient.submitAutomations(ws.id, d, actor, large)).rejects.toMatchObject({ name: 'Unavailable' });
  expect(sent).toBe(4);
  await expect(two.submitAutomations(ws.id, d, actor, large)).rejects.toMatchObject({ name: 'StepConflict', message: expect.stringMatching(another) });
  expect(sent).toBe(4);
  // Each try either is refused (the lease still held) or is sent and waits on the stub: whichever it is,
  // however long the lease's check takes (the embedded database is shared by the whole suite).
  const after = await eventually(
    async () => {
      const attempt = two.submitAutomations(ws.id, d, actor, large);
      let refused = false;
      attempt.catch((e: Error) => (refused = e.name === 'StepConflict'));
      const went = await eventually(async () => (refused ? false : sent === 5 ? true : undefined), 15_000, 'the try refused or sent');
      return went ? { next: attempt, at: Date.now() } : undefined;
    },
    15_000,
    'the lease expired',
  );
  expect(sent).toBe(5);
  expect(after.at - gaveUpAt).toBeGreaterThanOrEqual(3_000);
  release();
  await after.next;

  // Not sent at all (the request spent its limit on earlier waits: client/request-deadline.ts): nothing can
  // be on its way, so the lease is given back at once, and the same body sent again goes.
  const spent = server(1_500);
  const notSent = duringRequest(async () => {
    spent.stateWaitDeadline(); // the request's first wait starts its clock; it then waits a second elsewhere
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    return spent.submitAutomations(ws.id, d, actor, large);
  });
  await expect(notSent).rejects.toBeInstanceOf(NothingSent);
  expect(sent).toBe(5);
  await two.submitAutomations(ws.id, d, actor, large);
  expect(sent).toBe(6);
  expect((await owner('POST', `/v1/deletions/${d}/cancel`, {})).status).toBe(200);
}, 60_000);

describe('HR and the identity provider offboard a leaver too big for one wizard: the wizard is refused, the leaver is frozen', () => {
  // One leaver on 6,000 shared labels (the wizard would weigh about 1.6 MB), ACTIVE again before each test.
  let leaver: { id: string; email: string };
  let asLeaver: Call;
  let scim: Call;
  let hookSecret: string;

  beforeAll(async () => {
    const userId = await member('bigleaver');
    leaver = await api.prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { id: true, email: true } });
    await api.prisma.label.createMany({
      data: Array.from({ length: 6_000 }, (_, i) => ({ workspaceId: ws.id, name: `${i} `.padEnd(190, 'x'), visibility: 'SHARED' as const, ownerId: userId })),
    });
    asLeaver = client(api.url, await createApiToken(api.prisma, { workspaceId: ws.id, userId }));
    const scimCall = client(api.url, await createScimToken(api.prisma, ws.id));
    scim = (method, path, body) => scimCall(method, `/scim/v2${path}`, body, body === undefined ? {} : { 'content-type': 'application/scim+json' });
    hookSecret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
  }, 60_000);

  beforeEach(async () => {
    await api.prisma.user.update({ where: { id: leaver.id }, data: { status: 'ACTIVE', frozenBy: null } });
    await api.prisma.auditEvent.deleteMany({ where: { workspaceId: ws.id, deletionId: null } });
  });

  const hook = (body: Record<string, unknown>) => {
    const raw = JSON.stringify(body);
    return client(api.url)('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(hookSecret, raw) });
  };
  const statusOf = async () => (await owner('GET', `/v1/users/${leaver.id}`)).body.status as string;
  /** The audit events about the leaver that belong to no wizard (the freeze's), oldest first. */
  const freezeEvents = () =>
    api.prisma.auditEvent.findMany({
      where: { workspaceId: ws.id, deletionId: null, detail: { path: ['userId'], equals: leaver.id } },
      orderBy: { at: 'asc' },
    });
  const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
  const setActive = (active: boolean) => scim('PATCH', `/Users/${leaver.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active } }] });

  test('the HR hook: 422 saying why and that the leaver is suspended; the leaver cannot sign in; a second hook writes nothing more', async () => {
    expect((await asLeaver('GET', '/v1/me')).status).toBe(200);
    const source = await owner('POST', '/v1/integrations', {
      name: 'Web form',
      source: 'web',
      distribution: [{ userId: leaver.id, weight: 50 }, { userId: id('owner'), weight: 50 }],
    });
    expect(source.status).toBe(201);
    const r = await hook({ email: leaver.email, employeeId: 'E-BIG' });
    expectProblem(r, 422);
    expect(r.body.detail).toMatch(/6000 labels.*more than one wizard can carry/);
    expect(r.body.detail).toMatch(/suspended/i);
    expect(await statusOf()).toBe('SUSPENDED');
    expect((await asLeaver('GET', '/v1/me')).status).toBe(401);
    expect(await api.prisma.deletion.count({ where: { userId: leaver.id, status: 'IN_PROGRESS' } })).toBe(0);

    const again = await hook({ email: leaver.email, employeeId: 'E-BIG' });
    expectProblem(again, 422);
    expect(again.body.detail).toMatch(/suspended/i);
    const events = await freezeEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'USER_FROZEN', actorType: 'HR', actorId: 'E-BIG' });
    expect(events[0]!.detail).toMatchObject({ userId: leaver.id, source: 'HR', reason: expect.stringMatching(/more than one wizard can carry/) });

    // The admin's preview of the suspended leaver still works and says why.
    const preview = await owner('GET', `/v1/users/${leaver.id}/deletion-preview`);
    expect(preview.status).toBe(200);
    expect(preview.body.blockers.map((b: { code: string }) => b.code)).toEqual(['TOO_BIG']);

    // A lead source skips the frozen leaver.
    const delivered = await owner('POST', `/v1/integrations/${source.body.id}/leads`, { leads: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    expect(delivered.body.owners).toEqual({ [id('owner')]: 3 });
    await api.prisma.integration.delete({ where: { id: source.body.id } });

    // The identity provider's reactivation does not undo HR's freeze...
    expect((await setActive(true)).status).toBe(200);
    expect(await statusOf()).toBe('SUSPENDED');
    // ... unless it deactivated the leaver too (it joined the freeze, as it would join HR's wizard).
    expect((await setActive(false)).status).toBe(400);
    expect((await setActive(true)).status).toBe(200);
    expect(await statusOf()).toBe('ACTIVE');
    expect((await freezeEvents()).map((e) => [e.action, e.actorType])).toEqual([
      ['USER_FROZEN', 'HR'],
      ['IDP_DEACTIVATED', 'IDP'],
      ['USER_UNFROZEN', 'IDP'],
    ]);
  }, 120_000);

  test('the HR hook with effectiveAt in the future: 422, and the leaver stays ACTIVE until their wizard opens', async () => {
    const r = await hook({ email: leaver.email, employeeId: 'E-LATER', effectiveAt: new Date(Date.now() + 7 * 86_400_000).toISOString() });
    expectProblem(r, 422);
    expect(r.body.detail).toMatch(/more than one wizard can carry/);
    expect(r.body.detail).not.toMatch(/suspended/i);
    expect(await statusOf()).toBe('ACTIVE');
    expect(await freezeEvents()).toHaveLength(0);
  }, 120_000);

  test('an admin start: 422 and the leaver stays ACTIVE (the admin reads why at once)', async () => {
    const r = await owner('POST', `/v1/users/${leaver.id}/deletion`, {});
    expectProblem(r, 422);
    expect(r.body.detail).not.toMatch(/suspended/i);
    expect(await statusOf()).toBe('ACTIVE');
    expect(await freezeEvents()).toHaveLength(0);
  }, 120_000);

  test('SCIM deactivation: 400 as before; the leaver reads active:false and is frozen once; reactivation makes them ACTIVE again', async () => {
    const r = await setActive(false);
    expect(r.status).toBe(400);
    expect(r.contentType).toMatch(/^application\/scim\+json/);
    expect(r.body).toMatchObject({ status: '400', scimType: 'mutability', detail: expect.stringMatching(/more than one wizard can carry.*suspended/is) });
    expect((await scim('GET', `/Users/${leaver.id}`)).body.active).toBe(false);
    expect((await asLeaver('GET', '/v1/me')).status).toBe(401);
    expect((await setActive(false)).status).toBe(400);
    expect((await freezeEvents()).map((e) => [e.action, e.actorType])).toEqual([['USER_FROZEN', 'IDP']]);

    const back = await setActive(true);
    expect(back.status).toBe(200);
    expect(back.body.active).toBe(true);
    expect(await statusOf()).toBe('ACTIVE');
    expect((await asLeaver('GET', '/v1/me')).status).toBe(200);
    expect((await freezeEvents()).map((e) => e.action)).toEqual(['USER_FROZEN', 'USER_UNFROZEN']);

    // DELETE does what deactivation does: 400, frozen, still a SCIM resource (it was not deleted).
    const deleted = await scim('DELETE', `/Users/${leaver.id}`);
    expect(deleted.status).toBe(400);
    expect(deleted.body).toMatchObject({ scimType: 'mutability', detail: expect.stringMatching(/suspended/i) });
    expect((await scim('GET', `/Users/${leaver.id}`)).body.active).toBe(false);
    expect((await freezeEvents()).map((e) => e.action)).toEqual(['USER_FROZEN', 'USER_UNFROZEN', 'USER_FROZEN']);
  }, 120_000);

  test('a frozen OWNER is no remaining owner, and no obstacle to the other owner deleting them', async () => {
    await api.prisma.user.update({ where: { id: leaver.id }, data: { role: 'OWNER' } });
    try {
      expectProblem(await hook({ email: leaver.email }), 422);
      expect(await statusOf()).toBe('SUSPENDED');
      const preview = await owner('GET', `/v1/users/${leaver.id}/deletion-preview`);
      expect(preview.body.blockers.map((b: { code: string }) => b.code)).toEqual(['TOO_BIG']);
    } finally {
      await api.prisma.user.update({ where: { id: leaver.id }, data: { role: 'MEMBER' } });
    }
  }, 120_000);

  test('a user suspended for another reason is not made ACTIVE by the identity provider', async () => {
    await api.prisma.user.update({ where: { id: leaver.id }, data: { status: 'SUSPENDED' } });
    expect((await setActive(true)).status).toBe(200);
    expect(await statusOf()).toBe('SUSPENDED');
  }, 60_000);

  test('once an admin trims what the frozen leaver holds, their wizard opens; cancelled, the leaver is ACTIVE', async () => {
    // The refused wizard's run closes late (its last no-op held 2 s, as on a busy worker): the admin's start,
    // sent meanwhile, must not be answered with that earlier wizard's refusal (seen once in CI: 422 TOO_BIG).
    closingDelayMs = 2_000;
    try {
      expectProblem(await hook({ email: leaver.email, employeeId: 'E-BIG' }), 422);
    } finally {
      closingDelayMs = 0;
    }
    expect(await statusOf()).toBe('SUSPENDED');
    await api.prisma.label.deleteMany({ where: { ownerId: leaver.id, name: { not: { startsWith: '1 ' } } } });
    const opened = await owner('POST', `/v1/users/${leaver.id}/deletion`, {});
    expect(opened.status).toBe(201);
    expect(await statusOf()).toBe('PENDING_DELETION');
    expect((await owner('POST', `/v1/deletions/${opened.body.id}/cancel`, {})).status).toBe(200);
    expect(await statusOf()).toBe('ACTIVE');
  }, 120_000);
});
