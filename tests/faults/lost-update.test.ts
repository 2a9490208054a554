// A step's writes and the server's record of the step. Seen on the layoff
// bench (1,000 wizards on 2 cores): a lead step's local transactions wrote
// the move and the wizard's view (MOVING) inside a workflow task that then
// timed out, and the server never recorded the update as accepted (its
// retried task came without it); the API had answered 503 and was gone. The
// wizard showed "moving 0 of 1,000" for good while its workflow still waited
// for the step. So a step writes nothing until the server has recorded it
// (workflows/deletion-wizard.ts, PATCH.acceptedFirst): lost before that, the
// read still shows the step to do, and a client after its 503 (api.md: read,
// post again unless applied) posts it again.
import { createWizardClient } from '../../client/wizard-client';
import { faultSuite, passRoutingSteps, startFaultWorker } from '../support/faults';
import { acceptedUpdates, acceptedWhilePending, asAdmin, finished, leadsByOwner, moveDone } from '../support/wizard';

const BOOK = 500;

const t = faultSuite({
  batchSize: 100,
  users: { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', quitter: 'MEMBER', third: 'MEMBER', fourth: 'MEMBER', fifth: 'MEMBER', sixth: 'MEMBER', seventh: 'MEMBER', ann: 'MEMBER' },
  leads: { leaver: BOOK, quitter: BOOK, third: BOOK, fourth: BOOK, fifth: BOOK, sixth: BOOK, seventh: BOOK },
});
const { worker } = t;

test('a step and a cancel write nothing before the server has recorded them as accepted', async () => {
  const actor = asAdmin(t.ws);
  const [leaver, quitter, ann] = [t.ws.users.leaver!.id, t.ws.users.quitter!.id, t.ws.users.ann!.id];

  // The lead step: its first write is the move's start.
  let w = await worker({ activity: 'startLeadMove', at: 'before' });
  try {
    const { deletion } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: leaver, actor, source: 'ADMIN' });
    const step = t.h.wizard.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: ann });
    expect((await w.paused()).activity).toBe('startLeadMove');
    expect(await acceptedUpdates(t.h.temporal, deletion.workflowId, 'submitLeads')).toHaveLength(1);
    w.release();
    await step;
    expect(await moveDone(t.h.wizard, t.ws.id, deletion.id, 60_000)).toMatchObject({ step: 'AUTOMATIONS', leads: { state: 'DONE', moved: BOOK } });
    await w.kill();

    // A cancel: its first write gives the user back.
    w = await worker({ activity: 'cancelDeletion', at: 'before' });
    const { deletion: other } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: quitter, actor, source: 'ADMIN' });
    const cancelling = t.h.wizard.cancel(t.ws.id, other.id, actor, {});
    expect((await w.paused()).activity).toBe('cancelDeletion');
    expect(await acceptedUpdates(t.h.temporal, other.workflowId, 'cancel')).toHaveLength(1);
    w.release();
    await cancelling;
    expect(await finished(t.h.wizard, t.ws.id, other.id)).toMatchObject({ status: 'CANCELLED' });
    expect(await t.h.prisma.user.findUniqueOrThrow({ where: { id: quitter } })).toMatchObject({ status: 'ACTIVE' });
  } finally {
    await w.kill();
  }
}, 180_000);

test('the worker killed inside a lead step after its writes, the API gone after its 503: the step, recorded, goes on', async () => {
  const actor = asAdmin(t.ws);
  const [third, ann] = [t.ws.users.third!.id, t.ws.users.ann!.id];
  const before = await leadsByOwner(t.h.prisma, t.ws.id);
  let w = await worker();
  const { deletion } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: third, actor, source: 'ADMIN' });
  await w.kill();
  // The step's own write of the wizard's view (leads MOVING); not the opening's (PENDING), which a
  // loaded machine may run again here when the killed worker's last workflow task timed out.
  w = await worker({ activity: 'saveDeletionState', at: 'after', viewLeads: 'MOVING' });
  try {
    // The API's caller: it waits 1 s, then answers 503 and is gone.
    const api = createWizardClient({ temporal: t.h.temporal, prisma: t.h.prisma, config: { TEMPORAL_TASK_QUEUE: t.h.taskQueue }, waitLimitMs: 1_000 });
    await expect(api.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: ann })).rejects.toMatchObject({ name: 'Unavailable' });
    expect((await w.paused()).activity).toBe('saveDeletionState');
    // What the read shows (MOVING) the server has recorded: the step is not lost with the task.
    expect(await acceptedUpdates(t.h.temporal, deletion.workflowId, 'submitLeads')).toHaveLength(1);
    expect(await w.kill()).toBe('SIGKILL');
    expect(await t.h.wizard.get(t.ws.id, deletion.id)).toMatchObject({ step: 'LEADS', leads: { state: 'MOVING' } });
    w = await worker();
    expect(await moveDone(t.h.wizard, t.ws.id, deletion.id, 60_000)).toMatchObject({ step: 'AUTOMATIONS', leads: { state: 'DONE', total: BOOK, moved: BOOK } });
    // The step ran again on the replacement (its writes are idempotent): every lead moved once.
    expect(await leadsByOwner(t.h.prisma, t.ws.id)).toEqual({ ...before, [ann]: (before[ann] ?? 0) + BOOK, [third]: undefined });
  } finally {
    await w.kill();
  }
}, 180_000);

