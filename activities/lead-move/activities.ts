// The bulk move as Temporal activities: fix the plan, run slices, record the end.
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { Prisma } from '../../generated/prisma/client';
import type { AuditAction } from '../../domain/audit';
import { splitCounts, topUp } from '../../domain/distribution';
import { preferredHeirs, sweepDistribution } from '../../domain/heirs';
import { receivedByUser, type Quota } from '../../domain/lead-plan';
import { refusalFailure } from '../../domain/refusal';
import type { Actor, Distribution } from '../../domain/schemas';
import { assertTargets, heirCandidates, NOBODY_LEFT, onceInTransaction, oneAtATime, type Db } from '../shared';
import { leadMoveEngine, type MoveTuning, type SliceArgs, type SliceResult } from './engine';
import { moveKey, streamsOf, streamSpan, type MoveKind } from './sql';

/**
 * How often a slice hands its progress to Temporal. The engine reports after
 * every turn (up to five a second per stream); the SDK encodes, encrypts and passes each
 * report to its core, which sends at most one a second to the server
 * (worker/index.ts, `maxHeartbeatThrottleInterval`). Reports in between would
 * be work for nothing.
 */
export const HEARTBEAT_EVERY_MS = 1_000;

/**
 * `fn`, called at most once every `ms`: calls in between are dropped (the next
 * one carries newer details). Timed on the monotonic clock: a wall clock set
 * back (NTP) must not silence the slice into its heartbeat timeout.
 */
export function atMostEvery<T>(ms: number, fn: (arg: T) => void, now: () => number = () => performance.now()): (arg: T) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (arg) => {
    const t = now();
    if (t - last < ms) return;
    last = t;
    fn(arg);
  };
}

/** Audit action written when each kind of move ends. */
const FINISH_ACTION: Record<MoveKind, AuditAction> = { MOVE: 'LEADS_MOVED', SWEEP: 'LEADS_SWEPT' };

