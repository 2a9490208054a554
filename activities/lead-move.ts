// The bulk lead move (step 1) and the final sweep (confirm), built for books
// of millions:
// - a plan fixed once (`startLeadMove`): the number to move and each target's
//   quota by largest remainder, in a `lead_moves` row;
// - batches in id order, each one short transaction that moves an id range
//   (`owner_id = user AND id > cursor AND id <= bound`) and advances the
//   cursor and count in the same commit — so a crash anywhere leaves every
//   lead with exactly one owner and the cursor exactly where the leads are;
// - a batch never crosses from one target to the next, so target i receives
//   exactly the leads at positions [sum(quota<i), sum(quota<=i)) of the book;
// - `moveLeadsSlice` runs batches for a bounded time, heartbeating the cursor,
//   and stops after the current batch when cancelled. Any attempt, first or
//   retried after a crash, resumes from the committed cursor.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { Prisma } from '../generated/prisma/client';
import { eligibleDistribution, splitCounts } from '../domain/distribution';
import { currentTarget, firstBatchSize, nextBatchSize, receivedByTarget, type BatchSizing, type Quota } from '../domain/lead-plan';
import type { Actor, Distribution } from '../domain/schemas';
import { alreadyDone, assertTargets, fallbackOwner, recordAudit, TX_OPTIONS, type Db } from './shared';

export type MoveKind = 'MOVE' | 'SWEEP';

/** Audit action written when each kind of move ends. */
const FINISH_ACTION: Record<MoveKind, string> = { MOVE: 'LEADS_MOVED', SWEEP: 'LEADS_SWEPT' };

