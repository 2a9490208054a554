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
