// The worker process SIGKILLed at exact points of one wizard and replaced each
// time, and a cancel sent right after a kill mid-slice. The points are forced,
// not hoped for: each worker runs with a trap (tests/support/fault-worker.ts)
// that stops it inside the named activity, and the test kills it there.
// Slices are one batch of BATCH leads (FAULT_SLICE_BUDGET_MS=0), so the test
// knows exactly what each slice committed.
import {
  auditCounts,
  failDeadAttempt,
  faultSuite,
  holdAttemptOpen,
  passRoutingSteps,
  type FaultWorker,
} from '../support/faults';
import { addLeads, asAdmin, eventually, finished, leadsByOwner, moveDone } from '../support/wizard';

const BATCH = 100;
const BOOK = 1_000;
const LATE = 300; // leads that reach the user after step 1: the confirm's sweep moves them
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED */
const CANCEL_REQUESTED = 3;

const t = faultSuite({
  batchSize: BATCH,
  users: { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', quitter: 'MEMBER', ann: 'MEMBER', bea: 'MEMBER' },
  leads: { leaver: BOOK, quitter: BOOK, ann: 7 },
});
const { worker } = t;
const total = async () => Object.values(await leadsByOwner(t.h.prisma, t.ws.id)).reduce((a, b) => a + b, 0);
const moveRow = (deletionId: string, kind: 'MOVE' | 'SWEEP') =>
  t.h.prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId, kind } } });

test('a worker killed while opening, mid-move, during the sweep and during the removal: the wizard completes, no lead lost or doubled', async () => {
  const leaver = t.ws.users.leaver!.id;
  const ann = t.ws.users.ann!.id;
  const before = await total();
  const actor = asAdmin(t.ws);

  // 1. Opening: the opening transaction has committed, its result is not reported yet.
  let w: FaultWorker = await worker({ activity: 'openDeletion', at: 'after' });
  const starting = t.h.wizard.start({ workspaceId: t.ws.id, userId: leaver, actor, source: 'ADMIN' });
  starting.catch(() => undefined);
  let p = await w.paused();
  expect(await t.h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'PENDING_DELETION' });
  expect(await w.kill()).toBe('SIGKILL');
  await failDeadAttempt(t.h.temporal, p);
  w = await worker({ activity: 'moveLeadsSlice', kind: 'MOVE', at: 'after' });
  const { deletion, created } = await starting;
  expect(created).toBe(true);
  expect(deletion).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', leads: { total: BOOK } });

  // 2. Mid-move: the first slice's batch has committed, the slice has not reported.
  await t.h.wizard.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: ann });
  p = await w.paused();
  expect(p.outcome).toBe('completed');
  expect((await moveRow(deletion.id, 'MOVE')).moved).toBe(BATCH);
  expect(await w.kill()).toBe('SIGKILL');
  expect(await leadsByOwner(t.h.prisma, t.ws.id)).toMatchObject({ [ann]: 7 + BATCH, [leaver]: BOOK - BATCH });
  w = await worker({ activity: 'moveLeadsSlice', kind: 'SWEEP', at: 'after' });
  const moved = await moveDone(t.h.wizard, t.ws.id, deletion.id, 90_000);
  expect(moved).toMatchObject({ status: 'IN_PROGRESS', step: 'AUTOMATIONS', leads: { total: BOOK, moved: BOOK, state: 'DONE' } });
  // Resumed, not redone: every batch ran once.
  expect((await moveRow(deletion.id, 'MOVE')).batches).toBe(BOOK / BATCH);

  // 3. The confirm's sweep: leads reached the user after step 1; the sweep's first batch has committed.
  await addLeads(t.h.prisma, t.ws.id, leaver, LATE);
  await passRoutingSteps(t.h.wizard, t.ws.id, deletion.id, actor);
  await t.h.wizard.confirm(t.ws.id, deletion.id, actor, { confirmation: 'CONFIRM' });
  p = await w.paused();
  expect((await moveRow(deletion.id, 'SWEEP')).moved).toBe(BATCH);
  expect(await w.kill()).toBe('SIGKILL');
  expect(await total()).toBe(before + LATE);
  // (The mid-move kill waited for the heartbeat timeout; here the dead attempt is reported at once.)
  await failDeadAttempt(t.h.temporal, p);

  // 4. The removal: the user is removed (committed), the activity has not reported.
  w = await worker({ activity: 'removeUser', at: 'after' });
  p = await w.paused(90_000);
  expect(await t.h.prisma.user.findUnique({ where: { id: leaver } })).toBeNull();
  expect(await w.kill()).toBe('SIGKILL');
  await failDeadAttempt(t.h.temporal, p);
  w = await worker();

  const done = await finished(t.h.wizard, t.ws.id, deletion.id, 90_000);
  expect(done).toMatchObject({ status: 'COMPLETED', step: 'DONE', leads: { total: BOOK, moved: BOOK, swept: LATE } });
  // Every lead has exactly one owner, the one the wizard chose; none was lost or made twice.
  expect(await leadsByOwner(t.h.prisma, t.ws.id)).toEqual({ [ann]: 7 + BOOK + LATE, [t.ws.users.quitter!.id]: BOOK });
  expect(await total()).toBe(before + LATE);
  expect((await moveRow(deletion.id, 'SWEEP')).batches).toBe(LATE / BATCH);
  // Each change was applied and recorded once, whatever ran twice.
  expect(await auditCounts(t.h.wizard, t.ws.id, deletion.id)).toMatchObject({
    DELETION_STARTED: 1,
    LEADS_MOVED: 1,
    AUTOMATIONS_APPLIED: 1,
    INTEGRATIONS_APPLIED: 1,
    LABELS_APPLIED: 1,
    LEADS_SWEPT: 1,
    USER_DELETED: 1,
  });
  await w.kill();
}, 300_000);