test('a cancel sent while a step is being applied waits for it, then cancels; a second cancel meanwhile is told one waits', async () => {
  const actor = asAdmin(t.ws);
  const [fourth, ann] = [t.ws.users.fourth!.id, t.ws.users.ann!.id];
  const before = await leadsByOwner(t.h.prisma, t.ws.id);
  // Every execution held, not only the first: on a loaded machine a workflow task that outlives its
  // timeout is replayed, and the replay runs the step's transaction again (held too, until release).
  const w = await worker({ activity: 'startLeadMove', at: 'before', every: true });
  try {
    const { deletion } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: fourth, actor, source: 'ADMIN' });
    const step = t.h.wizard.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: ann });
    step.catch(() => undefined); // awaited below; an assertion failing first must not leave it unhandled
    // The step is accepted and stopped right before its first write: it is being applied.
    expect((await w.paused()).activity).toBe('startLeadMove');
    // The cancel reaches the wizard once the task running the step's transaction checks in (within
    // the task's timeout): past the API's 10 s, so this caller waits longer.
    const patient = createWizardClient({ temporal: t.h.temporal, prisma: t.h.prisma, config: { TEMPORAL_TASK_QUEUE: t.h.taskQueue }, waitLimitMs: 60_000 });
    const cancelling = patient.cancel(t.ws.id, deletion.id, actor, { reason: 'first' });
    const answer = cancelling.then(() => 'answered', (err: Error) => err);
    // Taken (recorded as accepted) while the step is still stopped: not refused with a 409.
    await acceptedWhilePending(
      cancelling,
      async () => (await acceptedUpdates(t.h.temporal, deletion.workflowId, 'cancel')).length === 1,
      'the cancel recorded as accepted, the step still being applied',
    );
    // One cancel waits at a time: a second one is told so, and is not recorded. (On a loaded machine
    // the server may let go of it unanswered first, its workflow task timed out: the client sends it
    // again, tests/wizard/dropped-update.test.ts.)
    await expect(patient.cancel(t.ws.id, deletion.id, actor, { reason: 'second' })).rejects.toMatchObject({
      name: 'StepConflict',
      message: expect.stringMatching(/Another cancel is already waiting/),
    });
    expect(await acceptedUpdates(t.h.temporal, deletion.workflowId, 'cancel')).toHaveLength(1);
    expect((await t.h.wizard.get(t.ws.id, deletion.id)).status).toBe('IN_PROGRESS');
    w.release();
    // The step applies first (its answer is a success), then the cancel stops the move it began.
    await step;
    expect(await answer).toBe('answered');
    expect(await cancelling).toMatchObject({ status: 'CANCELLED' });
    const end = await finished(t.h.wizard, t.ws.id, deletion.id);
    // DONE, not PENDING: the move had begun (a cancel before the lead step leaves it PENDING).
    expect(end).toMatchObject({ status: 'CANCELLED', leads: { state: 'DONE' } });
    expect(await t.h.prisma.user.findUniqueOrThrow({ where: { id: fourth } })).toMatchObject({ status: 'ACTIVE' });
    // Every lead has exactly one owner: the leaver's, or the target's for those the move got to.
    const after = await leadsByOwner(t.h.prisma, t.ws.id);
    expect((after[fourth] ?? 0) + (after[ann] ?? 0)).toBe(BOOK + (before[ann] ?? 0));
    expect((after[ann] ?? 0) - (before[ann] ?? 0)).toBe(end.leads.moved);
  } finally {
    await w.kill();
  }
}, 180_000);

