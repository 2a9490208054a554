// The bulk lead move (step 1) and the final sweep (confirm), built for books
// of millions:
// - a plan fixed once (`startLeadMove`): the number to move and each target's
//   quota by largest remainder, in a `lead_moves` row;
// - the book laid out once into up to `streams` consecutive id ranges
//   (`lead_move_streams`), moved concurrently so the database can use more
//   than one core: two streams never want the same leads (they share only the
//   move's count row, updated last and held for a moment);
// - in each stream, batches in id order, each ONE statement (its own
//   transaction) that moves the next leads past the stream's cursor (read in
//   the owner index's order) and advances the cursor and the move's count in
//   the same commit — so a crash anywhere leaves every lead with exactly one owner
//   and each cursor exactly where its leads are. The statement only acts if
//   the stream is still where this attempt last saw it, so two attempts of the
//   activity (a retry beside a zombie) can never move a range twice;
// - a batch never crosses from one target to the next nor past its stream, so
//   target i receives exactly the leads at positions [sum(quota<i),
//   sum(quota<=i)) of the book;
// - `moveLeadsSlice` runs batches for a bounded time, heartbeating the cursors,
//   and stops after the current batches when cancelled. Any attempt, first or
//   retried after a crash, resumes from the committed cursors;
// - a batch only moves leads to a target who is still ACTIVE. A target who
//   left meanwhile (their own wizard) gets nothing more: in one transaction
//   holding every stream, the positions not yet moved of their segments are
//   handed to the other targets (domain `handOverLeavers`), the plan's version
//   on each stream is bumped (a batch planned on the old one changes nothing)
//   and the audit says who left and who got their share.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { classifyDbError } from './db-errors';
import type { Prisma } from '../generated/prisma/client';
import { splitCounts } from '../domain/distribution';
import { preferredHeirs, sweepDistribution } from '../domain/heirs';
import { refusalFailure } from '../domain/refusal';
import {
  firstBatchSize,
  handOverLeavers,
  nextBatchSize,
  nextStreamBatch,
  receivedByUser,
  streamOffsets,
  type BatchSizing,
  type Quota,
} from '../domain/lead-plan';
import type { Actor, Distribution } from '../domain/schemas';
import { assertTargets, findHeir, heirCandidates, NOBODY_LEFT, onceInTransaction, recordAudit, TX_OPTIONS, type Db } from './shared';
import { recordLeadBatch } from '../worker/metrics';

export type MoveKind = 'MOVE' | 'SWEEP';

/** How bulk moves run: batch sizing, and how many streams a book is cut into. */
export interface MoveTuning extends BatchSizing {
  /** Concurrent streams per move (1 = one id-ordered walk). */
  streams: number;
}

/** A stream gets at least this many leads; smaller books run in fewer streams. */
export const MIN_STREAM_LEADS = 10_000;

/** Above any lead id: the upper bound of the last stream. */
const NO_UPPER = 9223372036854775807n;

/** Audit action written when each kind of move ends. */
const FINISH_ACTION: Record<MoveKind, string> = { MOVE: 'LEADS_MOVED', SWEEP: 'LEADS_SWEPT' };

