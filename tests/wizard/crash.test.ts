// The worker process is killed (SIGKILL) in the middle of moving 200,000
// leads, then started again: the move completes, every lead has exactly one
// owner throughout, and the retry resumes from the cursor committed with the
// last batch of each of its streams instead of starting over.
import type { ChildProcess } from 'node:child_process';
import { tsToMs } from '@temporalio/common/lib/time';
import { spawnWorkerProcess } from '../support/worker-process';
import { asAdmin, eventually, leadsByOwner, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

const BOOK = 200_000;
const BATCH = 2_000;

let h: WizardHarness;
let worker: ChildProcess | undefined;
beforeAll(async () => {
  h = await wizardHarness({ worker: false, batchSize: BATCH });
});
afterAll(async () => {
  worker?.kill('SIGKILL');
  await h?.close();
});

function startWorkerProcess(): ChildProcess {
  return spawnWorkerProcess(h.config.TEMPORAL_TASK_QUEUE, { LEAD_MOVE_BATCH_SIZE: String(BATCH) });
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? child.exitCode);
    else child.once('exit', (code, signal) => resolve(signal ?? code));
  });
}

test('a worker killed mid-move is replaced and the move completes where it stopped', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];

  worker = startWorkerProcess();
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ann });

  // Kill it once a fifth of the book has moved, early in a slice (a slice runs ~2 s), so that a
  // slice is surely in flight and must be retried rather than merely followed by the next one.
  const handle = h.temporal.workflow.getHandle(deletion.workflowId);
  await eventually(async () => {
    const m = await prisma.leadMove.findUnique({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
    if (!m || m.moved < BOOK / 5) return undefined;
    const { raw } = await handle.describe();
    const slice = raw.pendingActivities?.find((a) => a.activityType?.name === 'moveLeadsSlice' && a.lastStartedTime);
    return slice && Date.now() - tsToMs(slice.lastStartedTime) < 1_000 ? m : undefined;
  }, 240_000, 'the move to get going');
  worker.kill('SIGKILL');
  expect(await exited(worker)).toBe('SIGKILL');

  // Right after the crash: exactly what the committed batches say, and not one lead lost. Read in one
  // snapshot: a batch statement the dead worker had sent still commits (whole, with its count).
  const [atKill, owners] = await prisma.$transaction(
    async (tx) => [
      await tx.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } }),
      await leadsByOwner(tx, ws.id),
    ],
    { isolationLevel: 'RepeatableRead' },
  );
  expect(atKill.done).toBe(false);
  expect(atKill.moved).toBeLessThan(BOOK);
  expect(owners).toEqual({ [ann]: atKill.moved, [leaver]: BOOK - atKill.moved });

  worker = startWorkerProcess();
  const done = await moveDone(wizard, ws.id, deletion.id, 600_000);
  expect(done.leads).toMatchObject({ total: BOOK, moved: BOOK, state: 'DONE' });
  expect(done.step).toBe('AUTOMATIONS');
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: BOOK });

  // Resumed, not restarted: every batch ran exactly once across both workers.
  const after = await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
  expect(after.batches).toBe(BOOK / BATCH);
  // The slice that was running at the kill was retried (attempt 2+) by the new worker.
  const history = await h.temporal.workflow.getHandle(deletion.workflowId).fetchHistory();
  const starts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
  expect(Math.max(...starts)).toBeGreaterThanOrEqual(2);
  const audit = await wizard.audit(ws.id, deletion.id, { limit: 50 });
  expect(audit.items.find((e) => e.action === 'LEADS_MOVED')!.detail).toMatchObject({
    moved: BOOK,
    streams: 2,
    targets: [{ userId: ann, count: BOOK }],
  });
}, 900_000);
