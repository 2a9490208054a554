// Each update waits for a no-op activity on the acknowledgement queue before
// it writes (workflows/deletion-wizard.ts, PATCH.acceptedByActivity): by the
// time the no-op has ended, the task that accepted the update is on record.
// However it ended: with no worker polling that queue (a worker of another
// build, a misnamed queue), the update goes on after the no-op's 3 s rather
// than waiting for good. Each such update is counted in the worker's metrics.
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createWizardClient } from '../../client/wizard-client';
import { dataConverter } from '../../infra/codec';
import { createPrisma } from '../../infra/database';
import { connectWorker, temporalConnectOptions } from '../../infra/temporal-connection';
import { moveTuning, stopIfRunning } from '../../worker';
import { freePort } from '../../infra/ports';
import { testEnv } from '../support/env';
import { startFaultWorker } from '../support/faults';
import { asAdmin, leadsByOwner, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness({ worker: false, batchSize: 1_000 });
});
afterAll(() => h?.close());

test('with no worker polling the acknowledgement queue, a step still applies (after the no-op times out)', async () => {
  const queue = `${h.config.TEMPORAL_TASK_QUEUE}-no-acknowledgements`;
  const config = { ...h.config, TEMPORAL_TASK_QUEUE: queue };
  const env = testEnv();
  // The task queue's worker alone: nobody polls `${queue}-acknowledgements`.
  const connection = await connectWorker(temporalConnectOptions(config));
  const db = createPrisma(env.databaseUrl, { max: 4 });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  try {
    worker = await Worker.create({
      connection,
      namespace: env.namespace,
      taskQueue: queue,
      workflowBundle: { codePath: env.workflowBundlePath! },
      activities: createActivities(db, moveTuning(config)),
      dataConverter: dataConverter(config),
    });
    running = worker.run();
    const temporal = new Client({ connection: h.temporal.connection, namespace: env.namespace, dataConverter: dataConverter(config) });
    const wizard = createWizardClient({ temporal, prisma: h.prisma, config, waitLimitMs: 60_000 });
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 50 });
    const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
    const admin = asAdmin(ws);
    const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN' });
    await wizard.submitLeads(ws.id, deletion.id, admin, { targetUserId: ann });
    expect(await moveDone(wizard, ws.id, deletion.id, 60_000)).toMatchObject({ step: 'AUTOMATIONS', leads: { state: 'DONE', moved: 50 } });
    expect((await leadsByOwner(h.prisma, ws.id))[ann]).toBe(50);
    const events = (await temporal.workflow.getHandle(deletion.workflowId).fetchHistory()).events ?? [];
    const noop = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'acknowledgeUpdate')!;
    expect(noop.activityTaskScheduledEventAttributes!.taskQueue?.name).toBe(`${queue}-acknowledgements`);
    expect(events.filter((e) => e.activityTaskTimedOutEventAttributes?.scheduledEventId?.toString() === noop.eventId?.toString())).toHaveLength(1);
  } finally {
    if (worker) stopIfRunning(worker);
    await running?.catch(() => undefined);
    await connection.close();
    await db.$disconnect();
  }
}, 120_000);

test('an acknowledgement that never ends in time is counted in the worker\'s metrics, and the step applies', async () => {
  const coreMetrics = `127.0.0.1:${await freePort()}`;
  // The real worker process, its acknowledgement worker polling, but every no-op held before it
  // runs (as on a worker too busy to run it): each attempt times out, and the update goes on.
  const w = await startFaultWorker({
    taskQueue: h.config.TEMPORAL_TASK_QUEUE,
    batchSize: 1_000,
    coreMetrics,
    trap: { activity: 'acknowledgeUpdate', at: 'before', every: true },
    // No cache: every workflow task replays the history first, the missed one included, and a
    // replayed miss must not be counted again.
    noSticky: true,
  });
  try {
    const missed = async () => {
      const text = await (await fetch(`http://${coreMetrics}/metrics`)).text();
      const lines = text.split('\n').filter((l) => l.startsWith('crm_update_acknowledgements_missed_total'));
      return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    };
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 50 });
    const admin = asAdmin(ws);
    const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: admin, source: 'ADMIN' });
    await h.wizard.submitLeads(ws.id, deletion.id, admin, { targetUserId: ws.users.ann!.id });
    expect((await w.paused()).activity).toBe('acknowledgeUpdate');
    expect(await moveDone(h.wizard, ws.id, deletion.id, 60_000)).toMatchObject({ step: 'AUTOMATIONS', leads: { state: 'DONE', moved: 50 } });
    // One update (the lead step), one acknowledgement missed; the metric says so, once, although
    // the tasks after it (the move's progress, its end) replayed it.
    expect(await missed()).toBe(1);
    await h.wizard.submitAutomations(ws.id, deletion.id, admin, { overrides: [] });
    expect(await missed()).toBe(2);
  } finally {
    await w.kill();
  }
}, 120_000);
