// Records the history of a wizard begun on an older release of the workflow
// and finished on this one, as a fixture for tests/replay/replay.test.ts: the
// way a deploy meets a wizard paused for weeks. The older workflow code is
// taken from git (RECORD_OLD_REV, default a1613cc: the last release whose
// short transactions were activities of their own) and bundled as a worker
// of that release would have it (only the workflow code is old: the worker
// runs this checkout's activities, whose names and results that release
// shares); a worker of that bundle starts the wizard
// and moves its leads (all of them, or, in the second recording, a part:
// the deploy lands mid-move), then stops; a worker of this code takes the
// wizard through its remaining steps. The third recording begins on the
// release whose updates waited for their acceptance with a 1 ms timer
// (RECORD_TIMER_REV) and ends on this one, which waits with a no-op activity.
// Run by hand, like record.ts (-t 'timer' for the third alone):
//   RECORD_STAMP=… node scripts/bootstrap.mjs test --testMatch '<rootDir>/tests/replay/record-upgrade.ts'
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createWorker } from '../../worker';
import { offboardUser } from '../../client/offboarding';
import { testEnv } from '../support/env';
import { passRoutingSteps } from '../support/faults';
import { MovePace, untilMidMove } from '../support/move-pace';
import { createPrisma } from '../../infra/database';
import { asAdmin, eventually, finished, makeAutomation, makeLabel, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.resolve(__dirname, '../fixtures/histories');
const OLD_REV = process.env.RECORD_OLD_REV ?? 'a1613cc';
// The last release whose updates waited for their acceptance with a 1 ms timer (not the no-op).
const TIMER_REV = process.env.RECORD_TIMER_REV ?? 'f76185c';
// The last release whose wait for HR's date could not be brought forward.
const WAIT_REV = process.env.RECORD_WAIT_REV ?? 'bfc0809';
const stamp = process.env.RECORD_STAMP ?? new Date().toISOString().slice(0, 10);

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness({ worker: false, batchSize: 1_000 });
});
afterAll(() => h?.close());

