// The plan of a bulk lead move: the book in id order is cut into consecutive
// segments, one per target, each as long as that target's quota (largest
// remainder over the chosen weights). The book is also cut into streams,
// consecutive ranges of positions moved concurrently. A batch never crosses a
// segment nor the end of its stream, so what each stream has moved says
// exactly who received what. Pure.
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

/** How many leads each target received once the first `moved` positions have gone, in plan order. */
export function receivedByTarget(targets: readonly Quota[], moved: number): { userId: string; count: number }[] {
  return receivedBySpans(targets, [], moved);
}

export interface BatchSizing {
  /** Fewest leads per batch. */
  min: number;
  /** Most leads per batch. */
  max: number;
  /** Aim for batches that hold their row locks about this long; 0 keeps the size fixed at `max`. */
  targetMs: number;
}

/**
 * The next batch's size after one of `size` took `ms`: shrinks at once in
 * proportion when a batch ran long, grows by a quarter when it ran short, so
 * that no batch holds its row locks much past the target, whatever the
 * database's speed, while fast databases still move big batches.
 */
export function nextBatchSize(size: number, ms: number, s: BatchSizing): number {
  if (s.targetMs <= 0) return s.max;
  let next = size;
  if (ms > s.targetMs * 1.25) next = Math.floor((size * s.targetMs) / ms);
  else if (ms < s.targetMs * 0.75) next = Math.ceil(size * 1.25);
  return Math.min(s.max, Math.max(s.min, next));
}

/**
 * The first batch of a slice: where the previous slice left off, else small
 * (it grows within a few batches); the fixed size when not adapting.
 */
export function firstBatchSize(s: BatchSizing, previous?: number): number {
  return s.targetMs <= 0 ? s.max : Math.min(s.max, Math.max(s.min, previous ?? 1_000));
}
