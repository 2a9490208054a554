// A wizard whose workflow Temporal closed without it: terminated by an
// operator, or by Temporal itself for a result it refused to record (a scale
// probe made it so: the wizard read IN_PROGRESS for good, every step and
// cancel 409 "no longer running", the user PENDING_DELETION forever). api.md:
// cancel always ends CANCELLED with the user ACTIVE. The API applies such a
// cancel itself (client/wizard-client.ts `cancelOrphan`).
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { wizardRecordActivities } from '../../activities/wizard-records';
import { StepConflict } from '../../domain/errors';
import { acceptedUpdates, addLeads, asAdmin, interceptedWizard, leadsByOwner, makeWorkspace, moveDone, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
let ws: TestWorkspace;

beforeAll(async () => {
  h = await wizardHarness({ batchSize: 100 });
  ws = await makeWorkspace(h.prisma, { admin: 'ADMIN', leaver: 'MEMBER', quitter: 'MEMBER', gone: 'MEMBER', ann: 'MEMBER' }, { leaver: 300, quitter: 200 });
});
afterAll(async () => {
  await h?.close();
});

test('a wizard whose workflow was terminated at a step is cancelled by the API: CANCELLED, the user ACTIVE, the audit says who', async () => {
  const actor = asAdmin(ws);
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  await h.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: ann });
  await moveDone(h.wizard, ws.id, deletion.id, 60_000);
  await h.temporal.workflow.getHandle(deletion.workflowId).terminate('an operator, by mistake');

  // Every step is refused: the wizard is gone.
  await expect(h.wizard.submitAutomations(ws.id, deletion.id, actor, { overrides: [] })).rejects.toBeInstanceOf(StepConflict);
  expect(await h.wizard.cancel(ws.id, deletion.id, actor, { reason: 'its workflow was ended' })).toMatchObject({
    status: 'CANCELLED',
    step: 'AUTOMATIONS',
    leads: { state: 'DONE', moved: 300 },
    attention: null,
  });
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
  const audit = await h.prisma.auditEvent.findMany({ where: { deletionId: deletion.id }, orderBy: { at: 'asc' } });
  expect(audit.map((e) => e.action)).toEqual(['DELETION_STARTED', 'LEADS_MOVED', 'DELETION_CANCELLED']);
  expect(audit.at(-1)).toMatchObject({ actorType: 'USER', actorId: actor.id, detail: expect.objectContaining({ reason: 'its workflow was ended' }) });
  // What moved stays moved; a new wizard opens for the user.
  expect((await leadsByOwner(h.prisma, ws.id))[ann]).toBe(300);
  const again = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  expect(again.created).toBe(true);
  expect(await h.wizard.cancel(ws.id, again.deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
}, 120_000);

test('terminated before its lead step: cancelled, the book untouched; a second cancel is told it is already cancelled', async () => {
  const actor = asAdmin(ws);
  const quitter = ws.users.quitter!.id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: quitter, actor, source: 'ADMIN' });
  await h.temporal.workflow.getHandle(deletion.workflowId).terminate('an operator, by mistake');
  expect(await h.wizard.cancel(ws.id, deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED', step: 'LEADS', leads: { state: 'PENDING' } });
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: quitter } })).toMatchObject({ status: 'ACTIVE' });
  expect((await leadsByOwner(h.prisma, ws.id))[quitter]).toBe(200);
  await expect(h.wizard.cancel(ws.id, deletion.id, actor, {})).rejects.toMatchObject({ name: 'StepConflict', message: 'This deletion is already CANCELLED.' });
}, 120_000);

test('a running wizard is cancelled by its workflow as always (nothing of this path)', async () => {
  const actor = asAdmin(ws);
  const gone = ws.users.gone!.id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: gone, actor, source: 'ADMIN' });
  expect(await h.wizard.cancel(ws.id, deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
  // Applied by the wizard (its history took the cancel), which then closes by itself.
  expect(await acceptedUpdates(h.temporal, deletion.workflowId, 'cancel')).toHaveLength(1);
  await h.temporal.workflow.getHandle(deletion.workflowId).result();
  expect((await h.temporal.workflow.getHandle(deletion.workflowId).describe()).status.name).toBe('COMPLETED');
}, 120_000);

