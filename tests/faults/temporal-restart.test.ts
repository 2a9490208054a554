// The Temporal server SIGKILLed in the middle of a wizard and started again on
// the same port and SQLite file: the wizard is where it was (same step, same
// committed progress, same run) and goes on to the end. The shared test
// server is in memory, so this test runs a dev server of its own.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal-server';
import { freePort } from '../../infra/ports';
import { testEnv } from '../support/env';
import { auditCounts, faultHarness, killAllChildren, passRoutingSteps, startFaultWorker, type FaultHarness } from '../support/faults';
import { asAdmin, eventually, finished, leadsByOwner, makeWorkspace, moveDone } from '../support/wizard';

const NAMESPACE = 'crm-offboarding-faults';
const BATCH = 100;
const BOOK = 1_000;

let dir: string;
let server: TemporalDevServer | undefined;
let h: FaultHarness | undefined;
afterAll(async () => {
  await killAllChildren();
  await h?.close();
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** true once nothing listens on the port (the killed server's process may outlive its launcher by a moment). */
const portFree = (port: number) =>
  new Promise<true | undefined>((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(undefined));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

const startServer = (port: number) =>
  startTemporalDevServer({
    cliPath: testEnv().cliPath,
    port,
    uiPort: null,
    dbFile: path.join(dir, 'temporal.db'),
    namespace: NAMESPACE,
    log: () => undefined,
  });

test('the Temporal server killed mid-move and restarted: the wizard resumes where it was and completes', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-fault-temporal-'));
  const port = await freePort();
  server = await startServer(port);
  h = await faultHarness({ temporalAddress: server.address, namespace: NAMESPACE });
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const actor = asAdmin(ws);

  const worker = await startFaultWorker({
    taskQueue: h.taskQueue,
    temporalAddress: server.address,
    namespace: NAMESPACE,
    batchSize: BATCH,
    sliceBudgetMs: 0,
    trap: { activity: 'moveLeadsSlice', kind: 'MOVE', at: 'after' },
    // The paused slice stops heartbeating, and the server may time it out once it is back (a kill and
    // a restart can take over 10 s on a loaded machine): its retry must not run before the checks below.
    oneActivity: true,
  });
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  await h.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: ann });
  await worker.paused();
  const handle = h.temporal.workflow.getHandle(deletion.workflowId);
  const { runId } = await handle.describe();
  const atKill = await h.wizard.get(ws.id, deletion.id);
  expect(atKill).toMatchObject({ step: 'LEADS', leads: { state: 'MOVING', moved: BATCH } });

  // SIGKILL the server (its launcher's whole process group), then start it again on the same port and file.
  process.kill(-server.pid, 'SIGKILL');
  await server.stop();
  await eventually(() => portFree(port), 30_000, 'the killed server to let go of its port');
  server = await startServer(port);

  // Where it was: the same run, still moving, with the slice the worker holds still pending.
  const described = await handle.describe();
  expect(described.runId).toBe(runId);
  expect(described.status.name).toBe('RUNNING');
  expect(described.raw.pendingActivities?.map((a) => a.activityType?.name)).toEqual(['moveLeadsSlice']);
  expect(await h.wizard.get(ws.id, deletion.id)).toMatchObject({ step: 'LEADS', leads: { state: 'MOVING', moved: BATCH } });

  worker.release();
  await moveDone(h.wizard, ws.id, deletion.id, 120_000);
  await passRoutingSteps(h.wizard, ws.id, deletion.id, actor);
  await h.wizard.confirm(ws.id, deletion.id, actor, { confirmation: 'CONFIRM' });
  const done = await finished(h.wizard, ws.id, deletion.id, 90_000);
  expect(done).toMatchObject({ status: 'COMPLETED', leads: { total: BOOK, moved: BOOK } });
  expect(await leadsByOwner(h.prisma, ws.id)).toEqual({ [ann]: BOOK });
  const move = await h.prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
  expect(move.batches).toBe(BOOK / BATCH);
  expect(await auditCounts(h.wizard, ws.id, deletion.id)).toMatchObject({ DELETION_STARTED: 1, LEADS_MOVED: 1, USER_DELETED: 1 });
  expect((await handle.describe()).runId).toBe(runId);
  await worker.kill();
}, 240_000);
