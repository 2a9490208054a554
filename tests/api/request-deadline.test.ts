// api.md: no request waits on a wizard for more than 10 seconds, however many
// times it waits: its waits share one limit, counted from the first
// (client/request-deadline.ts). Forced here with a 4-s limit: an offboarding
// reaches a user whose wizard's cancel is written but not yet mirrored (the
// mirror held at a gate), so it waits for that wizard to end; the gate opens
// 1.5 s into the request, and the new wizard's opening is held too, so the
// request then waits on a wizard a second time. Before, that second wait had 4
// s of its own, and the request answered 5.5 s and more after it was sent.
import { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { usersService } from '../../api/scim/users';
import { onceKey } from '../../domain/audit';
import { SCIM } from '../../domain/scim';
import { duringRequest } from '../../client/request-deadline';
import { NothingSent } from '../../client/wizard-client';
import { acceptedUpdates, asAdmin, eventually, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, startTestApi, tokenOf, type Call, type TestApi } from './support';

const LIMIT_MS = 4_000;

/** Held, what reaches it waits until it opens; open, it changes nothing. */
class Gate {
  private held = false;
  private waiters: (() => void)[] = [];
  /** How many have waited here since it was last held. */
  reached = 0;
  hold() {
    this.reached = 0;
    this.held = true;
  }
  open() {
    this.held = false;
    for (const wake of this.waiters.splice(0)) wake();
  }
  async pass(): Promise<void> {
    if (!this.held) return;
    this.reached++;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
/** The mirror of a cancelled wizard: its cancel written, its row still IN_PROGRESS. */
const mirror = new Gate();
/** A wizard's opening transaction. */
const opening = new Gate();
class Gates implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const type = Context.current().info.activityType;
    if (type === 'saveDeletionState' && (input.args[0] as { view?: { status?: string } }).view?.status === 'CANCELLED') await mirror.pass();
    if (type === 'openDeletion') await opening.pass();
    return next(input);
  }
}

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
beforeAll(async () => {
  api = await startTestApi({ worker: true, wizardWaitMs: LIMIT_MS, activityInterceptors: [() => ({ inbound: new Gates() })] });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', other: 'MEMBER' });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
});
afterEach(() => {
  mirror.open();
  opening.open();
});
afterAll(async () => {
  await api?.close();
});

test('an offboarding that waits for a cancelled wizard to end, then for a new one to open, answers 503 within one limit, and sent again it opens', async () => {
  const leaver = ws.users.leaver!.id;
  const first = await admin('POST', `/v1/users/${leaver}/deletion`, {});
  expect(first.status).toBe(201);
  mirror.hold();
  const cancelling = admin('POST', `/v1/deletions/${first.body.id}/cancel`, { reason: 'Changed our mind' });
  await eventually(
    async () => (await api.prisma.auditEvent.findUnique({ where: { idempotencyKey: onceKey(first.body.id, 'DELETION_CANCELLED') } })) ?? undefined,
    60_000,
    'the cancel to be written',
  );

  opening.hold();
  const sentAt = Date.now();
  const again = admin('POST', `/v1/users/${leaver}/deletion`, {});
  // The cancelled wizard's row says so 1.5 s into the request: the rest of the limit is all the new wizard gets.
  const release = setTimeout(() => mirror.open(), 1_500);
  const answer = await again;
  const tookMs = Date.now() - sentAt;
  clearTimeout(release);
  expect(answer.status).toBe(503);
  expect(answer.headers.get('retry-after')).not.toBeNull();
  // It waited twice: for the cancelled wizard to end, then for a new one to open (held), which did not answer.
  expect(opening.reached).toBeGreaterThan(0);
  expect(answer.body.detail).toMatch(/did not answer within this request's 4 s/);
  // One limit and the time to answer (a second limit of its own would end 1.5 + 4 s after the POST).
  expect(tookMs).toBeLessThan(LIMIT_MS + 1_000);
  mirror.open();
  expect([200, 503]).toContain((await cancelling).status);
  expect((await admin('GET', `/v1/deletions/${first.body.id}`)).body.status).toBe('CANCELLED');

  // Sent again once the wizards answer: a new wizard, open (the one the 503's start left, or a new one).
  opening.open();
  const opened = await eventually(async () => {
    const r = await admin('POST', `/v1/users/${leaver}/deletion`, {});
    return r.status === 200 || r.status === 201 ? r : undefined;
  }, 60_000, 'the offboarding sent again');
  expect(opened.body).toMatchObject({ user: { id: leaver }, status: 'IN_PROGRESS' });
  expect(opened.body.id).not.toBe(first.body.id);
});

test('a request with less than a second left of its limit sends the wizard nothing: 503 at once, and the wizard is as it was', async () => {
  const other = ws.users.other!.id;
  const started = await admin('POST', `/v1/users/${other}/deletion`, {});
  expect(started.status).toBe(201);
  const { workflowId } = await api.prisma.deletion.findUniqueOrThrow({ where: { id: started.body.id } });
  const late = duringRequest(async () => {
    // A first wait starts the request's clock (here: asking until when one may go on), and took 3.5 s of the 4.
    api.wizard.stateWaitDeadline();
    await new Promise((resolve) => setTimeout(resolve, LIMIT_MS - 500));
    return api.wizard.cancel(ws.id, started.body.id, asAdmin(ws), {});
  });
  await expect(late).rejects.toBeInstanceOf(NothingSent);
  expect(await acceptedUpdates(api.harness.temporal, workflowId, 'cancel')).toHaveLength(0);
  expect((await admin('GET', `/v1/deletions/${started.body.id}`)).body.status).toBe('IN_PROGRESS');
  // The same call in a request that has not waited yet goes through.
  const cancelled = await duringRequest(() => api.wizard.cancel(ws.id, started.body.id, asAdmin(ws), {}));
  expect(cancelled.status).toBe('CANCELLED');
});

test('a SCIM user created inactive with no time left to offboard them is not created: 503, and the retry creates them whole', async () => {
  const service = usersService({ prisma: api.prisma, wizard: api.wizard });
  const auth = { workspaceId: ws.id, tokenId: 'deadline' };
  const userName = `late@${ws.slug}.test`;
  const body = { schemas: [SCIM.User], userName, displayName: 'Late', active: false };
  const late = duringRequest(async () => {
    // An earlier wait (for an earlier holder of the userName to be removed) took most of the limit.
    api.wizard.stateWaitDeadline();
    await new Promise((resolve) => setTimeout(resolve, LIMIT_MS - 500));
    return service.create(auth, body, api.url);
  });
  await expect(late).rejects.toBeInstanceOf(NothingSent);
  // Not left behind ACTIVE: the provider's retry would meet 409 uniqueness, and the user would stay active.
  expect(await api.prisma.user.findFirst({ where: { workspaceId: ws.id, email: userName } })).toBeNull();
  const created = await duringRequest(() => service.create(auth, body, api.url));
  expect(created).toMatchObject({ userName, active: false });
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: created.id, status: 'IN_PROGRESS' } })).toBe(1);
});
