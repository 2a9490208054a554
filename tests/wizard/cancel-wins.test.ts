// Cancel always wins before CONFIRM, whatever the move's slice is doing: here
// the worker running a slice is SIGKILLed and the cancel arrives right after,
// while that slice is still "running" on the dead worker as far as Temporal
// knows. The wizard ends CANCELLED, the user ACTIVE, every lead with one owner.
import type { ChildProcess } from 'node:child_process';
import { temporal as temporalProto } from '@temporalio/proto';
import { Client } from 'pg';
import { createWorker } from '../../worker';
import { testEnv } from '../support/env';
import { spawnWorkerProcess } from '../support/worker-process';
import { asAdmin, eventually, leadsByOwner, makeWorkspace, wizardHarness, type WizardHarness } from '../support/wizard';

const BOOK = 30_000;
const BATCH = 500;

let h: WizardHarness;
let child: ChildProcess | undefined;
let replacement: Awaited<ReturnType<typeof createWorker>> | undefined;
let running: Promise<void> | undefined;
beforeAll(async () => {
  h = await wizardHarness({ worker: false, batchSize: BATCH });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  if (replacement) {
    replacement.worker.shutdown();
    await running;
    await replacement.close();
  }
  await h?.close();
});

// One batch a turn (a round trip each, as a move ran before turns): the move lasts long enough to be
// caught with a slice in flight, even on PGlite, whose one backend a 200-ms turn would hold.
const ONE_BATCH_A_TURN = 0;

function startWorkerProcess(): ChildProcess {
  return spawnWorkerProcess(h.config.TEMPORAL_TASK_QUEUE, {
    LEAD_MOVE_BATCH_SIZE: String(BATCH),
    LEAD_MOVE_STREAMS: '1',
    LEAD_MOVE_TURN_MS: String(ONE_BATCH_A_TURN),
  });
}

const workerConfig = () => ({ ...h.config, LEAD_MOVE_TURN_MS: ONE_BATCH_A_TURN });

test('a cancel right after the worker running a move slice was killed: CANCELLED, user ACTIVE, no lead lost', async () => {
  const { prisma, wizard, temporal } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];

  child = startWorkerProcess();
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ann });

  // Hold the move's rows (a plain client, one transaction) so that the slice now running is surely
  // in flight, blocked on them, when its worker is killed.
  const handle = temporal.workflow.getHandle(deletion.workflowId);
  await eventually(async () => {
    const m = await prisma.leadMove.findUnique({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
    return m && m.moved > 0 ? m : undefined;
  }, 240_000, 'the move to get going');
  const hold = new Client({ connectionString: testEnv().databaseUrl });
  await hold.connect();
  // The dead worker's statements left waiting on the hold (none on PGlite, where the hold runs alone).
  let orphans: number[] = [];
  try {
    await hold.query('BEGIN');
    // Streams first, then the move: the order a batch takes them in.
    await hold.query(`SELECT 1 FROM lead_move_streams WHERE deletion_id = $1 ORDER BY stream FOR UPDATE`, [deletion.id]);
    await hold.query(`SELECT 1 FROM lead_moves WHERE deletion_id = $1 FOR UPDATE`, [deletion.id]);
    await eventually(async () => {
      const { raw } = await handle.describe();
      const slice = raw.pendingActivities?.find((a) => a.activityType?.name === 'moveLeadsSlice');
      return slice && String(slice.state) === String(temporalProto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) ? slice : undefined;
    }, 60_000, 'a move slice in flight');
    child.kill('SIGKILL');
    await new Promise((resolve) => (child!.exitCode !== null || child!.signalCode !== null ? resolve(null) : child!.once('exit', resolve)));
    const blocked = await hold.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))`,
    );
    orphans = blocked.rows.map((r) => r.pid);
  } finally {
    await hold.query('ROLLBACK');
    await hold.end();
  }
  const before = await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
  expect(before.done).toBe(false);

  // A new worker comes up, and the admin cancels.
  replacement = await createWorker({ config: workerConfig(), databaseUrl: testEnv().databaseUrl, workflowBundlePath: testEnv().workflowBundlePath ?? undefined });
  running = replacement.worker.run();
  const cancelled = await wizard.cancel(ws.id, deletion.id, asAdmin(ws), { reason: 'changed our mind' });

  expect(cancelled).toMatchObject({ status: 'CANCELLED', leads: { state: 'DONE' } });
  expect(await prisma.user.findUnique({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
  const owners = await leadsByOwner(prisma, ws.id);
  expect((owners[ann] ?? 0) + (owners[leaver] ?? 0)).toBe(BOOK);
  expect(owners[ann]).toBe(cancelled.leads.moved);
  // The workflow itself ended well (not failed), and nothing moves any more.
  await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), 30_000, 'the workflow to end');
  // Whatever could still move leads has had its chance: the dead worker's statements that waited on
  // the hold have run and their sessions ended, and no slice runs on the new worker.
  await eventually(async () => {
    const [left] = await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY(${orphans}::int[])`;
    return left!.n === 0 ? true : undefined;
  }, 60_000, "the dead worker's statements to end");
  await eventually(async () => (replacement!.worker.getStatus().numInFlightActivities === 0 ? true : undefined), 60_000, 'the move slice to end');
  expect(await leadsByOwner(prisma, ws.id)).toEqual(owners);
  const audit = await wizard.audit(ws.id, deletion.id, { limit: 50 });
  expect(audit.items.map((e) => e.action)).toEqual(['DELETION_STARTED', 'LEADS_MOVED', 'DELETION_CANCELLED']);
}, 600_000);

