// Records the history of a wizard begun on an older release of the workflow
// and finished on this one, as a fixture for tests/replay/replay.test.ts: the
// way a deploy meets a wizard paused for weeks. The older workflow code is
// taken from git (RECORD_OLD_REV, default a1613cc: the last release whose
// short transactions were activities of their own) and bundled as a worker
// of that release would have it; a worker of that bundle starts the wizard
// and moves its leads, then stops; a worker of this code takes the wizard
// through its remaining steps. Run by hand, like record.ts:
//   RECORD_STAMP=… node scripts/bootstrap.mjs test --testMatch '<rootDir>/tests/replay/record-upgrade.ts'
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { createWorker } from '../../worker';
import { testEnv } from '../support/env';
import { asAdmin, finished, makeAutomation, makeLabel, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.resolve(__dirname, '../fixtures/histories');
const OLD_REV = process.env.RECORD_OLD_REV ?? 'a1613cc';
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

async function runWorker(workflowBundlePath: string) {
  const { worker, close } = await createWorker({ config: h.config, databaseUrl: testEnv().databaseUrl, workflowBundlePath });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await close();
    },
  };
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
    const handle = h.temporal.workflow.getHandle(deletion.workflowId);
    await handle.result();
    const history = await handle.fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes)).toEqual([]);
    // Both ways are in it: activities of their own before the upgrade, local ones after.
    const kinds = new Set((history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean));
    expect(kinds).toContain('saveDeletionState');
    expect((history.events ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(true);
    fs.mkdirSync(OUT, { recursive: true });
    fs.writeFileSync(path.join(OUT, `${stamp}-upgraded-after-the-move.json`), historyToJSON(history) + '\n');
  } finally {
    await current.stop();
  }
}, 600_000);
