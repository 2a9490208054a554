// The bulk move's statements. Invariants each one keeps:
// - a batch (run by the database, procedure lead_move_run) is ONE transaction,
//   committed on its own, that moves the next leads past its stream's
//   cursor and advances the cursor (one statement) and the move's count (a
//   second, after the leads' foreign-key checks) in the same commit,
//   and only if the stream is still where its caller last saw it (cursor,
//   count, plan version) and the target is ACTIVE: a crash leaves every lead
//   with exactly one owner, and two attempts never move a range twice;
// - a batch never crosses a target's segment nor its stream's end;
// - a plan is rewritten (a target left) only while every stream row is held,
//   and every stream's plan version is bumped with it.
// The story: README "The bulk move", docs/architecture.md.
import type { Prisma } from '../../generated/prisma/client';
import { preferredHeirs } from '../../domain/heirs';
import { handOverLeavers, streamOffsets, unmovedOfLeavers, type BatchSizing, type Quota } from '../../domain/lead-plan';
import type { Actor } from '../../domain/schemas';
import { findHeir, recordAudit, type Db } from '../shared';

export type MoveKind = 'MOVE' | 'SWEEP';

/** A stream gets at least this many leads; smaller books run in fewer streams. */
export const MIN_STREAM_LEADS = 10_000;

/** Above any lead id: the upper bound of the last stream. */
const NO_UPPER = 9223372036854775807n;

export interface Stream {
  stream: number;
  fromPosition: number;
  toPosition: number;
  cursor: bigint;
  upperId: bigint | null;
  moved: number;
  done: boolean;
  /** The version of the plan (targets) this stream was last seen under. */
  plan: number;
}

export interface Layout {
  fromUserId: string;
  targets: Quota[];
  total: number;
  streams: Stream[];
}

/** A stream's place in the plan (domain `StreamSpan`). */
export const streamSpan = (stream: Stream) => ({ from: stream.fromPosition, to: stream.toPosition, moved: stream.moved });

/** Who writes the audit of a handover: the move itself. */
const MOVE_ACTOR: Actor = { type: 'SYSTEM', id: 'lead-move' };

/** The key of a move's row. */
export const moveKey = (deletionId: string, kind: MoveKind) => ({ deletionId_kind: { deletionId, kind } });
/** A move's stream rows, in stream order. */
export const streamsOf = (deletionId: string, kind: MoveKind) => ({ where: { deletionId, kind }, orderBy: { stream: 'asc' as const } });

/**
 * The move's streams, laid out on first use: what is left of the book
 * (after the move's cursor) is cut by position into consecutive ranges, each
 * boundary found once through the (workspace, owner, id) index. A move begun
 * before streams existed continues from its own cursor.
 */
export async function layOut(prisma: Db, streamCount: number, workspaceId: string, deletionId: string, kind: MoveKind): Promise<Layout> {
  return prisma.$transaction(async (tx) => {
    const [move] = await tx.$queryRaw<
      { from_user_id: string; targets: Quota[]; cursor: bigint; moved: number; total: number; done: boolean }[]
    >`SELECT from_user_id, targets, cursor, moved, total, done
      FROM lead_moves WHERE deletion_id = ${deletionId} AND kind = ${kind} FOR UPDATE`;
    if (!move) throw new Error(`No lead move ${kind} for deletion ${deletionId}`);
    const layout = { fromUserId: move.from_user_id, targets: move.targets, total: move.total };
    const existing = await tx.leadMoveStream.findMany(streamsOf(deletionId, kind));
    if (existing.length > 0 || move.done) return { ...layout, streams: existing };
    const offsets = streamOffsets(move.total - move.moved, streamCount, MIN_STREAM_LEADS);
    const cursors = [move.cursor];
    for (const offset of offsets.slice(1, -1)) {
      const [boundary] = await tx.$queryRaw<{ id: bigint }[]>`
        SELECT id FROM leads
        WHERE workspace_id = ${workspaceId} AND owner_id = ${move.from_user_id} AND id > ${move.cursor}
        ORDER BY workspace_id, owner_id, id OFFSET ${offset - 1} LIMIT 1`;
      if (!boundary) break; // fewer leads than planned (some left meanwhile): fewer streams
      cursors.push(boundary.id);
    }
    const streams: Stream[] = cursors.map((cursor, i) => ({
      stream: i,
      fromPosition: move.moved + offsets[i]!,
      toPosition: i === cursors.length - 1 ? move.total : move.moved + offsets[i + 1]!,
      cursor,
      upperId: cursors[i + 1] ?? null,
      moved: 0,
      done: false,
      plan: 0,
    }));
    await tx.leadMoveStream.createMany({ data: streams.map((stream) => ({ deletionId, kind, ...stream })) });
    return { ...layout, streams };
  });
}

/** What one turn of a stream did (procedure `lead_move_run`). */
export interface StreamRun {
  /** The stream as the turn left it (as the caller saw it when no batch ran). */
  cursor: bigint;
  moved: number;
  done: boolean;
  /** False when a batch found the stream moved on, closed, re-planned, or its target gone: nothing more ran. */
  matched: boolean;
  /** Whether the target was still ACTIVE when a batch did not match. */
  target_active: boolean;
  /** Each committed batch: leads moved, and how long it held its row locks (ms, its commit included). */
  batch_leads: number[];
  lock_ms: number[];
  /** The size the stream's next batch should have (the rule: lead_move_next_size). */
  next_size: number;
  /** The size that followed the turn's last batch that ran at full size (null when none did): how fast the database is now. */
  full_next_size: number | null;
}

