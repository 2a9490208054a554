// A wizard left open for months grows a long history. When the server
// suggests it, the wizard starts afresh (continue-as-new) with its state,
// while it waits for the admin, and goes on as if nothing happened. Here on a
// Temporal server of this file's own that suggests it after a few dozen
// events, so it happens again and again in one wizard.
import type { WorkflowExecutionStatusName } from '@temporalio/client';
import type { DeletionStatus } from '../../domain/schemas';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal-server';
import { testEnv } from '../support/env';
import { asAdmin, eventually, finished, leadsByOwner, makeAutomation, makeLabel, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

let server: TemporalDevServer;
let h: WizardHarness;
beforeAll(async () => {
  server = await startTemporalDevServer({
    cliPath: testEnv().cliPath,
    port: 0,
    uiPort: null,
    dbFile: null,
    namespace: testEnv().namespace,
    log: () => undefined,
    extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=12'],
  });
  h = await wizardHarness({ batchSize: 500, temporalAddress: server.address });
}, 120_000);
afterAll(async () => {
  await h?.close();
  await server?.stop();
});

test('a wizard whose history grows long starts afresh with its state at its pauses and still ends COMPLETED', async () => {
  const { prisma, wizard, temporal } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3_000 });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const sole = await makeAutomation(prisma, ws.id, 'Sole', [{ userId: leaver, weight: 100 }]);
  await makeLabel(prisma, ws.id, 'Team', 'SHARED', leaver, [leaver, ann]);
  const admin = asAdmin(ws);

  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN' });
  const id = deletion.id;
  await wizard.submitLeads(ws.id, id, admin, { targetUserId: ann });
  const moved = await moveDone(wizard, ws.id, id);
  expect(moved.leads).toMatchObject({ state: 'DONE', moved: 3_000, total: 3_000 });
  await wizard.submitAutomations(ws.id, id, admin, { overrides: [{ automationId: sole, distribution: [{ userId: ann, weight: 100 }] }] });
  await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });
  const atLabels = await wizard.get(ws.id, id);
  expect(atLabels.step).toBe('LABELS');
  await wizard.submitLabels(ws.id, id, admin, { replacements: [] });
  await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
  const done = await finished(wizard, ws.id, id);
  expect(done.status).toBe<DeletionStatus>('COMPLETED');
  // What the earlier runs did is still in the view the last one ends with.
  expect(done.leads).toMatchObject({ state: 'DONE', moved: 3_000, total: 3_000 });
  expect(done.automations).toEqual(atLabels.automations);

  // It did start afresh: more than one run, every one but the last continued as new.
  await temporal.workflow.getHandle(deletion.workflowId).result(); // follows the runs to the last one's end
  const runs = await eventually(async () => {
    const seen: { runId: string; status: WorkflowExecutionStatusName }[] = [];
    for await (const run of temporal.workflow.list({ query: `WorkflowId = '${deletion.workflowId}'` })) seen.push({ runId: run.runId, status: run.status.name });
    return seen.some((r) => r.status === 'COMPLETED') ? seen : undefined; // the list catches up a moment after the close
  });
  const statuses = runs.map((r) => r.status);
  expect(statuses.length).toBeGreaterThan(2); // more than once: state carried across runs that were themselves carried
  // No run's workflow task failed on the way (an admin's answer lost with it, temporalio/temporal#7296).
  for (const { runId } of runs) {
    const events = (await temporal.workflow.getHandle(deletion.workflowId, runId).fetchHistory()).events ?? [];
    expect(events.filter((e) => e.workflowTaskFailedEventAttributes).map((e) => e.workflowTaskFailedEventAttributes!.cause)).toEqual([]);
  }
  expect(statuses.filter((s) => s === 'COMPLETED')).toHaveLength(1);
  expect(statuses.filter((s) => s !== 'COMPLETED').every((s) => s === 'CONTINUED_AS_NEW')).toBe(true);
  // And nothing was done twice: every lead moved once, to ann; each step audited once.
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 3_000 });
  const actions = (await prisma.auditEvent.findMany({ where: { deletionId: id }, select: { action: true } })).map((a) => a.action);
  for (const action of ['DELETION_STARTED', 'LEADS_MOVED', 'AUTOMATIONS_APPLIED', 'LABELS_APPLIED', 'USER_DELETED']) {
    expect(actions.filter((a) => a === action)).toHaveLength(1);
  }
}, 300_000);
