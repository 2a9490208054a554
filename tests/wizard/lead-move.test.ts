// The bulk move's streams, driven directly (no workflow) on the real test
// database: what the wizard relies on when attempts overlap, when a move
// begun by a single-stream worker is continued, and when leads disappear
// under a running move.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { leadMoveActivities } from '../../activities/lead-move/activities';
import { leadMoveEngine, type MoveTuning, type SliceIo } from '../../activities/lead-move/engine';
import { layOut, streamRun } from '../../activities/lead-move/sql';
import { wizardRecordActivities } from '../../activities/wizard-records';
import type { PrismaClient } from '../../generated/prisma/client';
import { createPrisma } from '../../infra/database';
import { DATABASE_KINDS } from '../db/helpers';
import { testEnv } from '../support/env';
import { eventually, leadsByOwner, makeWorkspace, type TestWorkspace } from '../support/wizard';

/** Fixed batches of 1,000 in two streams, so batches can be counted. */
const TUNING: MoveTuning = { min: 100, max: 1_000, targetMs: 0, streams: 2 };

let prisma: PrismaClient;
beforeAll(() => {
  prisma = createPrisma(testEnv().databaseUrl, { max: 8 });
});
afterAll(async () => {
  await prisma?.$disconnect();
});

const io = (signal = new AbortController().signal): SliceIo & { beats: unknown[] } => {
  const beats: unknown[] = [];
  return { beats, heartbeat: (d) => beats.push(d), signal, log: { info: () => {} } };
};

async function deletionFor(ws: TestWorkspace, handle: string) {
  const u = ws.users[handle]!;
  const id = randomUUID();
  await prisma.deletion.create({
    data: {
      id,
      workspaceId: ws.id,
      workflowId: `test-${id}`,
      userId: u.id,
      userName: handle,
      userEmail: u.email,
      source: 'ADMIN',
      actorType: 'USER',
      actorId: ws.users.admin!.id,
      status: 'IN_PROGRESS',
      step: 'LEADS',
      state: {},
      startedAt: new Date(),
      updatedAt: new Date(),
    },
  });
  return id;
}

/** Who owns each lead of the workspace (the book: no one else had leads), in id order. */
async function ownersInIdOrder(workspaceId: string) {
  const rows = await prisma.lead.findMany({ where: { workspaceId }, orderBy: { id: 'asc' }, select: { ownerId: true } });
  return rows.map((r) => r.ownerId);
}

/**
 * A workspace whose leaver has `leads` leads, a deletion for them, and the
 * plan of moving the book to ann and bob at the given weights (bob only when
 * weighted).
 */
async function plannedMove(leads: number, weights: { ann: number; bob?: number }) {
  const ws = await makeWorkspace(prisma, { admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' }, { leaver: leads });
  const [leaver, ann, bob] = ['leaver', 'ann', 'bob'].map((h) => ws.users[h]!.id) as [string, string, string];
  const ids = (await prisma.lead.findMany({ where: { workspaceId: ws.id }, orderBy: { id: 'asc' }, select: { id: true } })).map((l) => l.id);
  const deletionId = await deletionFor(ws, 'leaver');
  const acts = leadMoveActivities(prisma, TUNING);
  const actor = { type: 'USER' as const, id: ws.users.admin!.id };
  const distribution = [{ userId: ann, weight: weights.ann }, ...(weights.bob ? [{ userId: bob, weight: weights.bob }] : [])];
  await acts.startLeadMove({ workspaceId: ws.id, deletionId, userId: leaver, kind: 'MOVE', distribution, actor });
  const args = { workspaceId: ws.id, deletionId, kind: 'MOVE' as const, budgetMs: 60_000 };
  return { ws, leaver, ann, bob, ids, deletionId, acts, actor, args, engine: leadMoveEngine(prisma, TUNING) };
}

test('two attempts running the same move at once move every lead once, in the planned split', async () => {
  const { ws, ann, bob, deletionId, acts, actor, args, engine } = await plannedMove(40_000, { ann: 70, bob: 30 });

  // A retried attempt beside a zombie of the previous one: both drive the same streams.
  const [a, b] = [io(), io()];
  const results = await Promise.all([engine.moveSlice(args, a), engine.moveSlice(args, b)]);
  expect(results.map((r) => r.done)).toEqual([true, true]);
  // One heartbeat per turn that acted (each turn runs batches for up to TURN_MS): at least one per
  // stream, never more than one per batch.
  expect(a.beats.length + b.beats.length).toBeGreaterThanOrEqual(2);
  expect(a.beats.length + b.beats.length).toBeLessThanOrEqual(40);

  const move = await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } } });
  // 2 streams of 20,000 in batches of 1,000: 40 batches, none run twice, none skipped.
  expect(move).toMatchObject({ moved: 40_000, total: 40_000, batches: 40, done: true });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 28_000, [bob]: 12_000 });
  // Target i got exactly positions [sum(quota<i), sum(quota<=i)) of the book in id order.
  const owners = await ownersInIdOrder(ws.id);
  expect(owners.slice(0, 28_000).every((o) => o === ann)).toBe(true);
  expect(owners.slice(28_000).every((o) => o === bob)).toBe(true);

  const { moved } = await acts.finishLeadMove({ workspaceId: ws.id, deletionId, kind: 'MOVE', actor });
  expect(moved).toBe(40_000);
  const audit = await prisma.auditEvent.findFirstOrThrow({ where: { deletionId, action: 'LEADS_MOVED' } });
  expect(audit.detail).toMatchObject({
    streams: 2,
    targets: [
      { userId: ann, count: 28_000 },
      { userId: bob, count: 12_000 },
    ],
  });
}, 120_000);

