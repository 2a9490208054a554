// Cancel always wins before CONFIRM, whatever the move's slice is doing: here
// the worker running a slice is SIGKILLed and the cancel arrives right after,
// while that slice is still "running" on the dead worker as far as Temporal
// knows. The wizard ends CANCELLED, the user ACTIVE, every lead with one owner.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { tsToMs } from '@temporalio/common/lib/time';
import { createWorker } from '../../worker';
import { testEnv } from '../support/env';
import { asAdmin, eventually, leadsByOwner, makeWorkspace, wizardHarness, type WizardHarness } from '../support/wizard';

const BOOK = 100_000;
const BATCH = 1_000;

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

function startWorkerProcess(): ChildProcess {
  const env = testEnv();
  return spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_TASK_QUEUE: h.config.TEMPORAL_TASK_QUEUE,
      LEAD_MOVE_BATCH_SIZE: String(BATCH),
      LEAD_MOVE_BATCH_TARGET_MS: '0',
      LEAD_MOVE_STREAMS: '1',
      WORKFLOW_BUNDLE_PATH: env.workflowBundlePath ?? '',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

test('a cancel right after the worker running a move slice was killed: CANCELLED, user ACTIVE, no lead lost', async () => {
  const { prisma, wizard, temporal } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];

  child = startWorkerProcess();
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ann });

  // Kill it early in a slice, so that the slice is surely in flight on the dead worker.
  const handle = temporal.workflow.getHandle(deletion.workflowId);
  await eventually(async () => {
    const m = await prisma.leadMove.findUnique({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
    if (!m || m.moved === 0 || m.moved >= BOOK / 2) return undefined;
    const { raw } = await handle.describe();
    const slice = raw.pendingActivities?.find((a) => a.activityType?.name === 'moveLeadsSlice' && a.lastStartedTime);
    return slice && Date.now() - tsToMs(slice.lastStartedTime) < 1_000 ? m : undefined;
  }, 240_000, 'a move slice to be running');
  child.kill('SIGKILL');
  await new Promise((resolve) => (child!.exitCode !== null || child!.signalCode !== null ? resolve(null) : child!.once('exit', resolve)));

  // A new worker comes up, and the admin cancels.
  replacement = await createWorker({ config: h.config, databaseUrl: testEnv().databaseUrl, workflowBundlePath: testEnv().workflowBundlePath ?? undefined });
  running = replacement.worker.run();
  const cancelled = await wizard.cancel(ws.id, deletion.id, asAdmin(ws), { reason: 'changed our mind' });

  expect(cancelled).toMatchObject({ status: 'CANCELLED', leads: { state: 'DONE' } });
  expect(await prisma.user.findUnique({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
  const owners = await leadsByOwner(prisma, ws.id);
  expect((owners[ann] ?? 0) + (owners[leaver] ?? 0)).toBe(BOOK);
  expect(owners[ann]).toBe(cancelled.leads.moved);
  // The workflow itself ended well (not failed), and nothing moves any more.
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  await new Promise((r) => setTimeout(r, 1_500));
  expect(await leadsByOwner(prisma, ws.id)).toEqual(owners);
  const audit = await wizard.audit(ws.id, deletion.id, { limit: 50 });
  expect(audit.items.map((e) => e.action)).toEqual(['DELETION_STARTED', 'LEADS_MOVED', 'DELETION_CANCELLED']);
}, 600_000);
