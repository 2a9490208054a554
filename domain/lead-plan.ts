// The plan of a bulk lead move: the book in id order is cut into consecutive
// segments, one per target, each as long as that target's quota (largest
// remainder over the chosen weights). The book is also cut into streams,
// consecutive ranges of positions moved concurrently. A batch never crosses a
// segment nor the end of its stream, so what each stream has moved says
// exactly who received what. A target who leaves while the move runs hands
// the positions not yet moved of their segments over to the others
// (`handOverLeavers`): the plan is rewritten, never the past. Pure.
import { apportion } from './distribution';

export interface Quota {
  userId: string;
  quota: number;
}

/** Which target the lead at position `moved` goes to, and how many more it takes. */
export function currentTarget(targets: readonly Quota[], moved: number): { userId: string; room: number } | null {
  let end = 0;
  for (const t of targets) {
    end += t.quota;
    if (moved < end) return { userId: t.userId, room: end - moved };
  }
  return null;
}

/**
 * How the positions [moved, total) still to move are cut into at most
 * `streams` consecutive ranges of at least `minPerStream` positions each (one
 * range when there are fewer): the offsets from `moved` where each range
 * starts, then the end. [0, 10] at 1 stream; [0, 5, 10] at 2.
 */
export function streamOffsets(remaining: number, streams: number, minPerStream: number): number[] {
  const k = Math.max(1, Math.min(streams, Math.floor(remaining / Math.max(1, minPerStream))));
  return Array.from({ length: k + 1 }, (_, i) => Math.floor((remaining * i) / k));
}

/** A stream's place in the plan: positions [from, to), `moved` of them done. */
export interface StreamSpan {
  from: number;
  to: number;
  moved: number;
}

/**
 * The next batch of a stream: to whom, and how many at most — never past the
 * stream's end nor past the current target's room. Null when the stream has
 * nothing left in the plan.
 */
export function nextStreamBatch(
  targets: readonly Quota[],
  span: StreamSpan,
  batchSize: number,
): { userId: string; size: number } | null {
  const position = span.from + span.moved;
  if (position >= span.to) return null;
  const t = currentTarget(targets, position);
  if (!t) return null;
  return { userId: t.userId, size: Math.max(1, Math.min(batchSize, t.room, span.to - position)) };
}

/**
 * How many leads each target received from streams that each moved the first
 * `moved` positions of their span, plus `prefix` positions [0, prefix) moved
 * before any stream (by a single-stream move begun before streams existed).
 */
export function receivedBySpans(
  targets: readonly Quota[],
  spans: readonly StreamSpan[],
  prefix = 0,
): { userId: string; count: number }[] {
  const segments = [[0, prefix], ...spans.map((s) => [s.from, s.from + s.moved])] as const;
  let start = 0;
  return targets.map((t) => {
    const end = start + t.quota;
    let count = 0;
    for (const [a, b] of segments) count += Math.max(0, Math.min(b, end) - Math.max(a, start));
    start = end;
    return { userId: t.userId, count };
  });
}

/** The same, one entry per user (a user can hold several segments once a leaver's share was handed over). */
export function receivedByUser(
  targets: readonly Quota[],
  spans: readonly StreamSpan[],
  prefix = 0,
): { userId: string; count: number }[] {
  const byUser = new Map<string, number>();
  for (const r of receivedBySpans(targets, spans, prefix)) byUser.set(r.userId, (byUser.get(r.userId) ?? 0) + r.count);
  return [...byUser].map(([userId, count]) => ({ userId, count }));
}

/** What one target who left hands over: how many positions were still theirs to receive, and who takes them. */
export interface Handover {
  leftUserId: string;
  remaining: number;
  to: { userId: string; count: number }[];
}

/** Each target's segment of the plan, in order, cut into its moved and unmoved pieces. */
function planSegments(
  targets: readonly Quota[],
  spans: readonly StreamSpan[],
  prefix: number,
): { userId: string; pieces: { len: number; moved: boolean }[] }[] {
  const moved: [number, number][] = [[0, prefix] as [number, number], ...spans.map((s): [number, number] => [s.from, s.from + s.moved])]
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  /** Cuts [a, b) into its moved and unmoved pieces, in order. */
  const pieces = (a: number, b: number): { len: number; moved: boolean }[] => {
    const out: { len: number; moved: boolean }[] = [];
    let at = a;
    for (const [ma, mb] of moved) {
      const from = Math.max(ma, at);
      const to = Math.min(mb, b);
      if (to <= from) continue;
      if (from > at) out.push({ len: from - at, moved: false });
      out.push({ len: to - from, moved: true });
      at = to;
    }
    if (b > at) out.push({ len: b - at, moved: false });
    return out;
  };
  let start = 0;
  return targets.map((t) => {
    const segment = { userId: t.userId, pieces: pieces(start, start + t.quota) };
    start += t.quota;
    return segment;
  });
}

/** How many positions not yet moved each target who left still had to receive (leavers with none left out). */
function unmovedOf(segments: ReturnType<typeof planSegments>, isActive: (userId: string) => boolean): Map<string, number> {
  const remaining = new Map<string, number>();
  for (const seg of segments) {
    if (isActive(seg.userId)) continue;
    const left = seg.pieces.filter((p) => !p.moved).reduce((n, p) => n + p.len, 0);
    if (left > 0) remaining.set(seg.userId, (remaining.get(seg.userId) ?? 0) + left);
  }
  return remaining;
}

