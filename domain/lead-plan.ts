// The plan of a bulk lead move: the book in id order is cut into consecutive
// segments, one per target, each as long as that target's quota (largest
// remainder over the chosen weights). A batch never crosses a segment, so the
// count moved so far says exactly who received what. Pure.
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

/** How many leads each target received once `moved` leads have gone, in plan order. */
export function receivedByTarget(targets: readonly Quota[], moved: number): { userId: string; count: number }[] {
  let start = 0;
  return targets.map((t) => {
    const count = Math.min(Math.max(moved - start, 0), t.quota);
    start += t.quota;
    return { userId: t.userId, count };
  });
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