test('a cancel while the slice is stuck past its heartbeat timeout (blocked in the database): CANCELLED, user ACTIVE', async () => {
  const { prisma, wizard, temporal } = h;
  if (!replacement) {
    replacement = await createWorker({ config: workerConfig(), databaseUrl: testEnv().databaseUrl, workflowBundlePath: testEnv().workflowBundlePath ?? undefined });
    running = replacement.worker.run();
  }
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ann });
  const handle = temporal.workflow.getHandle(deletion.workflowId);
  await eventually(async () => {
    const m = await prisma.leadMove.findUnique({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
    return m && m.moved > 0 ? m : undefined;
  }, 240_000, 'the move to get going');
  const hold = new Client({ connectionString: testEnv().databaseUrl });
  await hold.connect();
  let cancel: Promise<unknown>;
  try {
    await hold.query('BEGIN');
    await hold.query(`SELECT 1 FROM lead_move_streams WHERE deletion_id = $1 ORDER BY stream FOR UPDATE`, [deletion.id]);
    await hold.query(`SELECT 1 FROM lead_moves WHERE deletion_id = $1 FOR UPDATE`, [deletion.id]);
    await eventually(async () => {
      const { raw } = await handle.describe();
      const slice = raw.pendingActivities?.find((a) => a.activityType?.name === 'moveLeadsSlice');
      return slice && String(slice.state) === String(temporalProto.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) ? slice : undefined;
    }, 60_000, 'a move slice in flight');
    cancel = wizard.cancel(ws.id, deletion.id, asAdmin(ws), {}).catch((e: unknown) => e);
    // The slice cannot heartbeat: Temporal times it out (10 s) while the cancel waits.
    await eventually(async () => {
      const { raw } = await handle.describe();
      const slice = raw.pendingActivities?.find((a) => a.activityType?.name === 'moveLeadsSlice');
      return !slice || slice.lastFailure || (slice.attempt ?? 1) > 1 ? true : undefined;
    }, 60_000, 'the slice to time out');
  } finally {
    await hold.query('ROLLBACK');
    await hold.end();
  }
  const cancelled = await cancel;
  expect(cancelled).toMatchObject({ status: 'CANCELLED' });
  expect(await prisma.user.findUnique({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
  await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), 30_000, 'the workflow to end');
  const owners = await leadsByOwner(prisma, ws.id);
  expect((owners[ann] ?? 0) + (owners[leaver] ?? 0)).toBe(BOOK);
}, 600_000);