test('a turn runs batches one after another in the database, each sized by the rule from the one before', async () => {
  const { ws, leaver, ann, deletionId } = await plannedMove(30_000, { ann: 100 });
  const move = { workspaceId: ws.id, deletionId, kind: 'MOVE' as const, from: leaver };
  const [stream] = (await layOut(prisma, 2, ws.id, deletionId, 'MOVE')).streams;
  const fast = { min: 100, max: 10_000, targetMs: 60_000 }; // every batch well under: each grows the next by a quarter
  const grown = await streamRun(prisma, move, stream!, { to: ann, size: 1_000, limit: 10_000, budgetMs: 60_000 }, fast);
  // 1,000 → 1,250 → 1,563 → 1,954 → 2,443, then what the limit leaves (the target's segment, the stream's end).
  expect(grown.batch_leads).toEqual([1_000, 1_250, 1_563, 1_954, 2_443, 1_790]);
  expect(grown.lock_ms).toHaveLength(6);
  // The size after the last full batch says how fast the database is; the short last one does not.
  expect(grown).toMatchObject({ moved: 10_000, done: false, matched: true, full_next_size: 3_054, next_size: 3_818 });
  const row = await prisma.leadMoveStream.findUniqueOrThrow({ where: { deletionId_kind_stream: { deletionId, kind: 'MOVE', stream: 0 } } });
  expect(row).toMatchObject({ moved: 10_000, cursor: BigInt(grown.cursor) });
  expect(await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } } })).toMatchObject({ moved: 10_000, batches: 6 });

  // Every batch over its aim: the next shrinks in proportion, never under the minimum.
  const after = { ...stream!, cursor: BigInt(grown.cursor), moved: grown.moved };
  const slow = { ...fast, targetMs: 0.001 };
  const shrunk = await streamRun(prisma, move, after, { to: ann, size: 1_000, limit: 2_000, budgetMs: 60_000 }, slow);
  expect(shrunk.batch_leads).toEqual([1_000, ...Array(10).fill(100)]);
  expect(shrunk).toMatchObject({ moved: 12_000, next_size: 100, full_next_size: 100 });

  // No budget: one batch. A caller whose view is stale (another attempt moved the stream on): nothing runs.
  const now = { ...after, cursor: BigInt(shrunk.cursor), moved: shrunk.moved };
  const one = await streamRun(prisma, move, now, { to: ann, size: 500, limit: 3_000, budgetMs: 0 }, fast);
  expect(one.batch_leads).toEqual([500]);
  const stale = await streamRun(prisma, move, now, { to: ann, size: 500, limit: 3_000, budgetMs: 60_000 }, fast);
  expect(stale).toMatchObject({ matched: false, target_active: true, batch_leads: [], moved: 12_000 });

  // The target leaves: the next turn runs nothing and says so; what moved stays moved.
  await prisma.user.update({ where: { id: ann }, data: { status: 'SUSPENDED' } });
  const latest = { ...now, cursor: BigInt(one.cursor), moved: one.moved };
  const gone = await streamRun(prisma, move, latest, { to: ann, size: 500, limit: 3_000, budgetMs: 60_000 }, fast);
  expect(gone).toMatchObject({ matched: false, target_active: false, batch_leads: [], moved: 12_500 });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 12_500, [leaver]: 17_500 });
});