export function leadMoveActivities(db: Db, sizing: BatchSizing) {
  const key = (deletionId: string, kind: MoveKind) => ({ deletionId_kind: { deletionId, kind } });

  /** One batch: moves up to `batchSize` leads past the cursor to one target, in one transaction. */
  async function moveBatch(workspaceId: string, deletionId: string, kind: MoveKind, batchSize: number) {
    const started = Date.now();
    return db.$transaction(async (tx) => {
      // Asynchronous commit for this transaction only: a batch no longer waits
      // for its WAL flush (most of a small batch's cost). Should PostgreSQL
      // itself crash, the last batches may be lost, but each one whole, with its
      // cursor: leads keep exactly one owner, the next attempt redoes them, and
      // the sweep at confirm moves anything a lost final batch left behind.
      const [row] = await tx.$queryRaw<
        { from_user_id: string; targets: Quota[]; cursor: bigint; moved: number; total: number; done: boolean }[]
      >`SELECT from_user_id, targets, cursor, moved, total, done, set_config('synchronous_commit', 'off', true)
        FROM lead_moves WHERE deletion_id = ${deletionId} AND kind = ${kind} FOR UPDATE`;
      if (!row) throw new Error(`No lead move ${kind} for deletion ${deletionId}`);
      if (row.done) return { moved: row.moved, total: row.total, cursor: row.cursor, done: true, ms: 0 };
      const target = currentTarget(row.targets, row.moved);
      if (!target) {
        await tx.leadMove.update({ where: key(deletionId, kind), data: { done: true } });
        return { moved: row.moved, total: row.total, cursor: row.cursor, done: true, ms: 0 };
      }
      const size = Math.min(batchSize, target.room);
      // The bound is the size-th lead past the cursor (an index-only walk of
      // `size` entries); the update is then a plain id range of one owner.
      const [moved] = await tx.$queryRaw<{ n: number; hi: bigint | null }[]>`
        WITH bound AS (
          SELECT COALESCE(
            (SELECT id FROM leads
              WHERE workspace_id = ${workspaceId} AND owner_id = ${row.from_user_id} AND id > ${row.cursor}
              -- the (workspace_id, owner_id, id) index's own order: never a walk of the whole table by id
              ORDER BY workspace_id, owner_id, id OFFSET ${size - 1} LIMIT 1),
            9223372036854775807) AS hi
        ), moved AS (
          UPDATE leads SET owner_id = ${target.userId}
          WHERE workspace_id = ${workspaceId} AND owner_id = ${row.from_user_id}
            AND id > ${row.cursor} AND id <= (SELECT hi FROM bound)
          RETURNING id
        )
        SELECT count(*)::int AS n, max(id) AS hi FROM moved`;
      const n = moved?.n ?? 0;
      const nowMoved = row.moved + n;
      // Nothing left past the cursor (leads removed meanwhile), or the plan is complete.
      const done = n === 0 || currentTarget(row.targets, nowMoved) === null;
      const cursor = moved?.hi ?? row.cursor;
      const ms = Date.now() - started;
      await tx.$executeRaw`
        UPDATE lead_moves SET cursor = ${cursor}, moved = ${nowMoved}, batches = batches + 1,
          max_batch_ms = GREATEST(max_batch_ms, ${ms}), done = ${done}, updated_at = now()
        WHERE deletion_id = ${deletionId} AND kind = ${kind}`;
      return { moved: nowMoved, total: row.total, cursor, done, ms };
    }, TX_OPTIONS);
  }

  return {
    /**
     * Fixes the plan of a move: checks the targets (step 1: refused when one is
     * not active; sweep: falls back to whoever can still receive), counts the
     * user's leads and splits that number over the targets. Run twice, it
     * returns the plan already made.
     */
    async startLeadMove(args: {
      workspaceId: string;
      deletionId: string;
      userId: string;
      kind: MoveKind;
      distribution: Distribution | null;
      actor: Actor;
    }): Promise<{ total: number; targets: Quota[] }> {
      return db.$transaction(async (tx) => {
        const existing = await tx.leadMove.findUnique({ where: key(args.deletionId, args.kind) });
        if (existing) return { total: existing.total, targets: existing.targets as unknown as Quota[] };
        let distribution: Distribution;
        if (args.kind === 'MOVE') {
          distribution = args.distribution ?? [];
          await assertTargets(tx, args.workspaceId, args.userId, distribution.map((m) => m.userId));
        } else {
          distribution = await sweepDistribution(tx, args.workspaceId, args.userId, args.distribution, args.actor);
        }
        const total = await tx.lead.count({ where: { workspaceId: args.workspaceId, ownerId: args.userId } });
        const targets: Quota[] = splitCounts(total, distribution).map((c) => ({ userId: c.userId, quota: c.count }));
        await tx.leadMove.create({
          data: {
            deletionId: args.deletionId,
            kind: args.kind,
            fromUserId: args.userId,
            targets: targets as unknown as Prisma.InputJsonValue,
            cursor: 0n,
            total,
            moved: 0,
            done: total === 0,
          },
        });
        return { total, targets };
      }, TX_OPTIONS);
    },

    /**
     * Moves batches for up to `budgetMs`, then reports. Heartbeats after every
     * batch (cursor and count); a cancel stops it after the current batch.
     */
    async moveLeadsSlice(args: {
      workspaceId: string;
      deletionId: string;
      kind: MoveKind;
      budgetMs: number;
      /** The size the previous slice settled on (see `nextBatchSize`). */
      batchSize?: number;
    }): Promise<{ moved: number; total: number; done: boolean; batchSize: number }> {
      const ctx = Context.current();
      const started = Date.now();
      let batchSize = firstBatchSize(sizing, args.batchSize);
      for (;;) {
        const r = await moveBatch(args.workspaceId, args.deletionId, args.kind, batchSize);
        batchSize = nextBatchSize(batchSize, r.ms, sizing);
        ctx.heartbeat({ cursor: r.cursor.toString(), moved: r.moved, total: r.total, batchSize });
        if (r.done || Date.now() - started >= args.budgetMs) {
          ctx.log.info(r.done ? 'lead move done' : 'lead move progress', {
            deletionId: args.deletionId,
            kind: args.kind,
            moved: r.moved,
            total: r.total,
            batchSize,
          });
          return { moved: r.moved, total: r.total, done: r.done, batchSize };
        }
        if (ctx.cancellationSignal.aborted) {
          ctx.log.info('lead move stopped after its batch', { deletionId: args.deletionId, moved: r.moved });
          throw new CancelledFailure('Lead move cancelled after its current batch');
        }
      }
    },

    /** Ends a move: records what moved where (LEADS_MOVED or LEADS_SWEPT, even at 0). */
    async finishLeadMove(args: {
      workspaceId: string;
      deletionId: string;
      kind: MoveKind;
      actor: Actor;
    }): Promise<{ moved: number }> {
      return db.$transaction(async (tx) => {
        const move = await tx.leadMove.findUniqueOrThrow({ where: key(args.deletionId, args.kind) });
        if (await alreadyDone(tx, args.deletionId, FINISH_ACTION[args.kind])) return { moved: move.moved };
        const targets = move.targets as unknown as Quota[];
        await tx.leadMove.update({ where: key(args.deletionId, args.kind), data: { done: true } });
        await recordAudit(tx, {
          workspaceId: args.workspaceId,
          deletionId: args.deletionId,
          actor: args.actor,
          action: FINISH_ACTION[args.kind],
          detail: {
            fromUserId: move.fromUserId,
            total: move.total,
            moved: move.moved,
            batches: move.batches,
            targets: receivedByTarget(targets, move.moved),
          },
        });
        return { moved: move.moved };
      }, TX_OPTIONS);
    },

    /** Live progress of a move, for readers between workflow updates. */
    async readLeadMove(args: { deletionId: string; kind: MoveKind }) {
      const m = await db.leadMove.findUnique({ where: key(args.deletionId, args.kind) });
      return m && { moved: m.moved, total: m.total, done: m.done, maxBatchMs: m.maxBatchMs, batches: m.batches };
    },
  };
}

/**
 * The sweep at confirm reuses the step-1 choice, keeping only members who are
 * still active; when none is, everything goes to the confirming admin (or an
 * active owner).
 */
async function sweepDistribution(
  tx: Prisma.TransactionClient,
  workspaceId: string,
  userId: string,
  choice: Distribution | null,
  actor: Actor,
): Promise<Distribution> {
  const members = choice ?? [];
  const active = new Set(
    (
      await tx.user.findMany({
        where: { workspaceId, status: 'ACTIVE', id: { in: members.map((m) => m.userId), not: userId } },
        select: { id: true },
      })
    ).map((u) => u.id),
  );
  const kept = eligibleDistribution(members, (id) => !active.has(id)).filter((m) => active.has(m.userId));
  if (kept.length > 0) return kept;
  const fallback = await fallbackOwner(tx, workspaceId, userId, actor.type === 'USER' ? [actor.id] : []);
  return [{ userId: fallback, weight: 100 }];
}
