import fc from 'fast-check';
import { splitCounts } from './distribution';
import { currentTarget, receivedByTarget, type Quota } from './lead-plan';

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