interface Stream {
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

interface Layout {
  fromUserId: string;
  targets: Quota[];
  total: number;
  streams: Stream[];
}

/** Who writes the audit of a handover: the move itself. */
const MOVE_ACTOR: Actor = { type: 'SYSTEM', id: 'lead-move' };

const span = (s: Stream) => ({ from: s.fromPosition, to: s.toPosition, moved: s.moved });

const key = (deletionId: string, kind: MoveKind) => ({ deletionId_kind: { deletionId, kind } });
const streamWhere = (deletionId: string, kind: MoveKind) => ({ where: { deletionId, kind }, orderBy: { stream: 'asc' as const } });

/** What a slice needs from whoever runs it (an activity's context, or a test). */
export interface SliceIo {
  heartbeat(details: unknown): void;
  /** Aborted: stop each stream after its current batch. */
  signal: AbortSignal;
  log: { info(message: string, meta?: Record<string, unknown>): void };
}

export interface SliceArgs {
  workspaceId: string;
  deletionId: string;
  kind: MoveKind;
  budgetMs: number;
  /** The size the previous slice settled on (see `nextBatchSize`). */
  batchSize?: number;
  /** Who takes a leaver's share when no target is left (the step-1 admin, the confirming admin). */
  actor?: Actor;
}

export interface SliceResult {
  moved: number;
  total: number;
  done: boolean;
  batchSize: number;
}

/** The streams and batches of a move, free of Temporal: `moveSlice` runs one slice of it. */
export function leadMoveEngine(db: Db, tuning: MoveTuning) {
  /**
   * The move's streams, laid out on first use: what is left of the book
   * (after the move's cursor) is cut by position into consecutive ranges, each
   * boundary found once through the (workspace, owner, id) index. A move begun
   * before streams existed continues from its own cursor.
   */
  async function layOut(workspaceId: string, deletionId: string, kind: MoveKind): Promise<Layout> {
    return db.$transaction(async (tx) => {
      const [move] = await tx.$queryRaw<
        { from_user_id: string; targets: Quota[]; cursor: bigint; moved: number; total: number; done: boolean }[]
      >`SELECT from_user_id, targets, cursor, moved, total, done
        FROM lead_moves WHERE deletion_id = ${deletionId} AND kind = ${kind} FOR UPDATE`;
      if (!move) throw new Error(`No lead move ${kind} for deletion ${deletionId}`);
      const layout = { fromUserId: move.from_user_id, targets: move.targets, total: move.total };
      const existing = await tx.leadMoveStream.findMany(streamWhere(deletionId, kind));
      if (existing.length > 0 || move.done) return { ...layout, streams: existing };
      const offsets = streamOffsets(move.total - move.moved, tuning.streams, MIN_STREAM_LEADS);
      const cursors = [move.cursor];
      for (const offset of offsets.slice(1, -1)) {
        const [b] = await tx.$queryRaw<{ id: bigint }[]>`
          SELECT id FROM leads
          WHERE workspace_id = ${workspaceId} AND owner_id = ${move.from_user_id} AND id > ${move.cursor}
          ORDER BY workspace_id, owner_id, id OFFSET ${offset - 1} LIMIT 1`;
        if (!b) break; // fewer leads than planned (some left meanwhile): fewer streams
        cursors.push(b.id);
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
      await tx.leadMoveStream.createMany({ data: streams.map((s) => ({ deletionId, kind, ...s })) });
      return { ...layout, streams };
    }, TX_OPTIONS);
  }

  /**
   * One batch of one stream, as a single statement: locks the stream row if it
   * is still at `s.cursor`/`s.moved` (else changes nothing: `matched` false),
   * reads the ids of the next `size` leads past the cursor (an index-only walk
   * of the user's own leads), moves those leads to `to` (looked up by primary
   * key), and advances the stream and the move's count.
   * Asynchronous commit for this transaction only: a batch does not wait for
   * its WAL flush. Should PostgreSQL itself crash, the last batches may be
   * lost, but each one whole with its cursor: the next attempt redoes them and
   * the sweep at confirm moves anything a lost final batch left behind.
   */
  async function streamBatch(workspaceId: string, deletionId: string, kind: MoveKind, from: string, s: Stream, to: string, size: number) {
    const upper = s.upperId ?? NO_UPPER;
    const [r] = await db.$queryRaw<
      // The stream as the batch left it (all null when it did not match), and whether the target is still active.
      { cursor: bigint | null; moved: number | null; done: boolean | null; totals: number; lock_ms: number; target_active: boolean }[]
    >`
      WITH s AS (
        SELECT stream, set_config('synchronous_commit', 'off', true) FROM lead_move_streams
        WHERE deletion_id = ${deletionId} AND kind = ${kind} AND stream = ${s.stream}
          AND cursor = ${s.cursor} AND moved = ${s.moved} AND NOT done AND plan = ${s.plan}
          AND EXISTS (SELECT 1 FROM users WHERE id = ${to} AND status = 'ACTIVE')
        FOR UPDATE
      ), batch AS (
        -- The next leads past the cursor (at most size), read in the (workspace_id, owner_id, id)
        -- index's own order (index-only): never a walk of other owners' leads by id.
        SELECT array_agg(id) AS ids, max(id) AS last, count(*)::int AS found FROM (
          SELECT id FROM leads
          WHERE workspace_id = ${workspaceId} AND owner_id = ${from} AND id > ${s.cursor} AND id <= ${upper}
          ORDER BY workspace_id, owner_id, id LIMIT ${size}
        ) next
      ), moved AS (
        UPDATE leads SET owner_id = ${to}
        WHERE workspace_id = ${workspaceId} AND owner_id = ${from}
          AND id = ANY((SELECT ids FROM batch)::bigint[]) AND EXISTS (SELECT 1 FROM s)
        RETURNING id
      ), counted AS (
        SELECT count(*)::int AS n FROM moved
      ), advanced AS (
        UPDATE lead_move_streams st
        SET cursor = COALESCE(batch.last, st.cursor), moved = st.moved + counted.n,
            done = batch.found < ${size} OR st.from_position + st.moved + counted.n >= st.to_position
        FROM batch, counted
        WHERE st.deletion_id = ${deletionId} AND st.kind = ${kind} AND st.stream = ${s.stream} AND EXISTS (SELECT 1 FROM s)
        RETURNING st.cursor, st.moved, st.done
      ), total AS (
        UPDATE lead_moves m SET moved = m.moved + counted.n, batches = m.batches + 1, updated_at = now()
        FROM counted
        WHERE m.deletion_id = ${deletionId} AND m.kind = ${kind} AND EXISTS (SELECT 1 FROM s)
        RETURNING 1
      )
      -- Then how long the statement has run, read after both updates above
      -- (joining "advanced" and counting "total" make them run first): every
      -- row lock of the batch was taken within it and is released by the
      -- commit that follows at once, so this bounds how long any lead stayed locked.
      SELECT advanced.cursor, advanced.moved, advanced.done, (SELECT count(*) FROM total)::int AS totals,
        (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::float8 AS lock_ms,
        EXISTS (SELECT 1 FROM users WHERE id = ${to} AND status = 'ACTIVE') AS target_active
      FROM counted LEFT JOIN advanced ON true`;
    return r!;
  }

  /**
   * Targets who are no longer ACTIVE get nothing more: in one transaction
   * that holds every stream of the move (so no batch is in flight), the
   * positions of their segments not yet moved go to the targets still active
   * (or, where none is, to `actor` or another active admin), the plan's
   * version is bumped on every stream, and each handover is audited
   * (LEAD_TARGET_LEFT). False when nobody had anything left to hand over.
   */
  async function handOver(workspaceId: string, deletionId: string, kind: MoveKind, actor: Actor | undefined): Promise<boolean> {
    return db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ from_position: number; to_position: number; moved: number }[]>`
        SELECT from_position, to_position, moved FROM lead_move_streams
        WHERE deletion_id = ${deletionId} AND kind = ${kind} ORDER BY stream FOR UPDATE`;
      const move = await tx.leadMove.findUniqueOrThrow({ where: key(deletionId, kind) });
      const targets = move.targets as unknown as Quota[];
      const ids = [...new Set(targets.map((t) => t.userId))];
      const active = new Set(
        (
          await tx.$queryRaw<{ id: string }[]>`
            SELECT id FROM users WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[]) AND status = 'ACTIVE' FOR SHARE`
        ).map((u) => u.id),
      );
      if (active.size === ids.length) return false;
      const spans = rows.map((r) => ({ from: r.from_position, to: r.to_position, moved: r.moved }));
      const prefix = rows[0]?.from_position ?? move.moved;
      const fallback =
        active.size === 0 ? await findHeir(tx, workspaceId, move.fromUserId, preferredHeirs(null, actor)) : null;
      const r = handOverLeavers(targets, spans, prefix, (id) => active.has(id), fallback);
      if (!r) return false;
      await tx.leadMove.update({ where: key(deletionId, kind), data: { targets: r.targets as unknown as Prisma.InputJsonValue } });
      await tx.leadMoveStream.updateMany({ where: { deletionId, kind }, data: { plan: { increment: 1 } } });
      for (const h of r.handovers) {
        await recordAudit(
          tx,
          { workspaceId, deletionId, actor: MOVE_ACTOR, action: 'LEAD_TARGET_LEFT', detail: { kind, fromUserId: move.fromUserId, ...h } },
          false,
        );
      }
      return true;
    }, TX_OPTIONS);
  }

  /**
   * Moves batches for up to `budgetMs` in every stream at once, then reports.
   * Heartbeats after every batch (cursors and count); an abort stops each
   * stream after its current batch (`stopped` when that left work undone).
   */
  async function moveSlice(args: SliceArgs, io: SliceIo): Promise<SliceResult & { stopped: boolean }> {
    const { workspaceId, deletionId, kind } = args;
    const deadline = Date.now() + args.budgetMs;
    const layout = await layOut(workspaceId, deletionId, kind);
    const streams = layout.streams;
    const prefix = streams[0]?.fromPosition ?? 0;
    const movedNow = () => streams.reduce((sum, s) => sum + s.moved, prefix);
    const sizes = streams.map(() => firstBatchSize(tuning, args.batchSize));
    // Longest row-lock hold (server side), and longest round trip as the worker saw it.
    let longestMs = 0;
    let longestRoundTripMs = 0;

    const heartbeat = () =>
      io.heartbeat({
        moved: movedNow(),
        total: layout.total,
        streams: streams.map((s) => ({ stream: s.stream, cursor: s.cursor.toString(), moved: s.moved, done: s.done })),
      });

    // One stream failing stops its siblings after their current batch (the retry takes over).
    const stop = new AbortController();
    const stopped = () => io.signal.aborted || stop.signal.aborted;

    // A target left: one handover at a time for all streams of this slice.
    let handing: Promise<boolean> | undefined;
    const handOverOnce = () => (handing ??= handOver(workspaceId, deletionId, kind, args.actor).finally(() => (handing = undefined)));
    /** Stream i as committed; the plan too when it was rewritten meanwhile. */
    const reload = async (i: number) => {
      const row = await db.leadMoveStream.findUniqueOrThrow({
        where: { deletionId_kind_stream: { deletionId, kind, stream: streams[i]!.stream } },
      });
      if (row.plan !== streams[i]!.plan) {
        const m = await db.leadMove.findUniqueOrThrow({ where: key(deletionId, kind), select: { targets: true } });
        layout.targets = m.targets as unknown as Quota[];
      }
      streams[i] = row;
      return row;
    };

    async function run(i: number): Promise<void> {
      for (;;) {
        const s = streams[i]!;
        const next = s.done ? null : nextStreamBatch(layout.targets, span(s), sizes[i]!);
        if (!next) {
          s.done = true;
          return;
        }
        const t0 = Date.now();
        let r: Awaited<ReturnType<typeof streamBatch>>;
        try {
          r = await streamBatch(workspaceId, deletionId, kind, layout.fromUserId, s, next.userId, next.size);
        } catch (err) {
          // The target was deleted between the batch's check and its update (foreign key): hand over, go on.
          if (classifyDbError(err).sqlstate !== '23503') throw err;
          await handOverOnce();
          if ((await reload(i)).plan === s.plan) throw err;
          continue;
        }
        longestRoundTripMs = Math.max(longestRoundTripMs, Date.now() - t0);
        const ms = Math.ceil(r.lock_ms);
        if (r.cursor === null || r.moved === null || r.done === null) {
          // Another attempt moved this stream on, a cancel closed it, the plan was rewritten, or the target
          // left (then hand their share over first): carry on from what is committed.
          if (!r.target_active) await handOverOnce();
          const row = await reload(i);
          if (!r.target_active && row.plan === s.plan && !row.done && row.cursor === s.cursor && row.moved === s.moved) {
            throw new Error(`Lead move ${deletionId} ${kind}: target ${next.userId} is not active, yet nothing was handed over`);
          }
        } else {
          recordLeadBatch(kind, r.moved - s.moved, (Date.now() - t0) / 1000);
          streams[i] = { ...s, cursor: r.cursor, moved: r.moved, done: r.done };
          longestMs = Math.max(longestMs, ms);
          sizes[i] = nextBatchSize(sizes[i]!, ms, tuning);
          heartbeat();
        }
        if (Date.now() >= deadline || stopped()) return;
      }
    }

    const ran = await Promise.allSettled(
      streams.map((_, i) =>
        run(i).catch((err: unknown) => {
          stop.abort();
          throw err;
        }),
      ),
    );
    const failed = ran.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const done = streams.every((s) => s.done);
    const [row] = await db.$queryRaw<{ moved: number }[]>`
      UPDATE lead_moves SET max_batch_ms = GREATEST(max_batch_ms, ${longestMs}), done = done OR ${done}, updated_at = now()
      WHERE deletion_id = ${deletionId} AND kind = ${kind}
      RETURNING moved`;
    const moved = row!.moved;
    const batchSize = sizes.length
      ? Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length)
      : firstBatchSize(tuning, args.batchSize);
    const cancelled = io.signal.aborted && !done;
    io.log.info(cancelled ? 'lead move stopped after its batches' : done ? 'lead move done' : 'lead move progress', {
      deletionId,
      kind,
      moved,
      total: layout.total,
      streams: streams.length,
      batchSize,
      longestBatchMs: longestMs,
      longestRoundTripMs,
    });
    return { moved, total: layout.total, done, batchSize, stopped: cancelled };
  }

  return { layOut, moveSlice };
}

