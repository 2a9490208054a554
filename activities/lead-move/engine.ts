// The engine of a bulk move, free of Temporal: one slice runs every stream at
// once for a bounded time, in turns (each a call of the database procedure
// lead_move_run, which runs batch after batch itself), heartbeating through
// `SliceIo` between turns, and stops each stream after its current turn when
// aborted (a cancel also closes the streams in the database, which stops the
// turn after its current batch). Any slice, first or retried after a crash,
// resumes from the committed cursors.
import { classifyDbError } from '../db-errors';
import { singleFlight } from '../../infra/single-flight';
import { firstBatchSize, nextStreamBatch, type BatchSizing, type Quota } from '../../domain/lead-plan';
import type { Actor } from '../../domain/schemas';
import type { Db } from '../shared';
import { handOver, layOut, moveKey, streamRun, streamSpan, type MoveKind, type StreamRun } from './sql';
import { statementTurns } from './turns';

/** How often a stream waiting for its turn heartbeats (the activity's heartbeat timeout is 10 s). */
const QUEUED_HEARTBEAT_MS = 2_000;

/** A turn's length when the tuning names none (LEAD_MOVE_TURN_MS's default). */
export const DEFAULT_TURN_MS = 200;

/** How bulk moves run: batch sizing, and how many streams a book is cut into. */
export interface MoveTuning extends BatchSizing {
  /** Concurrent streams per move (1 = one id-ordered walk). */
  streams: number;
  /**
   * Turns (calls of lead_move_run, each holding one connection) this engine
   * runs at once over all its moves (default: no limit beyond the pool).
   * Turns past it wait, and each free turn goes
   * to the move with the fewest leads left (./turns.ts): moves running
   * together finish one after another, a huge book never starves small ones,
   * and each statement runs at the speed of a core rather than sharing one
   * with a hundred others (which would also shrink every move's batches for
   * nothing).
   */
  statements?: number;
  /**
   * How long one turn of a stream runs batches in the database, one after
   * another without a round trip between them, before it hands the turn back
   * (the next goes to the move with the fewest leads left), heartbeats and
   * sees a stop: at most this plus one batch. 0: one batch a turn. Default DEFAULT_TURN_MS.
   */
  turnMs?: number;
  /** Told of each committed batch (its leads, its row-lock time): the worker's metrics (worker/metrics.ts). */
  onBatch?: (kind: MoveKind, leads: number, seconds: number) => void;
}

/** What a slice needs from whoever runs it (an activity's context, or a test). */
export interface SliceIo {
  heartbeat(details: unknown): void;
  /** Aborted: stop each stream after its current turn. */
  signal: AbortSignal;
  log: { info(message: string, meta?: Record<string, unknown>): void };
}

export interface SliceArgs {
  workspaceId: string;
  deletionId: string;
  kind: MoveKind;
  budgetMs: number;
  /** The size the previous slice settled on (the procedure lead_move_run sizes batches). */
  batchSize?: number;
  /** Who takes a leaver's share of the sweep when no target is left (the confirming admin); step 1's move ends there instead. */
  actor?: Actor;
}

export interface SliceResult {
  moved: number;
  total: number;
  done: boolean;
  batchSize: number;
}

