import fc from 'fast-check';
import {
  apportion,
  distributionFromTarget,
  distributionProblem,
  eligibleDistribution,
  splitCounts,
  sameDistribution,
  suggestWithout,
  topUp,
} from './distribution';
import type { Distribution } from './schemas';

// ---- Generators ----------------------------------------------------------------

/** A valid distribution: 1..100 distinct users, positive whole weights adding up to 100. */
const validDistribution: fc.Arbitrary<Distribution> = fc
  .uniqueArray(fc.integer({ min: 1, max: 99 }), { maxLength: 99 })
  .chain((cuts) => {
    const points = [0, ...[...cuts].sort((a, b) => a - b), 100];
    const weights = points.slice(1).map((p, i) => p - points[i]!);
    return fc.nat().map((seed) => weights.map((weight, i) => ({ userId: `u${(seed + i * 7) % 1000}`, weight })));
  });

/** Distinct users with arbitrary positive weights (as stored data might be, not necessarily adding up to 100). */
const looseDistribution: fc.Arbitrary<Distribution> = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 100 }), fc.nat())
  .map(([weights, seed]) => weights.map((weight, i) => ({ userId: `u${(seed + i * 7) % 1000}`, weight })));

const weightsWithAPositive = fc
  .array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 100 })
  .filter((ws) => ws.some((w) => w > 0));

const total = fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 1_000_000_000 }));

/** Largest remainder computed independently, in BigInt. */
function referenceApportion(t: number, weights: number[]): number[] {
  const sum = BigInt(weights.reduce((a, b) => a + b, 0));
  const rows = weights.map((w, i) => {
    const product = BigInt(t) * BigInt(w);
    return { i, w, floor: product / sum, remainder: product % sum };
  });
  let left = BigInt(t) - rows.reduce((a, r) => a + r.floor, 0n);
  const byPriority = [...rows].sort((a, b) =>
    a.remainder !== b.remainder ? (a.remainder > b.remainder ? -1 : 1) : b.w - a.w || a.i - b.i,
  );
  const extra = new Set<number>();
  for (const r of byPriority) {
    if (left === 0n) break;
    extra.add(r.i);
    left -= 1n;
  }
  return rows.map((r) => Number(r.floor) + (extra.has(r.i) ? 1 : 0));
}

// ---- apportion -------------------------------------------------------------------