/**
 * One turn of one stream: batches of it, run by the database one after
 * another (procedure `lead_move_run`, latest body in
 * prisma/migrations/…_lead_move_sync_commit_on_pglite),
 * each its own transaction, for up to `budgetMs` and never past
 * `limit` leads (the target's segment, the stream's end). Each batch locks
 * the stream row only while it is still where the last one left it, moves
 * the next leads past the cursor and advances the stream and the move's count
 * in the same commit: a crash loses at most the batch in flight, whole, with
 * its cursor. The batches' sizes follow `sizing` from `size` on (the rule:
 * lead_move_next_size). Should a batch fail, those before it stay committed
 * and the caller learns of them by reloading the stream. A worker killed
 * meanwhile does not stop the call: it runs on for at most `budgetMs` and a
 * batch.
 * Asynchronous commit for these transactions only, on PostgreSQL (on the
 * embedded PGlite, with no WAL writer to flush them, each commit waits): should PostgreSQL itself
 * crash, the last batches may be lost, but each one whole with its cursor:
 * the next attempt redoes them and the sweep at confirm moves anything a lost
 * final batch left behind.
 */
export async function streamRun(
  prisma: Db,
  move: { workspaceId: string; deletionId: string; kind: MoveKind; from: string },
  stream: Stream,
  batch: { to: string; size: number; limit: number; budgetMs: number },
  sizing: BatchSizing,
): Promise<StreamRun> {
  const { workspaceId, deletionId, kind, from } = move;
  const upper = stream.upperId ?? NO_UPPER;
  const [result] = await prisma.$queryRaw<StreamRun[]>`
    CALL lead_move_run(${deletionId}, ${kind}, ${stream.stream}, ${stream.plan}, ${workspaceId}, ${from}, ${batch.to}, ${upper},
      ${batch.size}::int, ${sizing.min}::int, ${sizing.max}::int, ${sizing.targetMs}::float8,
      ${batch.limit}::int, ${batch.budgetMs}::float8, ${stream.cursor}::bigint, ${stream.moved}::int)`;
  return result!;
}

/**
 * Targets who are no longer ACTIVE get nothing more: in one transaction
 * that holds every stream of the move (so no batch is in flight), the
 * positions of their segments not yet moved go to the targets still active,
 * the plan's version is bumped on every stream, and each handover is audited
 * (LEAD_TARGET_LEFT). Where no target is left: step 1's move ends there (its
 * streams closed, `to: []` and `untilConfirm` in the audit), the rest
 * staying with the user until CONFIRM, whose sweep gives it to a step-1
 * target active again, else to the confirming admin (wizard.md: "or to the
 * confirming admin where none remains", an admin not known while the move
 * runs, which never waits); the sweep's own rest goes to `actor`, that admin,
 * or another active admin. False when nobody had anything left to hand over.
 */
export async function handOver(prisma: Db, workspaceId: string, deletionId: string, kind: MoveKind, actor: Actor | undefined): Promise<boolean> {
  return prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ from_position: number; to_position: number; moved: number; done: boolean }[]>`
      SELECT from_position, to_position, moved, done FROM lead_move_streams
      WHERE deletion_id = ${deletionId} AND kind = ${kind} ORDER BY stream FOR UPDATE`;
    // Ended (a cancel, or every target gone and the rest left for CONFIRM): nothing more to hand over, nor to audit.
    if (rows.length > 0 && rows.every((row) => row.done)) return false;
    const move = await tx.leadMove.findUniqueOrThrow({ where: moveKey(deletionId, kind) });
    const targets = move.targets as unknown as Quota[];
    const ids = [...new Set(targets.map((target) => target.userId))];
    const active = new Set(
      (
        await tx.$queryRaw<{ id: string }[]>`
          SELECT id FROM users WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[]) AND status = 'ACTIVE' FOR SHARE`
      ).map((user) => user.id),
    );
    if (active.size === ids.length) return false;
    const spans = rows.map((row) => ({ from: row.from_position, to: row.to_position, moved: row.moved }));
    const prefix = rows[0]?.from_position ?? move.moved;
    const audit = (detail: object) =>
      recordAudit(tx, { workspaceId, deletionId, actor: MOVE_ACTOR, action: 'LEAD_TARGET_LEFT', detail: { kind, fromUserId: move.fromUserId, ...detail } }, false);
    if (active.size === 0 && kind === 'MOVE') {
      // Step 1's move ends: the plan stays as it is, the rest with the user, for the sweep at CONFIRM.
      const left = unmovedOfLeavers(targets, spans, prefix, () => false);
      if (left.size === 0) return false;
      await tx.leadMoveStream.updateMany({ where: { deletionId, kind }, data: { plan: { increment: 1 }, done: true } });
      for (const [leftUserId, remaining] of left) await audit({ leftUserId, remaining, to: [], untilConfirm: true });
      return true;
    }
    const fallback = active.size === 0 ? await findHeir(tx, workspaceId, move.fromUserId, preferredHeirs(null, actor)) : null;
    const rewritten = handOverLeavers(targets, spans, prefix, (id) => active.has(id), fallback);
    if (!rewritten) return false;
    await tx.leadMove.update({ where: moveKey(deletionId, kind), data: { targets: rewritten.targets as unknown as Prisma.InputJsonValue } });
    await tx.leadMoveStream.updateMany({ where: { deletionId, kind }, data: { plan: { increment: 1 } } });
    for (const handover of rewritten.handovers) await audit(handover);
    return true;
  });
}
