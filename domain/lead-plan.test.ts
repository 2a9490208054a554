import fc from 'fast-check';
import { splitCounts } from './distribution';
import {
  currentTarget,
  firstBatchSize,
  handOverLeavers,
  nextStreamBatch,
  receivedBySpans,
  receivedByTarget,
  receivedByUser,
  streamOffsets,
  type Quota,
  type StreamSpan,
} from './lead-plan';

/** Walks a plan the way moveLeadsSlice does: batches of at most `batch`, never past a target's room. */
function walk(targets: Quota[], total: number, batch: number) {
  const got = new Map<string, number>();
  let moved = 0;
  for (;;) {
    const t = currentTarget(targets, moved);
    if (!t) break;
    const n = Math.min(batch, t.room, total - moved);
    if (n === 0) break;
    got.set(t.userId, (got.get(t.userId) ?? 0) + n);
    moved += n;
  }
  return { got, moved };
}

test('30,000 leads at 50/50 in batches of 5,000: 15,000 each', () => {
  const targets = splitCounts(30_000, [
    { userId: 'a', weight: 50 },
    { userId: 'b', weight: 50 },
  ]).map((c) => ({ userId: c.userId, quota: c.count }));
  const { got } = walk(targets, 30_000, 5_000);
  expect(Object.fromEntries(got)).toEqual({ a: 15_000, b: 15_000 });
  expect(receivedByTarget(targets, 20_000)).toEqual([
    { userId: 'a', count: 15_000 },
    { userId: 'b', count: 5_000 },
  ]);
});

test('walking any plan in any batch size gives every target exactly its quota', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 50_000 }),
      fc.integer({ min: 1, max: 7_000 }),
      (weights, total, batch) => {
        const targets = weights.map((w, i) => ({ userId: `u${i}`, weight: w }));
        const plan = splitCounts(total, targets).map((c) => ({ userId: c.userId, quota: c.count }));
        const { got, moved } = walk(plan, total, batch);
        expect(moved).toBe(total);
        for (const p of plan) expect(got.get(p.userId) ?? 0).toBe(p.quota);
        expect(receivedByTarget(plan, moved).map((r) => r.count)).toEqual(plan.map((p) => p.quota));
      },
    ),
  );
});

test('receivedByTarget at any point adds up to what moved', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 1_000 }), { minLength: 1, maxLength: 5 }), fc.nat(5_000), (quotas, moved) => {
      const plan = quotas.map((q, i) => ({ userId: `u${i}`, quota: q }));
      const sum = quotas.reduce((a, b) => a + b, 0);
      const received = receivedByTarget(plan, moved).reduce((a, r) => a + r.count, 0);
      expect(received).toBe(Math.min(moved, sum));
    }),
  );
});

describe('streams', () => {
  test('a book is cut into at most `streams` ranges of at least the minimum each', () => {
    expect(streamOffsets(1_000_000, 2, 10_000)).toEqual([0, 500_000, 1_000_000]);
    expect(streamOffsets(30_001, 4, 10_000)).toEqual([0, 10_000, 20_000, 30_001]);
    expect(streamOffsets(19_999, 2, 10_000)).toEqual([0, 19_999]);
    expect(streamOffsets(0, 2, 10_000)).toEqual([0, 0]);
    expect(streamOffsets(5, 1, 1)).toEqual([0, 5]);
  });

  test('streams walked in any batch sizes and any interleaving give every target exactly its quota', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 40_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 6_000 })), { minLength: 1, maxLength: 20 }),
        (weights, total, prefixWanted, k, schedule) => {
          const plan = splitCounts(total, weights.map((w, i) => ({ userId: `u${i}`, weight: w }))).map((c) => ({
            userId: c.userId,
            quota: c.count,
          }));
          // A move laid out after `prefix` positions had gone in a single stream.
          const prefix = Math.min(prefixWanted, total);
          const offsets = streamOffsets(total - prefix, k, 1_000);
          const spans: StreamSpan[] = offsets.slice(0, -1).map((o, i) => ({ from: prefix + o, to: prefix + offsets[i + 1]!, moved: 0 }));
          expect(spans.length).toBeLessThanOrEqual(k);
          const got = new Map<string, number>(receivedByTarget(plan, prefix).map((r) => [r.userId, r.count]));
          const step = (i: number, size: number) => {
            const b = nextStreamBatch(plan, spans[i]!, size);
            if (!b) return false;
            const before = currentTarget(plan, spans[i]!.from + spans[i]!.moved + b.size - 1);
            expect(before?.userId).toBe(b.userId); // the whole batch belongs to one target
            got.set(b.userId, (got.get(b.userId) ?? 0) + b.size);
            spans[i]!.moved += b.size;
            return true;
          };
          for (const [which, size] of schedule) {
            step(which % spans.length, size);
            const partial = receivedBySpans(plan, spans, prefix).reduce((a, r) => a + r.count, 0);
            expect(partial).toBe(prefix + spans.reduce((a, s) => a + s.moved, 0));
          }
          spans.forEach((_, i) => {
            while (step(i, 1_500));
          });
          for (const p of plan) expect(got.get(p.userId) ?? 0).toBe(p.quota);
          expect(receivedBySpans(plan, spans, prefix).map((r) => r.count)).toEqual(plan.map((p) => p.quota));
        },
      ),
    );
  });
});