describe('apportion', () => {
  it('shares out exactly the total', () => {
    fc.assert(
      fc.property(total, weightsWithAPositive, (t, ws) => {
        expect(apportion(t, ws).reduce((a, b) => a + b, 0)).toBe(t);
      }),
    );
  });

  it('gives each weight the floor or the ceiling of its exact share', () => {
    fc.assert(
      fc.property(total, weightsWithAPositive, (t, ws) => {
        const sum = BigInt(ws.reduce((a, b) => a + b, 0));
        apportion(t, ws).forEach((share, i) => {
          const product = BigInt(t) * BigInt(ws[i]!);
          const floor = product / sum;
          const ceil = product % sum === 0n ? floor : floor + 1n;
          expect([floor, ceil]).toContainEqual(BigInt(share));
        });
      }),
    );
  });

  it('never gives a larger weight a smaller share', () => {
    fc.assert(
      fc.property(total, weightsWithAPositive, (t, ws) => {
        const shares = apportion(t, ws);
        ws.forEach((wi, i) =>
          ws.forEach((wj, j) => {
            if (wi > wj) expect(shares[i]!).toBeGreaterThanOrEqual(shares[j]!);
          }),
        );
      }),
    );
  });

  it('matches an independent largest-remainder computation, tie rules included', () => {
    fc.assert(
      fc.property(total, weightsWithAPositive, (t, ws) => {
        expect(apportion(t, ws)).toEqual(referenceApportion(t, ws));
      }),
    );
  });

  it('gives 15,000 each for 30,000 at 50/50', () => {
    expect(apportion(30_000, [50, 50])).toEqual([15_000, 15_000]);
  });

  it('breaks equal remainders for the larger weight, then the earlier index', () => {
    // 2 over [1, 3]: exact 0.5 and 1.5, equal remainders; the larger weight wins.
    expect(apportion(2, [1, 3])).toEqual([0, 2]);
    expect(apportion(2, [3, 1])).toEqual([2, 0]);
    // Equal weights: the earlier index wins.
    expect(apportion(1, [50, 50])).toEqual([1, 0]);
    expect(apportion(2, [1, 1, 1])).toEqual([1, 1, 0]);
  });

  it('is exact for a billion leads', () => {
    expect(apportion(1_000_000_000, [33, 33, 34])).toEqual([330_000_000, 330_000_000, 340_000_000]);
    expect(apportion(999_999_999, [1, 99])).toEqual([10_000_000, 989_999_999]);
  });

  it('gives a zero weight nothing and zero to everyone when there is nothing to share', () => {
    expect(apportion(10, [0, 1])).toEqual([0, 10]);
    expect(apportion(0, [])).toEqual([]);
    expect(apportion(0, [0, 0])).toEqual([0, 0]);
  });

  it('refuses inputs it cannot share exactly', () => {
    expect(() => apportion(-1, [1])).toThrow(RangeError);
    expect(() => apportion(1.5, [1])).toThrow(RangeError);
    expect(() => apportion(1, [-1, 2])).toThrow(RangeError);
    expect(() => apportion(1, [0.5])).toThrow(RangeError);
    expect(() => apportion(1, [])).toThrow(RangeError);
    expect(() => apportion(1, [0, 0])).toThrow(RangeError);
    expect(() => apportion(Number.MAX_SAFE_INTEGER, [3, 4])).toThrow(RangeError);
  });
});

// ---- suggestWithout -------------------------------------------------------------------

/** A distribution and one of its members (or a user outside it). */
const withMember = (d: fc.Arbitrary<Distribution>) =>
  d.chain((dist) => fc.nat({ max: dist.length - 1 }).map((i) => ({ dist, userId: dist[i]!.userId })));