test('an offboarding of a user whose wizard lost its workflow opens a new wizard, the old one cancelled by it', async () => {
  const actor = asAdmin(ws);
  const ann = ws.users.ann!.id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ann, actor, source: 'ADMIN' });
  await h.temporal.workflow.getHandle(deletion.workflowId).terminate('an operator, by mistake');
  // HR offboards the user again (the hook's start): not joined to the dead wizard.
  const hr = { type: 'HR' as const, id: 'hook' };
  const again = await h.wizard.start({ workspaceId: ws.id, userId: ann, actor: hr, source: 'HR' });
  expect(again.created).toBe(true);
  expect(again.deletion).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', source: 'HR' });
  expect(again.deletion.id).not.toBe(deletion.id);
  expect(await h.wizard.get(ws.id, deletion.id)).toMatchObject({ status: 'CANCELLED' });
  const cancelledBy = await h.prisma.auditEvent.findFirstOrThrow({ where: { deletionId: deletion.id, action: 'DELETION_CANCELLED' } });
  expect(cancelledBy).toMatchObject({ actorType: 'HR', detail: expect.objectContaining({ reason: expect.stringMatching(/workflow had ended/) }) });
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: ann } })).toMatchObject({ status: 'PENDING_DELETION' });
  expect(await h.wizard.cancel(ws.id, again.deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
}, 120_000);

test('a join that checks the workflow while its wizard goes on and is cancelled the usual way leaves the wizard as its workflow ended it', async () => {
  const actor = asAdmin(ws);
  const [gone, ann] = [ws.users.gone!.id, ws.users.ann!.id];
  await addLeads(h.prisma, ws.id, gone, 200);
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: gone, actor, source: 'ADMIN' });
  // A second offboarding joins at the lead step; its look at the workflow is held until the wizard has
  // moved its leads and been cancelled.
  let release!: () => void;
  let reached!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const looking = new Promise<void>((resolve) => (reached = resolve));
  const gate: Interceptor = (options, nextCall) =>
    options.method_definition.path.endsWith('/DescribeWorkflowExecution')
      ? new InterceptingCall(nextCall(options), {
          start: (metadata, listener, next) => {
            reached();
            void held.then(() => next(metadata, listener));
          },
        })
      : new InterceptingCall(nextCall(options));
  const { wizard: slow, close } = await interceptedWizard(h, [gate], 120_000);
  try {
    const joining = slow.start({ workspaceId: ws.id, userId: gone, actor: { type: 'HR', id: 'hook' }, source: 'HR' });
    joining.catch(() => undefined);
    await looking;
    await h.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: ann });
    await moveDone(h.wizard, ws.id, deletion.id, 60_000);
    await h.wizard.cancel(ws.id, deletion.id, actor, {});
    await h.temporal.workflow.getHandle(deletion.workflowId).result();
    release();
    await joining.catch(() => undefined);
  } finally {
    release();
    await close();
  }
  // The row as the workflow's cancel left it (past the lead step, 200 moved), not the older view the join read.
  expect(await h.wizard.get(ws.id, deletion.id)).toMatchObject({ status: 'CANCELLED', step: 'AUTOMATIONS', leads: { state: 'DONE', moved: 200 } });
  const cancels = await h.prisma.auditEvent.findMany({ where: { deletionId: deletion.id, action: 'DELETION_CANCELLED' } });
  expect(cancels).toHaveLength(1);
  expect(cancels[0]).toMatchObject({ actorType: 'USER', actorId: actor.id });
}, 120_000);

test('a wizard whose cancel was recorded but whose workflow was ended before it saved the row: cancelled, and the user can be offboarded again', async () => {
  const actor = asAdmin(ws);
  const owner = (await h.prisma.user.create({ data: { workspaceId: ws.id, name: 'late', email: `late-${Date.now()}@orphan.test`, role: 'MEMBER' } })).id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: owner, actor, source: 'ADMIN' });
  // The cancel's transaction committed (the user ACTIVE, DELETION_CANCELLED), then the workflow was ended before its save.
  await wizardRecordActivities(h.prisma).cancelDeletion({ workspaceId: ws.id, deletionId: deletion.id, userId: owner, actor, reason: 'first' });
  await h.temporal.workflow.getHandle(deletion.workflowId).terminate('an operator, at the worst moment');
  expect(await h.prisma.deletion.findUniqueOrThrow({ where: { id: deletion.id } })).toMatchObject({ status: 'IN_PROGRESS' });
  // HR offboards the user again: a new wizard, not "being cancelled" for good.
  const again = await h.wizard.start({ workspaceId: ws.id, userId: owner, actor: { type: 'HR', id: 'hook' }, source: 'HR' });
  expect(again.created).toBe(true);
  expect(await h.wizard.get(ws.id, deletion.id)).toMatchObject({ status: 'CANCELLED' });
  expect(await h.prisma.auditEvent.count({ where: { deletionId: deletion.id, action: 'DELETION_CANCELLED' } })).toBe(1);
  expect(await h.wizard.cancel(ws.id, again.deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
}, 120_000);