export function leadMoveActivities(prisma: Db, tuning: MoveTuning) {
  const engine = leadMoveEngine(prisma, tuning);

  return {
    /**
     * Fixes the plan of a move: checks the targets (step 1: refused when one is
     * not active; sweep: falls back to whoever can still receive), counts the
     * user's leads and splits that number over the targets. Run twice, even
     * at once, it returns the plan already made.
     */
    async startLeadMove(args: {
      workspaceId: string;
      deletionId: string;
      userId: string;
      kind: MoveKind;
      distribution: Distribution | null;
      actor: Actor;
    }): Promise<{ total: number; targets: Quota[] }> {
      return prisma.$transaction(async (tx) => {
        // An attempt running beside another (a replayed workflow task runs the step's local activity again
        // while the first still runs) waits for it, then answers its plan, instead of colliding on the key.
        await oneAtATime(tx, args.deletionId, `PLAN_${args.kind}`);
        const existing = await tx.leadMove.findUnique({ where: moveKey(args.deletionId, args.kind) });
        if (existing) return { total: existing.total, targets: existing.targets as unknown as Quota[] };
        let distribution: Distribution;
        if (args.kind === 'MOVE') {
          distribution = args.distribution ?? [];
          await assertTargets(tx, args.workspaceId, args.userId, distribution.map((member) => member.userId));
        } else {
          distribution = await sweepTargets(tx, args.workspaceId, args.userId, args.distribution, args.actor);
        }
        const total = await tx.lead.count({ where: { workspaceId: args.workspaceId, ownerId: args.userId } });
        const targets: Quota[] =
          args.kind === 'MOVE'
            ? splitCounts(total, distribution).map((share) => ({ userId: share.userId, quota: share.count }))
            : await sweepPlan(tx, args.deletionId, total, distribution);
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
      });
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
        const committed = await prisma.leadMove.findUnique({ where: moveKey(args.deletionId, args.kind), select: { moved: true } });
        const meta = { deletionId: args.deletionId, attempt: ctx.info.attempt, committed: committed?.moved, lastHeartbeat: last?.moved };
        if (committed && last?.moved !== undefined && committed.moved < last.moved) {
          ctx.log.warn('lead move resumes behind its last heartbeat: batches lost by the database are redone', meta);
        } else {
          ctx.log.info('lead move resumes from its committed cursors', meta);
        }
      }
      const { stopped, ...result } = await engine.moveSlice(args, {
        heartbeat: atMostEvery(HEARTBEAT_EVERY_MS, (d) => ctx.heartbeat(d)),
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
      return onceInTransaction(
        prisma,
        { ...args, action: FINISH_ACTION[args.kind] },
        async (tx) => {
          const move = await tx.leadMove.findUniqueOrThrow({ where: moveKey(args.deletionId, args.kind) });
          const detail = await movedWhere(tx, move);
          await tx.leadMove.update({ where: moveKey(args.deletionId, args.kind), data: { done: true } });
          return { result: { moved: move.moved }, detail };
        },
        async (_detail, tx) => ({ moved: (await tx.leadMove.findUniqueOrThrow({ where: moveKey(args.deletionId, args.kind) })).moved }),
      );
    },
  };
}

/**
 * What a move (finished, or stopped by a cancel) moved where, for its audit
 * event: its counts, each target's leads received so far, and the targets who
 * left mid-move with whom their share went to.
 */
export async function movedWhere(
  tx: Prisma.TransactionClient,
  move: { deletionId: string; kind: string; fromUserId: string; total: number; moved: number; batches: number; targets: Prisma.JsonValue },
) {
  const kind = move.kind as MoveKind;
  const { streams, received } = await receivedSoFar(tx, move);
  const handovers = (
    await tx.auditEvent.findMany({
      where: { deletionId: move.deletionId, action: 'LEAD_TARGET_LEFT' },
      orderBy: [{ at: 'asc' }, { id: 'asc' }],
      select: { detail: true },
    })
  )
    .map((handover) => handover.detail as { kind: string; leftUserId: string; remaining: number; to: unknown; untilConfirm?: true })
    .filter((handover) => handover.kind === kind);
  const choiceLeft = kind === 'SWEEP' ? await stepOneTargetsLeft(tx, move.deletionId, received) : [];
  return {
    fromUserId: move.fromUserId,
    total: move.total,
    moved: move.moved,
    batches: move.batches,
    targets: received,
    streams: streams.length,
    ...(handovers.length > 0 ? { targetsLeft: handovers.map(({ leftUserId, remaining, to, untilConfirm }) => ({ leftUserId, remaining, to, ...(untilConfirm ? { untilConfirm } : {}) })) } : {}),
    // The sweep did not follow the step-1 choice for these: they were no longer active.
    ...(choiceLeft.length > 0 ? { choiceLeft } : {}),
  };
}

/** What each target of a move has received so far (its plan read against its streams' progress). */
async function receivedSoFar(
  tx: Prisma.TransactionClient,
  move: { deletionId: string; kind: string; moved: number; targets: Prisma.JsonValue },
): Promise<{ streams: { fromPosition: number }[]; received: { userId: string; count: number }[] }> {
  const streams = await tx.leadMoveStream.findMany(streamsOf(move.deletionId, move.kind as MoveKind));
  // Positions before the first stream were moved before streams were laid out.
  const prefix = streams[0]?.fromPosition ?? move.moved;
  return { streams, received: receivedByUser(move.targets as unknown as Quota[], streams.map(streamSpan), prefix) };
}

/**
 * The sweep's plan: `total` leads over `distribution` so that what each
 * member ends up with from the user's whole book (step 1's move and the
 * sweep) is its largest-remainder share of it (domain `topUp`).
 */
async function sweepPlan(tx: Prisma.TransactionClient, deletionId: string, total: number, distribution: Distribution): Promise<Quota[]> {
  const move = await tx.leadMove.findUnique({ where: moveKey(deletionId, 'MOVE') });
  const received = new Map(move ? (await receivedSoFar(tx, move)).received.map((r) => [r.userId, r.count]) : []);
  const quotas = topUp(
    total,
    distribution.map((member) => member.weight),
    distribution.map((member) => received.get(member.userId) ?? 0),
  );
  return distribution.map((member, i) => ({ userId: member.userId, quota: quotas[i]! }));
}

/** Step-1 targets the sweep (whose targets are `sweptTo`) left out because they were no longer active. */
async function stepOneTargetsLeft(tx: Prisma.TransactionClient, deletionId: string, sweptTo: readonly { userId: string }[]): Promise<string[]> {
  const move = await tx.leadMove.findUnique({ where: moveKey(deletionId, 'MOVE'), select: { targets: true } });
  const swept = new Set(sweptTo.map((target) => target.userId));
  const notSwept = [...new Set((move?.targets as unknown as Quota[] | undefined)?.map((target) => target.userId) ?? [])].filter((id) => !swept.has(id));
  if (notSwept.length === 0) return [];
  const active = new Set((await tx.user.findMany({ where: { id: { in: notSwept }, status: 'ACTIVE' }, select: { id: true } })).map((user) => user.id));
  return notSwept.filter((id) => !active.has(id));
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