describe('suggestWithout', () => {
  const cases = fc.oneof(withMember(validDistribution), withMember(looseDistribution));

  it('returns null exactly when the user was the only member', () => {
    fc.assert(
      fc.property(cases, ({ dist, userId }) => {
        expect(suggestWithout(dist, userId) === null).toBe(dist.length === 1);
      }),
    );
  });

  it('adds up to exactly 100, without the user, the others in order, every weight positive', () => {
    fc.assert(
      fc.property(cases, ({ dist, userId }) => {
        const suggested = suggestWithout(dist, userId);
        fc.pre(suggested !== null);
        expect(suggested!.reduce((a, m) => a + m.weight, 0)).toBe(100);
        expect(suggested!.map((m) => m.userId)).toEqual(dist.filter((m) => m.userId !== userId).map((m) => m.userId));
        for (const m of suggested!) {
          expect(Number.isInteger(m.weight)).toBe(true);
          expect(m.weight).toBeGreaterThan(0);
        }
        expect(distributionProblem(suggested!)).toBeNull();
      }),
    );
  });

  it('keeps the order of size: a larger weight before never gets a smaller one after', () => {
    fc.assert(
      fc.property(cases, ({ dist, userId }) => {
        const suggested = suggestWithout(dist, userId);
        fc.pre(suggested !== null);
        const before = new Map(dist.map((m) => [m.userId, m.weight]));
        for (const a of suggested!) {
          for (const b of suggested!) {
            if (before.get(a.userId)! > before.get(b.userId)!) expect(a.weight).toBeGreaterThanOrEqual(b.weight);
          }
        }
      }),
    );
  });

  it('keeps the relative shares of a valid distribution (largest remainder over what remains)', () => {
    fc.assert(
      fc.property(withMember(validDistribution), ({ dist, userId }) => {
        const suggested = suggestWithout(dist, userId);
        fc.pre(suggested !== null);
        const others = dist.filter((m) => m.userId !== userId);
        expect(suggested!.map((m) => m.weight)).toEqual(referenceApportion(100, others.map((m) => m.weight)));
      }),
    );
  });

  it('returns the same members and weights when the user is not in it', () => {
    fc.assert(
      fc.property(fc.oneof(validDistribution, looseDistribution), (dist) => {
        const outsider = 'not-a-member-' + dist.map((m) => m.userId).join('');
        const suggested = suggestWithout(dist, outsider);
        expect(suggested).toEqual(dist);
        expect(suggested).not.toBe(dist);
      }),
    );
  });

  it('leaves out members nobody may pick now, as it does the user; null when nobody else is left', () => {
    const dist = [
      { userId: 'p', weight: 40 },
      { userId: 'q', weight: 30 },
      { userId: 'r', weight: 30 },
    ];
    expect(suggestWithout(dist, 'p', new Set(['q']))).toEqual([{ userId: 'r', weight: 100 }]);
    expect(suggestWithout(dist, 'p', new Set(['q', 'r']))).toBeNull();
    // Not naming the user: nothing to suggest away, whoever else is in it.
    expect(suggestWithout(dist, 'x', new Set(['q']))).toEqual(dist);
  });

  it('tells the same distribution from another (members, weights and order)', () => {
    const dist = [
      { userId: 'a', weight: 60 },
      { userId: 'b', weight: 40 },
    ];
    expect(sameDistribution(dist, dist.map((m) => ({ ...m })))).toBe(true);
    expect(sameDistribution(dist, [...dist].reverse())).toBe(false);
    expect(sameDistribution(dist, [{ userId: 'a', weight: 100 }])).toBe(false);
    expect(sameDistribution(dist, [{ userId: 'a', weight: 60 }, { userId: 'b', weight: 41 }])).toBe(false);
  });

  it('rescales the others', () => {
    expect(suggestWithout([{ userId: 'a', weight: 100 }], 'a')).toBeNull();
    expect(
      suggestWithout(
        [
          { userId: 'a', weight: 50 },
          { userId: 'b', weight: 25 },
          { userId: 'c', weight: 25 },
        ],
        'a',
      ),
    ).toEqual([
      { userId: 'b', weight: 50 },
      { userId: 'c', weight: 50 },
    ]);
    // 1/3 each: the remainder point goes to the earlier member.
    expect(
      suggestWithout(
        [
          { userId: 'x', weight: 1 },
          { userId: 'a', weight: 33 },
          { userId: 'b', weight: 33 },
          { userId: 'c', weight: 33 },
        ],
        'x',
      ),
    ).toEqual([
      { userId: 'a', weight: 34 },
      { userId: 'b', weight: 33 },
      { userId: 'c', weight: 33 },
    ]);
  });

  it('lifts members rounded down to 0 to 1, taking from the largest share', () => {
    // Stored weights that do not add up to 100: 1/200 of 100 rounds to 0.
    const dist = [
      { userId: 'gone', weight: 1 },
      { userId: 'big', weight: 100 },
      { userId: 'mid', weight: 99 },
      { userId: 'tiny', weight: 1 },
    ];
    // apportion(100, [100, 99, 1]) = [50, 50, 0]: 'tiny' takes a point from the
    // largest share with the smaller weight ('mid'), so 'big' keeps ≥ 'mid'.
    expect(apportion(100, [100, 99, 1])).toEqual([50, 50, 0]);
    expect(suggestWithout(dist, 'gone')).toEqual([
      { userId: 'big', weight: 50 },
      { userId: 'mid', weight: 49 },
      { userId: 'tiny', weight: 1 },
    ]);
  });

  it('refuses when more than 100 members would remain', () => {
    const dist = Array.from({ length: 102 }, (_, i) => ({ userId: `u${i}`, weight: 1 }));
    expect(() => suggestWithout(dist, 'u0')).toThrow(RangeError);
  });
});

// ---- distributionProblem -------------------------------------------------------------