describe('batch sizing', () => {
  const s = { min: 100, max: 10_000, targetMs: 50 };
  test('a first batch stays within min and max, and is fixed at max when not adapting', () => {
    expect(firstBatchSize({ ...s, targetMs: 0 })).toBe(10_000);
    expect(firstBatchSize(s)).toBe(500);
    expect(firstBatchSize(s, 4_321)).toBe(4_321);
    expect(firstBatchSize(s, 99_999)).toBe(10_000);
  });
  test("a slice starts no bigger than the worker's latest batch of any move led to", () => {
    // Other moves' batches ran long just now (a busy machine): a new move starts at their size, not 500.
    expect(firstBatchSize(s, undefined, 320)).toBe(320);
    // A move going on takes the smaller of its own last size and the latest.
    expect(firstBatchSize(s, 4_000, 320)).toBe(320);
    expect(firstBatchSize(s, 400, 6_000)).toBe(400);
    // A fast database never lets a new move open bigger than 500: its first batch is how it learns.
    expect(firstBatchSize(s, undefined, 6_000)).toBe(500);
    expect(firstBatchSize(s, undefined, 12)).toBe(100);
    expect(firstBatchSize({ ...s, targetMs: 0 }, 400, 320)).toBe(10_000);
  });
});

describe('a target who leaves during the move (handOverLeavers)', () => {
  const ownerAt = (targets: readonly Quota[], p: number) => currentTarget(targets, p)?.userId;
  const isMoved = (spans: readonly StreamSpan[], prefix: number, p: number) => p < prefix || spans.some((s) => p >= s.from && p < s.from + s.moved);

  test('their unmoved share goes to the others by their share of the plan; what they received stays theirs', () => {
    // 100 leads at 50/30/20 in two streams [0,50) and [50,100); b left after stream 1 had moved 10 (b got 50..60).
    const targets = [
      { userId: 'a', quota: 50 },
      { userId: 'b', quota: 30 },
      { userId: 'c', quota: 20 },
    ];
    const spans = [
      { from: 0, to: 50, moved: 20 },
      { from: 50, to: 100, moved: 10 },
    ];
    const r = handOverLeavers(targets, spans, 0, (id) => id !== 'b', 'admin')!;
    expect(r.handovers).toEqual([{ leftUserId: 'b', remaining: 20, to: [{ userId: 'a', count: 14 }, { userId: 'c', count: 6 }] }]);
    expect(r.targets).toEqual([
      { userId: 'a', quota: 50 },
      { userId: 'b', quota: 10 },
      { userId: 'a', quota: 14 },
      { userId: 'c', quota: 26 },
    ]);
    // Once everything moved: b kept their 10, a and c took the rest.
    const all = [{ from: 0, to: 50, moved: 50 }, { from: 50, to: 100, moved: 50 }];
    expect(receivedByUser(r.targets, all)).toEqual([
      { userId: 'a', count: 64 },
      { userId: 'b', count: 10 },
      { userId: 'c', count: 26 },
    ]);
  });

  test('when no target is left, the fallback (the admin) takes it; nobody left and no fallback: nothing to do', () => {
    const targets = [{ userId: 'b', quota: 10 }];
    expect(handOverLeavers(targets, [{ from: 0, to: 10, moved: 4 }], 0, () => false, 'admin')).toEqual({
      targets: [
        { userId: 'b', quota: 4 },
        { userId: 'admin', quota: 6 },
      ],
      handovers: [{ leftUserId: 'b', remaining: 6, to: [{ userId: 'admin', count: 6 }] }],
    });
    expect(handOverLeavers(targets, [{ from: 0, to: 10, moved: 4 }], 0, () => false, null)).toBeNull();
    // A leaver who had received everything already: nothing to hand over.
    expect(handOverLeavers(targets, [{ from: 0, to: 10, moved: 10 }], 0, () => false, 'admin')).toBeNull();
  });

  test('property: same total, the past unchanged, every unmoved position to someone active, each leaver split exactly', () => {
    const users = ['a', 'b', 'c', 'd'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ userId: fc.constantFrom(...users), quota: fc.nat(40) }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(1000), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(1000), { minLength: 4, maxLength: 4 }),
        fc.nat(1000),
        fc.subarray(users),
        (targets, cutsRaw, movedRaw, prefixRaw, leavers) => {
          const total = targets.reduce((n, t) => n + t.quota, 0);
          const prefix = total === 0 ? 0 : prefixRaw % (total + 1);
          const cuts = [...new Set([prefix, ...cutsRaw.map((c) => prefix + (c % (total - prefix + 1))), total])].sort((x, y) => x - y);
          const spans = cuts.slice(0, -1).map((from, i) => ({ from, to: cuts[i + 1]!, moved: movedRaw[i % 4]! % (cuts[i + 1]! - from + 1) }));
          const active = (id: string) => !leavers.includes(id);
          const r = handOverLeavers(targets, spans, prefix, active, 'admin');
          if (!r) {
            for (let p = 0; p < total; p++) if (!isMoved(spans, prefix, p)) expect(active(ownerAt(targets, p)!)).toBe(true);
            return;
          }
          expect(r.targets.reduce((n, t) => n + t.quota, 0)).toBe(total);
          const gained = new Map<string, number>();
          for (let p = 0; p < total; p++) {
            const before = ownerAt(targets, p)!;
            const after = ownerAt(r.targets, p)!;
            if (isMoved(spans, prefix, p)) expect(after).toBe(before);
            else {
              expect(active(after) || after === 'admin').toBe(true);
              if (before !== after) gained.set(after, (gained.get(after) ?? 0) + 1);
            }
          }
          const handedTo = new Map<string, number>();
          for (const h of r.handovers) {
            expect(h.to.reduce((n, x) => n + x.count, 0)).toBe(h.remaining);
            for (const x of h.to) handedTo.set(x.userId, (handedTo.get(x.userId) ?? 0) + x.count);
          }
          expect(gained).toEqual(handedTo);
        },
      ),
    );
  });
});