/** The streams and batches of a move: `moveSlice` runs one slice of it. */
export function leadMoveEngine(prisma: Db, tuning: MoveTuning) {
  const turns = statementTurns(tuning.statements ?? Number.POSITIVE_INFINITY);
  /** The size this engine's most recent batch (of any move) led to: where a new slice starts at most. */
  let latestSize: number | undefined;
  /**
   * Moves batches for up to `budgetMs` in every stream at once, then reports.
   * Heartbeats after every turn (cursors and count); an abort stops each
   * stream after its current turn (`stopped` when that left work undone).
   */
  async function moveSlice(args: SliceArgs, io: SliceIo): Promise<SliceResult & { stopped: boolean }> {
    const { workspaceId, deletionId, kind } = args;
    // The budget starts with the slice's first turn: time spent queued behind other moves
    // (a layoff's hundred) would otherwise leave each slice one batch per stream and its overhead.
    let deadline = Number.POSITIVE_INFINITY;
    const layout = await layOut(prisma, tuning.streams, workspaceId, deletionId, kind);
    const streams = layout.streams;
    const prefix = streams[0]?.fromPosition ?? 0;
    const movedNow = () => streams.reduce((sum, stream) => sum + stream.moved, prefix);
    const sizes = streams.map(() => firstBatchSize(tuning, args.batchSize, latestSize));
    /** Streams that have had their first turn in this slice (their size is their own from then on). */
    const started = streams.map(() => false);
    // Longest row-lock hold (server side), and longest turn as the worker saw it.
    let longestMs = 0;
    let longestTurnMs = 0;

    const heartbeat = () =>
      io.heartbeat({
        moved: movedNow(),
        total: layout.total,
        streams: streams.map((stream) => ({ stream: stream.stream, cursor: stream.cursor.toString(), moved: stream.moved, done: stream.done })),
      });

    // One stream failing stops its siblings after their current batch (the retry takes over).
    const stop = new AbortController();
    const stopping = AbortSignal.any([io.signal, stop.signal]);
    const stopped = () => stopping.aborted;
    /** The move, as the turns know it: its streams and slices share one age. */
    const move = `${deletionId}:${kind}`;

    // A target left: one handover at a time for all streams of this slice.
    const handOverOnce = singleFlight(() => handOver(prisma, workspaceId, deletionId, kind, args.actor));
    /** Stream i as committed; the plan too when it was rewritten meanwhile. */
    const reload = async (i: number) => {
      const row = await prisma.leadMoveStream.findUniqueOrThrow({
        where: { deletionId_kind_stream: { deletionId, kind, stream: streams[i]!.stream } },
      });
      if (row.plan !== streams[i]!.plan) {
        const move = await prisma.leadMove.findUniqueOrThrow({ where: moveKey(deletionId, kind), select: { targets: true } });
        layout.targets = move.targets as unknown as Quota[];
      }
      streams[i] = row;
      return row;
    };

    async function run(i: number): Promise<void> {
      for (;;) {
        const stream = streams[i]!;
        // Where the current target's segment (or the stream) ends: a turn never runs past it.
        const next = stream.done ? null : nextStreamBatch(layout.targets, streamSpan(stream), Number.MAX_SAFE_INTEGER);
        if (!next) {
          stream.done = true;
          return;
        }
        let t0 = Date.now();
        let batch: StreamRun | null;
        // Waiting for its turn (a layoff's hundred moves) is not silence: the activity keeps heartbeating.
        const waiting = setInterval(heartbeat, QUEUED_HEARTBEAT_MS);
        const stoppedBefore = stopped();
        try {
          // Stopped while queued (a cancel, a sibling stream failed): the place is given up unused.
          // (Stopped before: this turn runs, the last one, as it always has.)
          batch = await turns.take({ move, leadsLeft: layout.total - movedNow(), signal: stopping }, () => {
            clearInterval(waiting);
            if (stopped() && !stoppedBefore) return null;
            // Timed from its turn: the wait in the queue is not the batch's.
            t0 = Date.now();
            if (deadline === Number.POSITIVE_INFINITY) deadline = t0 + args.budgetMs;
            // A first batch waited for its turn (behind a layoff's hundred moves): sized by how fast
            // the database is now, as the latest batch of any move found it.
            if (!started[i]) {
              started[i] = true;
              sizes[i] = Math.min(sizes[i]!, firstBatchSize(tuning, args.batchSize, latestSize));
            }
            // Stopped before its turn: one last batch, as it always has.
            const budgetMs = stopped() ? 0 : Math.max(0, Math.min(tuning.turnMs ?? DEFAULT_TURN_MS, deadline - t0));
            return streamRun(
              prisma,
              { workspaceId, deletionId, kind, from: layout.fromUserId },
              stream,
              { to: next.userId, size: sizes[i]!, limit: next.size, budgetMs },
              tuning,
            );
          });
        } catch (err) {
          // The target was deleted between the batch's check and its update (foreign key): hand over, go on.
          if (classifyDbError(err).sqlstate !== '23503') throw err;
          await handOverOnce();
          if ((await reload(i)).plan === stream.plan) throw err;
          continue;
        } finally {
          clearInterval(waiting);
        }
        if (batch === null) return;
        longestTurnMs = Math.max(longestTurnMs, Date.now() - t0);
        if (batch.lock_ms.length > 0) {
          batch.lock_ms.forEach((ms, b) => tuning.onBatch?.(kind, batch.batch_leads[b]!, ms / 1000));
          streams[i] = { ...stream, cursor: BigInt(batch.cursor), moved: batch.moved, done: batch.done };
          longestMs = Math.max(longestMs, Math.ceil(Math.max(...batch.lock_ms)));
          sizes[i] = batch.next_size;
          // Only a batch of the full size says how fast the database is: a short one (a segment's
          // last leads) is fast for its size and must not push every later first batch up.
          if (batch.full_next_size !== null) latestSize = batch.full_next_size;
          heartbeat();
        }
        if (!batch.matched) {
          // Another attempt moved this stream on, a cancel closed it, the plan was rewritten, or the target
          // left (then hand their share over first): carry on from what is committed.
          const seen = streams[i]!;
          if (!batch.target_active) await handOverOnce();
          const row = await reload(i);
          if (!batch.target_active && row.plan === seen.plan && !row.done && row.cursor === seen.cursor && row.moved === seen.moved) {
            throw new Error(`Lead move ${deletionId} ${kind}: target ${next.userId} is not active, yet nothing was handed over`);
          }
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
    const failed = ran.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const done = streams.every((stream) => stream.done);
    if (done) turns.forget(move);
    const [row] = await prisma.$queryRaw<{ moved: number }[]>`
      UPDATE lead_moves SET max_batch_ms = GREATEST(max_batch_ms, ${longestMs}), done = done OR ${done}, updated_at = now()
      WHERE deletion_id = ${deletionId} AND kind = ${kind}
      RETURNING moved`;
    const moved = row!.moved;
    const batchSize = sizes.length
      ? Math.round(sizes.reduce((sum, size) => sum + size, 0) / sizes.length)
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
      longestTurnMs,
    });
    return { moved, total: layout.total, done, batchSize, stopped: cancelled };
  }

  return { moveSlice };
}