/** Independent statement of validity. */
function isValid(dist: Distribution): boolean {
  const ids = dist.map((m) => m.userId);
  return (
    dist.length > 0 &&
    ids.every((id) => id.length > 0) &&
    new Set(ids).size === ids.length &&
    dist.every((m) => Number.isInteger(m.weight) && m.weight > 0) &&
    dist.reduce((a, m) => a + m.weight, 0) === 100
  );
}

describe('distributionProblem', () => {
  it('accepts every valid distribution', () => {
    fc.assert(
      fc.property(validDistribution, (dist) => {
        expect(distributionProblem(dist)).toBeNull();
      }),
    );
  });

  it('accepts exactly the valid ones', () => {
    const anyMember = fc.record({
      userId: fc.constantFrom('', 'a', 'b', 'c', 'd', 'e'),
      weight: fc.oneof(
        fc.integer({ min: -5, max: 110 }),
        fc.constantFrom(0.5, 33.3, Number.NaN, 25, 50, 100),
      ),
    });
    const nearlyValid = validDistribution.chain((dist) =>
      fc.tuple(fc.nat({ max: dist.length - 1 }), fc.integer({ min: -3, max: 3 }), fc.boolean()).map(([i, delta, dup]) => {
        const copy = dist.map((m) => ({ ...m }));
        copy[i]!.weight += delta;
        if (dup && copy.length > 1) copy[copy.length - 1]!.userId = copy[0]!.userId;
        return copy;
      }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.array(anyMember, { maxLength: 6 }), nearlyValid), (dist) => {
        const problem = distributionProblem(dist);
        expect(problem === null).toBe(isValid(dist));
        if (problem !== null) expect(problem.length).toBeGreaterThan(0);
      }),
    );
  });

  it('says why, for each refusal', () => {
    expect(distributionProblem([])).toBe('A distribution needs at least one member.');
    expect(
      distributionProblem([
        { userId: 'a', weight: 60 },
        { userId: 'b', weight: 30 },
      ]),
    ).toBe('Weights add up to 90; they must add up to exactly 100.');
    expect(distributionProblem([{ userId: 'a', weight: 101 }])).toBe(
      'Weights add up to 101; they must add up to exactly 100.',
    );
    expect(
      distributionProblem([
        { userId: 'a', weight: 50 },
        { userId: 'a', weight: 50 },
      ]),
    ).toBe('User a appears more than once in the distribution; name each user once.');
    expect(
      distributionProblem([
        { userId: 'a', weight: 100 },
        { userId: 'b', weight: 0 },
      ]),
    ).toBe('User b has weight 0; each weight must be a positive whole number.');
    expect(
      distributionProblem([
        { userId: 'a', weight: 49.5 },
        { userId: 'b', weight: 50.5 },
      ]),
    ).toBe('User a has weight 49.5; each weight must be a positive whole number.');
    expect(distributionProblem([{ userId: '', weight: 100 }])).toBe('Every member of a distribution needs a user id.');
  });
});

// ---- the rest --------------------------------------------------------------------------

describe('distributionFromTarget', () => {
  it('gives everything to one user', () => {
    expect(distributionFromTarget('u1')).toEqual([{ userId: 'u1', weight: 100 }]);
    expect(distributionProblem(distributionFromTarget('u1'))).toBeNull();
  });
});

describe('eligibleDistribution', () => {
  const withUnavailable = fc
    .oneof(validDistribution, looseDistribution)
    .chain((dist) =>
      fc
        .subarray(dist.map((m) => m.userId))
        .map((unavailable) => ({ dist, unavailable: new Set(unavailable) })),
    );

  it('skips unavailable members while another remains, else keeps the original', () => {
    fc.assert(
      fc.property(withUnavailable, ({ dist, unavailable }) => {
        const eligible = eligibleDistribution(dist, (id) => unavailable.has(id));
        const available = dist.filter((m) => !unavailable.has(m.userId));
        expect(eligible).toEqual(available.length > 0 ? available : dist);
        expect(eligible.length).toBeGreaterThan(0);
      }),
    );
  });

  it('routes to the listed member when nobody else remains', () => {
    const dist = [
      { userId: 'a', weight: 70 },
      { userId: 'b', weight: 30 },
    ];
    expect(eligibleDistribution(dist, (id) => id === 'a')).toEqual([{ userId: 'b', weight: 30 }]);
    expect(eligibleDistribution(dist, () => true)).toEqual(dist);
    expect(splitCounts(7, eligibleDistribution(dist, (id) => id === 'a'))).toEqual([{ userId: 'b', count: 7 }]);
  });
});