/**
 * A book that grew among another owner's leads: of `total` leads in id order,
 * every `every`-th is the leaver's, the rest carl's; a move of it to ann, in
 * one stream.
 */
async function interleavedMove(every: number, total: number) {
  const ws = await makeWorkspace(prisma, { admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', carl: 'MEMBER' });
  const [leaver, ann, carl] = ['leaver', 'ann', 'carl'].map((h) => ws.users[h]!.id) as [string, string, string];
  await prisma.$executeRaw`
    INSERT INTO leads (workspace_id, owner_id, name, email)
    SELECT ${ws.id}, CASE WHEN g % ${every} = 0 THEN ${leaver} ELSE ${carl} END, 'Lead ' || g, 'lead' || g || '@example.test'
    FROM generate_series(1, ${total}) AS g`;
  const theirs = (await prisma.lead.findMany({ where: { workspaceId: ws.id, ownerId: leaver }, orderBy: { id: 'asc' }, select: { id: true } })).map((l) => l.id);
  const deletionId = await deletionFor(ws, 'leaver');
  const acts = leadMoveActivities(prisma, TUNING);
  await acts.startLeadMove({ workspaceId: ws.id, deletionId, userId: leaver, kind: 'MOVE', distribution: [{ userId: ann, weight: 100 }], actor: { type: 'USER', id: ws.users.admin!.id } });
  const move = { workspaceId: ws.id, deletionId, kind: 'MOVE' as const, from: leaver };
  const [stream] = (await layOut(prisma, 1, ws.id, deletionId, 'MOVE')).streams;
  return { ws, ann, carl, theirs, deletionId, move, stream: stream! };
}

test("a batch moves the leaver's next leads in id order and no one else's, however others' leads lie between them", async () => {
  // The leaver's leads and carl's alternate in id order (dense enough for a range).
  const { ws, ann, carl, theirs, move, stream } = await interleavedMove(2, 6_000);
  const fixed = { min: 100, max: 10_000, targetMs: 0 };

  const first = await streamRun(prisma, move, stream, { to: ann, size: 1_000, limit: 10_000, budgetMs: 0 }, { ...fixed, max: 1_000 });
  expect(first).toMatchObject({ batch_leads: [1_000], moved: 1_000, done: false });
  expect(BigInt(first.cursor)).toBe(theirs[999]);
  const owners = async () =>
    new Map((await prisma.lead.findMany({ where: { workspaceId: ws.id }, select: { id: true, ownerId: true } })).map((l) => [l.id, l.ownerId]));
  let now = await owners();
  expect(theirs.filter((id) => now.get(id) === ann)).toEqual(theirs.slice(0, 1_000));
  expect([...now.values()].filter((o) => o === carl)).toHaveLength(3_000);

  // The rest in batches of 700: the last one short, the stream done, carl's leads untouched.
  const rest = await streamRun(prisma, move, { ...stream, cursor: BigInt(first.cursor), moved: first.moved }, { to: ann, size: 700, limit: 10_000, budgetMs: 60_000 }, { ...fixed, max: 700 });
  expect(rest).toMatchObject({ batch_leads: [700, 700, 600], moved: 3_000, done: true });
  now = await owners();
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 3_000, [carl]: 3_000 });
  expect(theirs.every((id) => now.get(id) === ann)).toBe(true);
});