test('a cancel that waited behind a confirm is refused once the confirm is applied, and the deletion completes', async () => {
  const actor = asAdmin(t.ws);
  const [seventh, ann] = [t.ws.users.seventh!.id, t.ws.users.ann!.id];
  // Each update waits for its acknowledgement no-op before it writes; the fifth is the confirm's
  // (leads, automations, integrations, labels, confirm). Every attempt from it on held, the confirm
  // is being applied for the no-op's 3 s (its schedule-to-close), then goes on without it.
  const w = await worker({ activity: 'acknowledgeUpdate', at: 'before', nth: 5, every: true });
  try {
    const { deletion } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: seventh, actor, source: 'ADMIN' });
    await t.h.wizard.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: ann });
    await moveDone(t.h.wizard, t.ws.id, deletion.id, 60_000);
    await passRoutingSteps(t.h.wizard, t.ws.id, deletion.id, actor);
    const confirming = t.h.wizard.confirm(t.ws.id, deletion.id, actor, { confirmation: 'CONFIRM' });
    confirming.catch(() => undefined); // awaited below
    expect((await w.paused()).activity).toBe('acknowledgeUpdate');
    const cancel = await t.h.wizard.cancel(t.ws.id, deletion.id, actor, {}).then(
      () => null,
      (err: Error) => err,
    );
    expect(cancel).toMatchObject({ name: 'StepConflict', message: expect.stringMatching(/being confirmed.*no longer be changed or cancelled/) });
    // It was taken and waited (not refused on arrival): the server recorded it.
    expect(await acceptedUpdates(t.h.temporal, deletion.workflowId, 'cancel')).toHaveLength(1);
    await confirming;
    expect(await finished(t.h.wizard, t.ws.id, deletion.id)).toMatchObject({ status: 'COMPLETED' });
    expect(await t.h.prisma.user.findUnique({ where: { id: seventh } })).toBeNull();
  } finally {
    w.release();
    await w.kill();
  }
}, 180_000);

test('a cancel sent while the wizard is still opening waits for it, then cancels', async () => {
  const actor = asAdmin(t.ws);
  const sixth = t.ws.users.sixth!.id;
  // Opening has written the wizard's row and is stopped before the workflow hears back: the row
  // is there to cancel (an identity provider's reactivation a moment after its deactivation),
  // the workflow still opening.
  const w = await worker({ activity: 'openDeletion', at: 'after', every: true }); // every: a replay's run of it held too
  try {
    const patient = createWizardClient({ temporal: t.h.temporal, prisma: t.h.prisma, config: { TEMPORAL_TASK_QUEUE: t.h.taskQueue }, waitLimitMs: 60_000 });
    const starting = patient.start({ workspaceId: t.ws.id, userId: sixth, actor, source: 'ADMIN' });
    starting.catch(() => undefined); // awaited below
    expect((await w.paused()).activity).toBe('openDeletion');
    const row = await t.h.prisma.deletion.findFirstOrThrow({ where: { workspaceId: t.ws.id, userId: sixth } });
    const cancelling = patient.cancel(t.ws.id, row.id, actor, { reason: 'reactivated' });
    const answer = cancelling.then(() => 'answered', (err: Error) => err);
    await acceptedWhilePending(
      cancelling,
      async () => (await acceptedUpdates(t.h.temporal, row.workflowId, 'cancel')).length === 1,
      'the cancel recorded as accepted, the wizard still opening',
    );
    w.release();
    expect(await answer).toBe('answered');
    expect(await cancelling).toMatchObject({ status: 'CANCELLED' });
    await starting;
    expect(await finished(t.h.wizard, t.ws.id, row.id)).toMatchObject({ status: 'CANCELLED', leads: { state: 'PENDING' } });
    expect(await t.h.prisma.user.findUniqueOrThrow({ where: { id: sixth } })).toMatchObject({ status: 'ACTIVE' });
    expect((await leadsByOwner(t.h.prisma, t.ws.id))[sixth]).toBe(BOOK);
  } finally {
    await w.kill();
  }
}, 180_000);

test('a cancel is answered while a move slice holds every activity slot of the worker', async () => {
  const actor = asAdmin(t.ws);
  const [fifth, ann] = [t.ws.users.fifth!.id, t.ws.users.ann!.id];
  // One activity slot, held by the move's slice, paused before it moves anything: as a layoff's
  // hundreds of slices waiting for their turn hold every slot. The no-op each update waits for
  // before it writes has a queue and slots of its own.
  const w = await startFaultWorker({
    taskQueue: t.h.taskQueue,
    batchSize: 100,
    sliceBudgetMs: 0,
    noSticky: true,
    oneActivity: true,
    trap: { activity: 'moveLeadsSlice', kind: 'MOVE', at: 'before' },
  });
  try {
    const { deletion } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: fifth, actor, source: 'ADMIN' });
    await t.h.wizard.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: ann });
    expect((await w.paused()).activity).toBe('moveLeadsSlice');
    expect(await t.h.wizard.cancel(t.ws.id, deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
    expect(await t.h.prisma.user.findUniqueOrThrow({ where: { id: fifth } })).toMatchObject({ status: 'ACTIVE' });
    expect((await leadsByOwner(t.h.prisma, t.ws.id))[fifth]).toBe(BOOK);
  } finally {
    await w.kill();
  }
}, 180_000);