describe('splitCounts', () => {
  it('shares a total over the members in order, adding up to the total', () => {
    fc.assert(
      fc.property(total, fc.oneof(validDistribution, looseDistribution), (t, dist) => {
        const counts = splitCounts(t, dist);
        expect(counts.map((c) => c.userId)).toEqual(dist.map((m) => m.userId));
        expect(counts.reduce((a, c) => a + c.count, 0)).toBe(t);
        expect(counts.map((c) => c.count)).toEqual(referenceApportion(t, dist.map((m) => m.weight)));
      }),
    );
  });

  it('gives 15,000 each for 30,000 leads at 50/50', () => {
    expect(
      splitCounts(30_000, [
        { userId: 'a', weight: 50 },
        { userId: 'b', weight: 50 },
      ]),
    ).toEqual([
      { userId: 'a', count: 15_000 },
      { userId: 'b', count: 15_000 },
    ]);
  });
});

describe('topUp', () => {
  it('completes a split over the whole: 5 at 50/50 gave 3 and 2, 3 more go 1 and 2', () => {
    expect(topUp(3, [50, 50], [3, 2])).toEqual([1, 2]);
    expect(topUp(5, [33, 33, 34], [2, 2, 3])).toEqual([2, 2, 1]);
    // Nothing given before: plain largest remainder.
    expect(topUp(7, [33, 33, 34], [0, 0, 0])).toEqual(apportion(7, [33, 33, 34]));
  });

  it('gives nothing back: a member past its share of the whole gets 0, the others share the rest', () => {
    // A handover gave the first member far more than its half.
    expect(topUp(4, [50, 50], [10, 0])).toEqual([0, 4]);
    // Of 2 more, the whole of 12 would be 6 and 6: the first keeps its 10, the second takes both.
    expect(topUp(2, [50, 50], [10, 0])).toEqual([0, 2]);
    expect(() => topUp(-1, [50, 50], [3, 2])).toThrow(RangeError);
    expect(() => topUp(1, [50, 50], [3])).toThrow(RangeError);
  });

  it('adds up to exactly `more`, never below 0, and is largest remainder of the whole whenever that gives nobody less than they have', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        validDistribution,
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 100, maxLength: 100 }),
        (more, dist, pool) => {
          const weights = dist.map((m) => m.weight);
          const already = weights.map((_, i) => pool[i]!);
          const shares = topUp(more, weights, already);
          expect(shares.reduce((a, b) => a + b, 0)).toBe(more);
          for (const s of shares) expect(s).toBeGreaterThanOrEqual(0);
          const whole = referenceApportion(more + already.reduce((a, b) => a + b, 0), weights);
          if (whole.every((w, i) => w >= already[i]!)) expect(shares).toEqual(whole.map((w, i) => w - already[i]!));
        },
      ),
    );
  });

  it('after a step-1 split, what each ends up with is the floor or the ceiling of its exact share of the whole', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), validDistribution, (first, more, dist) => {
        const weights = dist.map((m) => m.weight);
        const already = apportion(first, weights);
        const ends = topUp(more, weights, already).map((s, i) => s + already[i]!);
        const whole = first + more;
        ends.forEach((n, i) => {
          const exact = (whole * weights[i]!) / 100;
          expect(n).toBeGreaterThanOrEqual(Math.floor(exact));
          expect(n).toBeLessThanOrEqual(Math.ceil(exact));
        });
      }),
    );
  });
});