test("a sparse book (1 lead in 40 of the ids, others' leads between) moves exactly its leads, batch by batch (by id: too sparse for a range)", async () => {
  const { ws, ann, carl, theirs, deletionId, move, stream } = await interleavedMove(40, 20_000);
  expect(theirs).toHaveLength(500);
  const fixed = { min: 100, max: 150, targetMs: 0 };

  const first = await streamRun(prisma, move, stream, { to: ann, size: 150, limit: 150, budgetMs: 0 }, fixed);
  expect(first).toMatchObject({ batch_leads: [150], moved: 150, done: false });
  expect(BigInt(first.cursor)).toBe(theirs[149]);
  const moved = await prisma.lead.findMany({ where: { workspaceId: ws.id, ownerId: ann }, orderBy: { id: 'asc' }, select: { id: true } });
  expect(moved.map((l) => l.id)).toEqual(theirs.slice(0, 150));

  const rest = await streamRun(prisma, move, { ...stream, cursor: BigInt(first.cursor), moved: first.moved }, { to: ann, size: 150, limit: 10_000, budgetMs: 60_000 }, fixed);
  expect(rest).toMatchObject({ batch_leads: [150, 150, 50], moved: 500, done: true });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 500, [carl]: 19_500 });
  expect(await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } } })).toMatchObject({ moved: 500, batches: 4 });
});

test('the density rule (lead_move_dense): a batch moves as one range when its ids, first to last, are at most 16 per lead', async () => {
  const dense = async (first: number, last: number, found: number) =>
    (await prisma.$queryRaw<{ d: boolean | null }[]>`SELECT lead_move_dense(${first}::bigint, ${last}::bigint, ${found}::bigint) AS d`)[0]!.d;
  expect(await dense(1, 16, 1)).toBe(true);
  expect(await dense(1, 17, 1)).toBe(false);
  // 1,000 leads spread over 16,000 ids: dense; over one id more: by id.
  expect(await dense(100_001, 116_000, 1_000)).toBe(true);
  expect(await dense(100_001, 116_001, 1_000)).toBe(false);
  // A book's leads back to back, and one lead in 40 (the sparse test above).
  expect(await dense(5, 1_004, 1_000)).toBe(true);
  expect(await dense(40, 40 * 150, 150)).toBe(false);
  expect(await dense(1, 1, 0)).toBe(false);
});

/** Waits until a backend waits on a lock that backend `pid` holds (seen through `probe`). */
function untilBlockedBy(probe: Client, pid: number, what: string) {
  return eventually(async () => {
    const { rows } = await probe.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
    return rows.length > 0 ? true : undefined;
  }, 30_000, what);
}

// PGlite runs one transaction at a time: there a batch cannot be held half-way.
if (DATABASE_KINDS.includes('PostgreSQL'))
  test("a batch takes the move's shared count only after its leads' checks: a batch held there keeps the other stream waiting for nothing", async () => {
    const { ws, leaver, ann, deletionId } = await plannedMove(4_000, { ann: 100 });
    const move = { workspaceId: ws.id, deletionId, kind: 'MOVE' as const, from: leaver };
    const [first] = (await layOut(prisma, 2, ws.id, deletionId, 'MOVE')).streams;
    const fixed = { min: 100, max: 1_000, targetMs: 0 };
    // Hold the target's row: the batch's foreign-key checks (FOR KEY SHARE on ann) wait at the end of its UPDATE.
    const hold = new Client({ connectionString: testEnv().databaseUrl });
    const probe = new Client({ connectionString: testEnv().databaseUrl });
    await Promise.all([hold.connect(), probe.connect()]);
    let batch: ReturnType<typeof streamRun> | undefined;
    try {
      await hold.query('BEGIN');
      await hold.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [ann]);
      const holdPid = (await hold.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      batch = streamRun(prisma, move, first!, { to: ann, size: 1_000, limit: 1_000, budgetMs: 0 }, fixed);
      await untilBlockedBy(probe, holdPid, 'the batch to wait on its checks');
      // What the other stream's batch needs next: the move's count row, free (it used to be held here).
      await probe.query('BEGIN');
      await expect(
        probe.query('SELECT moved FROM lead_moves WHERE deletion_id = $1 AND kind = $2 FOR NO KEY UPDATE NOWAIT', [deletionId, 'MOVE']),
      ).resolves.toMatchObject({ rows: [{ moved: 0 }] });
      await probe.query('ROLLBACK');
      await hold.query('ROLLBACK');
      expect(await batch).toMatchObject({ batch_leads: [1_000], moved: 1_000, matched: true });
    } finally {
      await hold.end().catch(() => {});
      await probe.end().catch(() => {});
      await batch?.catch(() => {}); // settled before the test ends, whatever failed above
    }
    // One transaction still: the leads, the stream's cursor and the move's count moved together.
    expect(await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } } })).toMatchObject({ moved: 1_000, batches: 1 });
    expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 1_000, [leaver]: 3_000 });
  }, 120_000);