export function leadMoveActivities(db: Db, tuning: MoveTuning) {
  const engine = leadMoveEngine(db, tuning);

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
          distribution = await sweepTargets(tx, args.workspaceId, args.userId, args.distribution, args.actor);
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
     * One slice of a move (see `leadMoveEngine`): batches in every stream for
     * up to `budgetMs`, heartbeating; a cancel stops it after the current
     * batches.
     */
    async moveLeadsSlice(args: SliceArgs): Promise<SliceResult> {
      const ctx = Context.current();
      if (ctx.info.attempt > 1) {
        // A retry: the committed cursors are where to go on from; the last heartbeat says how far the
        // previous attempt got, which they can only trail if PostgreSQL itself lost batches.
        const last = ctx.info.heartbeatDetails as { moved?: number } | undefined;
        const committed = await db.leadMove.findUnique({ where: key(args.deletionId, args.kind), select: { moved: true } });
        const meta = { deletionId: args.deletionId, attempt: ctx.info.attempt, committed: committed?.moved, lastHeartbeat: last?.moved };
        if (committed && last?.moved !== undefined && committed.moved < last.moved) {
          ctx.log.warn('lead move resumes behind its last heartbeat: batches lost by the database are redone', meta);
        } else {
          ctx.log.info('lead move resumes from its committed cursors', meta);
        }
      }
      const { stopped, ...result } = await engine.moveSlice(args, {
        heartbeat: (d) => ctx.heartbeat(d),
        signal: ctx.cancellationSignal,
        log: ctx.log,
      });
      if (stopped) throw new CancelledFailure('Lead move cancelled after its current batches');
      return result;
    },

    /** Ends a move: records what moved where (LEADS_MOVED or LEADS_SWEPT, even at 0). */
    async finishLeadMove(args: {
      workspaceId: string;
      deletionId: string;
      kind: MoveKind;
      actor: Actor;
    }): Promise<{ moved: number }> {
      const once = { workspaceId: args.workspaceId, deletionId: args.deletionId, actor: args.actor, action: FINISH_ACTION[args.kind] };
      return onceInTransaction(
        db,
        once,
        async (tx) => {
          const move = await tx.leadMove.findUniqueOrThrow({ where: key(args.deletionId, args.kind) });
          const targets = move.targets as unknown as Quota[];
          const streams = await tx.leadMoveStream.findMany(streamWhere(args.deletionId, args.kind));
          const handovers = await tx.auditEvent.findMany({
            where: { deletionId: args.deletionId, action: 'LEAD_TARGET_LEFT' },
            orderBy: [{ at: 'asc' }, { id: 'asc' }],
            select: { detail: true },
          });
          // Positions before the first stream were moved before streams were laid out.
          const prefix = streams[0]?.fromPosition ?? move.moved;
          await tx.leadMove.update({ where: key(args.deletionId, args.kind), data: { done: true } });
          return {
            result: { moved: move.moved },
            detail: {
              fromUserId: move.fromUserId,
              total: move.total,
              moved: move.moved,
              batches: move.batches,
              targets: receivedByUser(targets, streams.map(span), prefix),
              streams: streams.length,
              ...(handovers.length > 0
                ? {
                    targetsLeft: handovers
                      .map((h) => h.detail as { kind: string; leftUserId: string; remaining: number; to: unknown })
                      .filter((h) => h.kind === args.kind)
                      .map(({ leftUserId, remaining, to }) => ({ leftUserId, remaining, to })),
                  }
                : {}),
            },
          };
        },
        async (_detail, tx) => ({ moved: (await tx.leadMove.findUniqueOrThrow({ where: key(args.deletionId, args.kind) })).moved }),
      );
    },

    /** Live progress of a move, for readers between workflow updates. */
    async readLeadMove(args: { deletionId: string; kind: MoveKind }) {
      const m = await db.leadMove.findUnique({ where: key(args.deletionId, args.kind) });
      return m && { moved: m.moved, total: m.total, done: m.done, maxBatchMs: m.maxBatchMs, batches: m.batches };
    },
  };
}

/** The sweep at confirm: the step-1 choice's members still active, else the heir (domain `sweepDistribution`). */
async function sweepTargets(
  tx: Prisma.TransactionClient,
  workspaceId: string,
  userId: string,
  choice: Distribution | null,
  actor: Actor,
): Promise<Distribution> {
  const candidates = await heirCandidates(tx, workspaceId, userId, preferredHeirs(choice, actor));
  const distribution = sweepDistribution(choice, candidates);
  if (!distribution) throw refusalFailure(NOBODY_LEFT);
  return distribution;
}