/**
 * Of the targets who left (not `isActive`), how many positions not yet moved
 * (outside `[0, prefix)` and each stream's moved part) each still had to
 * receive, in plan order; those with none are left out.
 */
export function unmovedOfLeavers(
  targets: readonly Quota[],
  spans: readonly StreamSpan[],
  prefix: number,
  isActive: (userId: string) => boolean,
): Map<string, number> {
  return unmovedOf(planSegments(targets, spans, prefix), isActive);
}

/**
 * Targets who left (not `isActive`) get nothing more: every position of their
 * segments not yet moved (`unmovedOfLeavers`) goes to the targets still
 * active, split by largest remainder in proportion to their share of the
 * plan; where none is active, all of it goes to `fallbackUserId`. Positions
 * already moved stay theirs, so the plan still says exactly who received
 * what. Returns the rewritten plan (adjacent segments of one user merged) and
 * one handover per leaver, or null when no leaver has anything left to
 * receive.
 */
export function handOverLeavers(
  targets: readonly Quota[],
  spans: readonly StreamSpan[],
  prefix: number,
  isActive: (userId: string) => boolean,
  fallbackUserId: string | null,
): { targets: Quota[]; handovers: Handover[] } | null {
  const segments = planSegments(targets, spans, prefix);
  const remaining = unmovedOf(segments, isActive);
  if (remaining.size === 0) return null;

  const shares = new Map<string, number>();
  for (const t of targets) if (isActive(t.userId)) shares.set(t.userId, (shares.get(t.userId) ?? 0) + t.quota);
  let heirs = [...shares].map(([userId, weight]) => ({ userId, weight }));
  if (heirs.length > 0 && heirs.every((h) => h.weight === 0)) heirs = heirs.map((h) => ({ ...h, weight: 1 }));
  if (heirs.length === 0) {
    if (fallbackUserId === null) return null;
    heirs = [{ userId: fallbackUserId, weight: 1 }];
  }

  const handovers: Handover[] = [...remaining].map(([leftUserId, count]) => {
    const counts = apportion(count, heirs.map((h) => h.weight));
    return { leftUserId, remaining: count, to: heirs.map((h, i) => ({ userId: h.userId, count: counts[i]! })).filter((x) => x.count > 0) };
  });
  // Each leaver's unmoved positions, in plan order, go to their heirs in turn.
  const queues = new Map(handovers.map((h) => [h.leftUserId, h.to.map((x) => ({ ...x }))]));
  const out: Quota[] = [];
  const push = (userId: string, quota: number) => {
    if (quota <= 0) return;
    const last = out.at(-1);
    if (last && last.userId === userId) last.quota += quota;
    else out.push({ userId, quota });
  };
  for (const seg of segments) {
    const queue = queues.get(seg.userId);
    if (!queue) {
      const quota = seg.pieces.reduce((n, p) => n + p.len, 0);
      if (quota > 0) push(seg.userId, quota);
      else out.push({ userId: seg.userId, quota: 0 });
      continue;
    }
    for (const p of seg.pieces) {
      if (p.moved) {
        push(seg.userId, p.len);
        continue;
      }
      let len = p.len;
      while (len > 0) {
        const heir = queue[0]!;
        const take = Math.min(len, heir.count);
        push(heir.userId, take);
        heir.count -= take;
        len -= take;
        if (heir.count === 0) queue.shift();
      }
    }
  }
  return { targets: out, handovers };
}

/** How many leads each target received once the first `moved` positions have gone, in plan order. */
export function receivedByTarget(targets: readonly Quota[], moved: number): { userId: string; count: number }[] {
  return receivedBySpans(targets, [], moved);
}

/**
 * How a move sizes its batches. The rule runs in the database with the
 * batches (function lead_move_next_size, called by the procedure
 * lead_move_run; tests/wizard/lead-move.test.ts).
 */
export interface BatchSizing {
  /** Fewest leads per batch. */
  min: number;
  /** Most leads per batch. */
  max: number;
  /** Aim for batches that hold their row locks about this long; 0 keeps the size fixed at `max`. */
  targetMs: number;
}

/**
 * A new move's first batch. Small: it is how the move learns how fast the
 * database is, and a layoff's moves open in the seconds when the lead steps'
 * own transactions take both cores. Growing from it costs little, since a
 * turn's batches follow one another in the database (a quarter more each).
 */
export const FIRST_BATCH = 500;

/**
 * The first batch of a slice: where this move's previous slice left off, else
 * FIRST_BATCH; and never more than `latest`,
 * the size the worker's most recent full batch of any move led to (how fast
 * the database is right now: a hundred moves starting at once on a busy
 * machine must not each open with a batch sized for a quiet one). The fixed
 * size when not adapting.
 */
export function firstBatchSize(s: BatchSizing, previous?: number, latest?: number): number {
  if (s.targetMs <= 0) return s.max;
  return Math.min(s.max, Math.max(s.min, Math.min(previous ?? FIRST_BATCH, latest ?? Number.POSITIVE_INFINITY)));
}