test('cancel right after the worker was killed mid-slice: CANCELLED, the user ACTIVE, what moved stays moved', async () => {
  const quitter = t.ws.users.quitter!.id;
  const bea = t.ws.users.bea!.id;
  const actor = asAdmin(t.ws);
  const first = await worker({ activity: 'moveLeadsSlice', kind: 'MOVE', at: 'after' });
  const { deletion } = await t.h.wizard.start({ workspaceId: t.ws.id, userId: quitter, actor, source: 'ADMIN' });
  // The replacement is built before the slice stops, so that it polls at once after the kill.
  await t.warm();
  await t.h.wizard.submitLeads(t.ws.id, deletion.id, actor, { targetUserId: bea });
  const held = holdAttemptOpen(t.h.temporal, await first.paused());
  const w = await worker();
  expect(await first.kill()).toBe('SIGKILL');

  // The killed slice is still open for the server when the cancel lands: the test heartbeats for it
  // until then, however slow the machine (on a loaded CI run the kill, the cancel's workflow task and
  // its update took over the 10 s heartbeat timeout, so the cancel met a retry instead).
  const cancelling = t.h.wizard.cancel(t.ws.id, deletion.id, actor, { reason: 'changed our mind' });
  cancelling.catch(() => undefined);
  const handle = t.h.temporal.workflow.getHandle(deletion.workflowId);
  const lastHeartbeat = () => `last failed heartbeat for it: ${String(held.lastError() ?? 'none')}`;
  let slice;
  try {
    slice = await eventually(async () => {
      const { raw } = await handle.describe();
      const a = raw.pendingActivities?.find((x) => x.activityType?.name === 'moveLeadsSlice');
      return a && a.state === CANCEL_REQUESTED ? a : undefined;
    }, 60_000, 'the cancel to reach the killed slice');
  } catch (err) {
    throw new Error(`${(err as Error).message} (${lastHeartbeat()})`);
  } finally {
    // From here on it is a dead worker's slice: the server ends it when its heartbeat times out.
    await held.release();
  }
  if (slice.attempt !== 1) throw new Error(`the cancel reached attempt ${slice.attempt}, not the killed one (${lastHeartbeat()})`);
  // Until the wizard ends, or its workflow does without it (then the wizard is stuck: the row stays IN_PROGRESS).
  const end = await eventually(
    async () => {
      const d = await t.h.wizard.get(t.ws.id, deletion.id);
      if (d.status !== 'IN_PROGRESS') return d;
      return (await handle.describe()).status.name === 'RUNNING' ? undefined : d;
    },
    90_000,
    'the wizard to end',
  );
  expect(end).toMatchObject({ status: 'CANCELLED', step: 'LEADS' });
  const closed = await eventually(async () => {
    const { status } = await handle.describe();
    return status.name === 'RUNNING' ? undefined : status.name;
  }, 30_000, 'the workflow to close');
  expect(closed).toBe('COMPLETED');
  await expect(cancelling).resolves.toMatchObject({ status: 'CANCELLED' });
  expect(await t.h.prisma.user.findUniqueOrThrow({ where: { id: quitter } })).toMatchObject({ status: 'ACTIVE' });
  // What moved before the cancel stays moved, the rest stays; each lead has one owner.
  const owners = await leadsByOwner(t.h.prisma, t.ws.id);
  expect((owners[bea] ?? 0) + (owners[quitter] ?? 0)).toBe(BOOK);
  expect(owners[bea] ?? 0).toBe(end.leads.moved);
  expect(end.leads.moved).toBeGreaterThanOrEqual(BATCH);
  await w.kill();
}, 180_000);