/** The workflow bundle of `rev`: its workflows/, domain/ and workflow interceptors, resolved against this checkout's node_modules. */
async function bundleOf(rev: string): Promise<string> {
  const dir = path.join(ROOT, 'test-artifacts', `workflows-${rev}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const archive = execFileSync('git', ['archive', rev, 'workflows', 'domain', 'infra/tracing-workflow.ts'], { cwd: ROOT, maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(dir, 'workflows', 'index.ts'),
    workflowInterceptorModules: [path.join(dir, 'infra', 'tracing-workflow.ts')],
    logger: new DefaultLogger('WARN'),
  });
  const file = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(file, code);
  return file;
}

/** A worker of `workflowBundlePath` (this checkout's activities); with `pace`, its batches pass that gate. */
async function runWorker(workflowBundlePath: string, pace?: MovePace) {
  const config = h.config;
  const pacedDb = pace ? createPrisma(testEnv().databaseUrl, { max: 4 + 2 * config.LEAD_MOVE_STREAMS }) : undefined;
  const options = pacedDb
    ? {
        activities: createActivities(pace!.gate(pacedDb), {
          min: 100,
          max: config.LEAD_MOVE_BATCH_SIZE,
          targetMs: config.LEAD_MOVE_BATCH_TARGET_MS,
          streams: config.LEAD_MOVE_STREAMS,
        }),
        // A deploy's old worker stops at once: its slice is told to stop after its current batches.
        shutdownGraceTime: 0,
      }
    : undefined;
  const { worker, close } = await createWorker({ config, databaseUrl: testEnv().databaseUrl, workflowBundlePath, options });
  const running = worker.run();
  return {
    /** Shuts down; resolves when the worker has stopped (`release` runs once shutdown has begun). */
    async stop(release?: () => void) {
      worker.shutdown();
      release?.();
      await running;
      await close();
      await pacedDb?.$disconnect();
    },
  };
}

type Events = NonNullable<Awaited<ReturnType<ReturnType<WizardHarness['temporal']['workflow']['getHandle']>['fetchHistory']>>['events']>;

/** Both ways are in it: activities of their own before the upgrade, local ones after. */
function bothWaysOfTransactions(events: Events) {
  const kinds = new Set(events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean));
  expect(kinds).toContain('saveDeletionState');
  expect(events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(true);
}

/** The history of the closed run of `workflowId`, checked free of failed tasks and by `check`, written as fixture `name`. */
async function saveClosed(name: string, workflowId: string, check: (events: Events) => void = bothWaysOfTransactions) {
  const handle = h.temporal.workflow.getHandle(workflowId);
  await handle.result();
  const history = await handle.fetchHistory();
  expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
  check(history.events ?? []);
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, `${stamp}-${name}.json`), historyToJSON(history) + '\n');
}

test('record a wizard begun on an older release and finished on this one', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 5_000 });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const sole = await makeAutomation(prisma, ws.id, 'Sole', [{ userId: leaver, weight: 100 }]);
  await makeLabel(prisma, ws.id, 'Team', 'SHARED', leaver, [leaver, ann]);
  const admin = asAdmin(ws);

  // The older release opens the wizard and moves the leads.
  const old = await runWorker(await bundleOf(OLD_REV));
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN' });
  const id = deletion.id;
  await wizard.submitLeads(ws.id, id, admin, { targetUserId: ann });
  await moveDone(wizard, ws.id, id, 300_000);
  await old.stop();

  // This release replays that and goes on.
  const current = await runWorker(testEnv().workflowBundlePath!);
  try {
    await wizard.submitAutomations(ws.id, id, admin, { overrides: [{ automationId: sole, distribution: [{ userId: ann, weight: 100 }] }] });
    await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });
    await wizard.submitLabels(ws.id, id, admin, { replacements: [] });
    await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
    expect((await finished(wizard, ws.id, id)).status).toBe('COMPLETED');
    await saveClosed('upgraded-after-the-move', deletion.workflowId);
  } finally {
    await current.stop();
  }
}, 600_000);

test('record a wizard whose move began on an older release and ended on this one', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 20_000 });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const admin = asAdmin(ws);

  // The older release opens the wizard and starts the move; its first slice reports, the second runs.
  const pace = new MovePace();
  const old = await runWorker(await bundleOf(OLD_REV), pace);
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN' });
  const id = deletion.id;
  pace.hold();
  await wizard.submitLeads(ws.id, id, admin, { targetUserId: ann });
  await untilMidMove(pace, h.temporal, deletion.workflowId);
  // The deploy: the old worker stops; its running slice ends after the batches let through now.
  await eventually(async () => (pace.waiting > 0 ? true : undefined));
  await old.stop(() => pace.let(2));
  const before = (await wizard.get(ws.id, id)).leads;
  expect(before.state).toBe('MOVING');
  expect(before.moved).toBeGreaterThan(0);
  expect(before.moved).toBeLessThan(20_000);

  // This release replays that, retries the slice from the committed cursors and goes on.
  pace.open();
  const current = await runWorker(testEnv().workflowBundlePath!);
  try {
    await moveDone(wizard, ws.id, id, 300_000);
    expect(await prisma.lead.count({ where: { workspaceId: ws.id, ownerId: ann } })).toBe(20_000);
    await passRoutingSteps(wizard, ws.id, id, admin);
    await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
    expect((await finished(wizard, ws.id, id)).status).toBe('COMPLETED');
    await saveClosed('upgraded-mid-move', deletion.workflowId);
  } finally {
    await current.stop();
  }
}, 600_000);

test('record a wizard whose first steps waited with the 1 ms timer and the next ones with the no-op', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 2_000 });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const admin = asAdmin(ws);

  // The release with the timer opens the wizard and takes the lead step and the automations.
  const old = await runWorker(await bundleOf(TIMER_REV));
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN' });
  const id = deletion.id;
  await wizard.submitLeads(ws.id, id, admin, { targetUserId: ann });
  await moveDone(wizard, ws.id, id, 300_000);
  await wizard.submitAutomations(ws.id, id, admin, { overrides: [] });
  await old.stop();

  // This release replays the timers and waits for the no-op from the next step on.
  const current = await runWorker(testEnv().workflowBundlePath!);
  try {
    await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });
    await wizard.submitLabels(ws.id, id, admin, { replacements: [] });
    await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
    expect((await finished(wizard, ws.id, id)).status).toBe('COMPLETED');
    await saveClosed('upgraded-timer-to-acknowledgement', deletion.workflowId, (events) => {
      const acknowledged = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'acknowledgeUpdate');
      // integrations, labels, confirm, and the run's end in a task of its own
      // (end-in-a-task-of-its-own-by-activity; a 1 ms timer before it, in `2026-12-01-upgraded-timer-to-acknowledgement`)
      expect(acknowledged).toHaveLength(4);
      // lead step and automations
      expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(2);
    });
  } finally {
    await current.stop();
  }
}, 600_000);

test('record an HR wizard waiting for its date on the release before dates could be brought forward, brought forward on this one', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 200 });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const admin = asAdmin(ws);

  // The release before `bringForward` opens HR's wizard and begins the wait for its date (one timer).
  const old = await runWorker(await bundleOf(WAIT_REV));
  const { deletion } = await wizard.start({
    workspaceId: ws.id,
    userId: leaver,
    actor: { type: 'HR', id: 'E-7' },
    source: 'HR',
    effectiveAt: new Date(Date.now() + 30 * 86_400_000),
  });
  await old.stop();

  // This release: the identity provider deactivates the user, which brings the date forward to now.
  const current = await runWorker(testEnv().workflowBundlePath!);
  try {
    expect((await offboardUser({ prisma, wizard }, { workspaceId: ws.id, userId: leaver, source: 'IDP', actor: { type: 'IDP', id: 'recording' } })).joined).toBe(true);
    await eventually(async () => ((await prisma.user.findUniqueOrThrow({ where: { id: leaver } })).status === 'PENDING_DELETION' ? true : undefined), 30_000);
    await wizard.submitLeads(ws.id, deletion.id, admin, { targetUserId: ann });
    await moveDone(wizard, ws.id, deletion.id, 300_000);
    await passRoutingSteps(wizard, ws.id, deletion.id, admin);
    await wizard.confirm(ws.id, deletion.id, admin, { confirmation: 'CONFIRM' });
    expect((await finished(wizard, ws.id, deletion.id)).status).toBe('COMPLETED');
    await saveClosed('hr-waiting-upgraded-then-brought-forward', deletion.workflowId, (events) => {
      // The first date's timer, cancelled by the bring-forward, and the 1-ms one for now.
      expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(2);
      expect(events.filter((e) => e.timerCanceledEventAttributes)).toHaveLength(1);
    });
  } finally {
    await current.stop();
  }
}, 600_000);
