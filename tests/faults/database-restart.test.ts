// The database restarted in the middle of a move: the move finishes, no lead
// is lost or moved twice. Never the shared database: on a PostgreSQL run, a
// throw-away cluster of this test's own (restarted with `pg_ctl restart -m
// immediate`, a crash and recovery); on the embedded run, a PGlite server of
// its own in a child process (SIGKILLed and started again on the same files).
// The point is forced: the worker is stopped at the start of the move's second
// slice; a test connection then opens a transaction that locks the leads table
// (on PGlite any open transaction holds the one backend) and the slice is let
// go, so it cannot finish before the restart: on PostgreSQL its batch is seen
// waiting on the lock (pg_stat_activity) when the restart comes; on PGlite its
// first statement queues behind the open transaction or meets the dead server.
import { Client as PgClient } from 'pg';
import {
  auditCounts,
  faultHarness,
  killAllChildren,
  passRoutingSteps,
  startFaultWorker,
  startScratchDatabase,
  type FaultHarness,
  type ScratchDatabase,
} from '../support/faults';
import { asAdmin, eventually, finished, leadsByOwner, makeWorkspace, moveDone } from '../support/wizard';

const BATCH = 100;
const BOOK = 1_000;

let db: ScratchDatabase | undefined;
let h: FaultHarness | undefined;
afterAll(async () => {
  await killAllChildren();
  await h?.close();
  await db?.stop();
});

test('the database restarted under a running move: the move finishes, nothing lost or doubled', async () => {
  db = await startScratchDatabase();
  h = await faultHarness({ databaseUrl: db.url });
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' }, { leaver: BOOK, bob: 10 });
  const [leaver, ann, bob] = [ws.users.leaver!.id, ws.users.ann!.id, ws.users.bob!.id];
  const actor = asAdmin(ws);

  const worker = await startFaultWorker({
    taskQueue: h.taskQueue,
    databaseUrl: db.url,
    batchSize: BATCH,
    sliceBudgetMs: 0,
    trap: { activity: 'moveLeadsSlice', kind: 'MOVE', at: 'before', nth: 2 },
  });
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  await h.wizard.submitLeads(ws.id, deletion.id, actor, { distribution: [{ userId: ann, weight: 50 }, { userId: bob, weight: 50 }] });
  await worker.paused();
  const move = () => h!.prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
  expect((await move()).moved).toBe(BATCH);

  // Hold the database, let the slice go, restart the database under it.
  const holder = new PgClient({ connectionString: db.url });
  holder.on('error', () => undefined); // its connection dies with the restart
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE leads IN ACCESS EXCLUSIVE MODE');
  worker.release();
  await worker.message('running', 10_000);
  if (db.kind === 'PostgreSQL') {
    await eventually(
      async () => {
        const { rows } = await holder.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock'`,
        );
        return rows[0]!.n >= 1 ? true : undefined;
      },
      30_000,
      'the slice to wait on the locked leads',
    );
  }
  await db.restart();
  await holder.end().catch(() => undefined);
  await h.reconnectDatabase();

  // The slice that was cut off is retried from the committed cursor and the move goes on.
  const moved = await moveDone(h.wizard, ws.id, deletion.id, 120_000);
  expect(moved).toMatchObject({ status: 'IN_PROGRESS', step: 'AUTOMATIONS', leads: { total: BOOK, moved: BOOK, state: 'DONE' } });
  expect(await leadsByOwner(h.prisma, ws.id)).toEqual({ [ann]: BOOK / 2, [bob]: BOOK / 2 + 10 });
  expect((await move()).batches).toBe(BOOK / BATCH);
  // The restart did cut a slice off: it was retried (attempt 2 or later).
  const history = await h.temporal.workflow.getHandle(deletion.workflowId).fetchHistory();
  const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
  expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);

  await passRoutingSteps(h.wizard, ws.id, deletion.id, actor);
  await h.wizard.confirm(ws.id, deletion.id, actor, { confirmation: 'CONFIRM' });
  expect(await finished(h.wizard, ws.id, deletion.id, 90_000)).toMatchObject({ status: 'COMPLETED' });
  expect(await leadsByOwner(h.prisma, ws.id)).toEqual({ [ann]: BOOK / 2, [bob]: BOOK / 2 + 10 });
  expect(await auditCounts(h.wizard, ws.id, deletion.id)).toMatchObject({ DELETION_STARTED: 1, LEADS_MOVED: 1, USER_DELETED: 1 });
  await worker.kill();
}, 240_000);