test('the sizing rule (lead_move_next_size): a slow batch shrinks the next in proportion, a fast one grows it by a quarter', async () => {
  const next = async (size: number, ms: number, targetMs = 50) =>
    (await prisma.$queryRaw<{ n: number }[]>`SELECT lead_move_next_size(${size}::int, ${ms}::float8, 100, 10000, ${targetMs}::float8) AS n`)[0]!.n;
  expect(await next(5_000, 200)).toBe(1_250);
  expect(await next(1_000, 10)).toBe(1_250);
  expect(await next(1_000, 50)).toBe(1_000); // within a quarter of the aim: kept
  expect(await next(1_000, 62)).toBe(1_000);
  expect(await next(9_000, 1)).toBe(10_000); // never past the maximum
  expect(await next(150, 10_000)).toBe(100); // nor under the minimum
  expect(await next(123, 10_000, 0)).toBe(10_000); // not adapting: the maximum
  // On a database with a steady cost per lead, batches settle near the aim within a few dozen.
  for (const msPerLead of [0.001, 0.02, 0.08, 0.5]) {
    let size = 500;
    for (let i = 0; i < 40; i++) size = await next(size, size * msPerLead);
    const ideal = Math.min(10_000, Math.max(100, 50 / msPerLead));
    expect(size * msPerLead <= 50 * 1.25 || size === 100).toBe(true);
    expect(size).toBeGreaterThanOrEqual(Math.min(ideal * 0.6, 10_000));
  }
});

test('a turn refuses a size, limit or budget it cannot run, and changes nothing', async () => {
  const { ws, leaver, ann, deletionId } = await plannedMove(2_000, { ann: 100 });
  const move = { workspaceId: ws.id, deletionId, kind: 'MOVE' as const, from: leaver };
  const [stream] = (await layOut(prisma, 1, ws.id, deletionId, 'MOVE')).streams;
  const sizing = { min: 100, max: 10_000, targetMs: 20 };
  for (const bad of [{ size: 0, limit: 100, budgetMs: 10 }, { size: 100, limit: 0, budgetMs: 10 }, { size: 100, limit: 100, budgetMs: -1 }]) {
    await expect(streamRun(prisma, move, stream!, { to: ann, ...bad }, sizing)).rejects.toThrow(/lead_move_run: size/);
  }
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [leaver]: 2_000 });
  expect(await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } } })).toMatchObject({ moved: 0, batches: 0 });
});

test('a move begun by a single-stream worker continues from its cursor in streams', async () => {
  const { ws, leaver, ann, bob, ids, deletionId, acts, actor, args, engine } = await plannedMove(30_000, { ann: 50, bob: 50 });
  // What an older worker left: the first 7,000 leads moved, its cursor and count committed.
  await prisma.lead.updateMany({ where: { id: { lte: ids[6_999]! }, ownerId: leaver }, data: { ownerId: ann } });
  await prisma.leadMove.update({
    where: { deletionId_kind: { deletionId, kind: 'MOVE' } },
    data: { cursor: ids[6_999]!, moved: 7_000, batches: 7 },
  });

  const r = await engine.moveSlice(args, io());
  expect(r).toMatchObject({ moved: 30_000, total: 30_000, done: true });
  const streams = await prisma.leadMoveStream.findMany({ where: { deletionId }, orderBy: { stream: 'asc' } });
  // Each stream closed itself with its last batch (its own count, positions from its start).
  expect(streams.map((s) => [s.fromPosition, s.toPosition, s.moved, s.done])).toEqual([
    [7_000, 18_500, 11_500, true],
    [18_500, 30_000, 11_500, true],
  ]);
  const owners = await ownersInIdOrder(ws.id);
  expect(owners.slice(0, 15_000).every((o) => o === ann)).toBe(true);
  expect(owners.slice(15_000).every((o) => o === bob)).toBe(true);

  await acts.finishLeadMove({ workspaceId: ws.id, deletionId, kind: 'MOVE', actor });
  const audit = await prisma.auditEvent.findFirstOrThrow({ where: { deletionId, action: 'LEADS_MOVED' } });
  expect(audit.detail).toMatchObject({
    moved: 30_000,
    targets: [
      { userId: ann, count: 15_000 },
      { userId: bob, count: 15_000 },
    ],
  });
}, 120_000);

test('leads that disappear under a running move end it short, with nothing left behind', async () => {
  const { ws, ann, ids, args, engine } = await plannedMove(25_000, { ann: 100 });
  // Stop after the first batches, then delete leads from both streams' unmoved ranges.
  const stop = new AbortController();
  stop.abort();
  const first = await engine.moveSlice(args, io(stop.signal));
  expect(first).toMatchObject({ done: false, stopped: true, moved: 2_000 });
  const gone = [...ids.slice(5_000, 5_100), ...ids.slice(24_000, 24_050)];
  await prisma.lead.deleteMany({ where: { id: { in: gone } } });

  const r = await engine.moveSlice(args, io());
  expect(r).toMatchObject({ done: true, moved: 25_000 - 150, total: 25_000 });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 25_000 - 150 });
}, 120_000);

test('a cancel while the streams are being laid out closes them too: no batch runs after it', async () => {
  const { ws, leaver, deletionId, actor, args, engine } = await plannedMove(30_000, { ann: 100 });
  // Lay the streams out in a transaction held open, the way a slice's first step holds the move's row...
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let laidOut!: (pid: number) => void;
  const inserted = new Promise<number>((r) => (laidOut = r));
  const layingOut = prisma.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM lead_moves WHERE deletion_id = ${deletionId} AND kind = 'MOVE' FOR UPDATE`;
      const [{ pid }] = (await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`) as [{ pid: number }];
      await tx.leadMoveStream.createMany({
        data: [0, 1].map((stream) => ({
          deletionId,
          kind: 'MOVE',
          stream,
          fromPosition: stream * 15_000,
          toPosition: (stream + 1) * 15_000,
          cursor: 0n,
          upperId: null,
        })),
      });
      laidOut(pid);
      await held;
    },
    { timeout: 60_000 },
  );
  const layOutPid = await inserted;
  // ...while the admin cancels.
  const cancelling = wizardRecordActivities(prisma).cancelDeletion({ workspaceId: ws.id, deletionId, userId: leaver, actor, reason: null });
  if (DATABASE_KINDS.includes('PostgreSQL')) {
    // Released only once the cancel is blocked by the lay-out's transaction (not any lock wait: other
    // test files share this database).
    const probe = new Client({ connectionString: testEnv().databaseUrl });
    await probe.connect();
    try {
      await untilBlockedBy(probe, layOutPid, 'the cancel to wait on the lay-out');
    } finally {
      await probe.end();
    }
  } else {
    // PGlite runs one transaction at a time: the cancel, once sent, waits behind the lay-out whatever it needs.
    await new Promise((r) => setTimeout(r, 300));
  }
  release();
  await layingOut;
  expect(await cancelling).toEqual({ moved: 0 });

  const streams = await prisma.leadMoveStream.findMany({ where: { deletionId } });
  expect(streams.map((s) => s.done)).toEqual([true, true]);
  // A slice that still runs (a zombie attempt) moves nothing.
  const r = await engine.moveSlice(args, io());
  expect(r).toMatchObject({ moved: 0, done: true });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [leaver]: 30_000 });
}, 120_000);

test('a cancel after a retried slice finished the move in the database reports every lead it moved, and audits them', async () => {
  // The workflow dropped the move's activity for the cancel while its retry, on another worker,
  // ran to the end: the move is done in the database, but LEADS_MOVED was never written.
  const { ws, leaver, ann, deletionId, actor, args, engine } = await plannedMove(3_000, { ann: 100 });
  expect(await engine.moveSlice(args, io())).toMatchObject({ done: true });
  const cancelled = await wizardRecordActivities(prisma).cancelDeletion({ workspaceId: ws.id, deletionId, userId: leaver, actor, reason: null });
  expect(cancelled).toEqual({ moved: 3_000 });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 3_000 });
  const audit = await prisma.auditEvent.findFirstOrThrow({ where: { deletionId, action: 'LEADS_MOVED' } });
  expect(audit.detail).toMatchObject({ moved: 3_000, total: 3_000 });
});
