// Sharing things out by weight: leads over a distribution, and the suggested
// distribution once a user leaves it.
// Pure: no I/O, no clock, no randomness. Imported by the Temporal workflow
// sandbox and by the API alike.
import type { Distribution } from './schemas';

/** Every valid distribution's weights add up to this. */
export const WEIGHT_TOTAL = 100;

/**
 * Shares `total` out over `weights` by largest remainder (Hamilton).
 *
 * Each share is the floor or the ceiling of `total * w / sum(weights)` and the
 * shares add up to exactly `total`. The units left after the floors go to the
 * largest remainders; ties go to the larger weight, then to the earlier index,
 * so the result depends on the input alone. Integer arithmetic only: shares are
 * exact while `total * weight` stays a safe integer (1e9 leads at weight 100 is
 * far inside).
 *
 * A larger weight never gets a smaller share. A zero weight gets nothing.
 * Throws a RangeError on a negative or fractional input, or on weights with no
 * positive one while there is something to share.
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  if (!Number.isSafeInteger(total) || total < 0) {
    throw new RangeError(`apportion: total must be a whole number ≥ 0, got ${total}`);
  }
  let sum = 0;
  let maxWeight = 0;
  for (const w of weights) {
    if (!Number.isSafeInteger(w) || w < 0) {
      throw new RangeError(`apportion: weights must be whole numbers ≥ 0, got ${w}`);
    }
    sum += w;
    if (w > maxWeight) maxWeight = w;
  }
  if (total === 0) return weights.map(() => 0);
  if (sum === 0) {
    throw new RangeError(`apportion: cannot share ${total} over weights with no positive one`);
  }
  if (!Number.isSafeInteger(sum) || !Number.isSafeInteger(total * maxWeight)) {
    throw new RangeError(`apportion: total ${total} times weight ${maxWeight} is too large to share exactly`);
  }

  const shares: number[] = [];
  const remainders: number[] = [];
  let given = 0;
  for (const w of weights) {
    const product = total * w; // exact: checked above
    const remainder = product % sum;
    const share = (product - remainder) / sum; // exact division
    shares.push(share);
    remainders.push(remainder);
    given += share;
  }

  let left = total - given; // < weights.length: each floor lost less than one unit
  if (left > 0) {
    const order = weights.map((_, i) => i);
    order.sort((a, b) => remainders[b]! - remainders[a]! || weights[b]! - weights[a]! || a - b);
    for (const i of order) {
      if (left === 0) break;
      shares[i]! += 1;
      left -= 1;
    }
  }
  return shares;
}

/**
 * Shares `more` out over `weights` on top of what each member already has
 * (`already`), so that what each ends up with is its largest-remainder share
 * of the whole (`more` plus everything already given): the final sweep
 * completes step 1's split over the user's whole book instead of splitting
 * the late leads on their own (5 leads at 50/50 gave 3 and 2; with 3 more,
 * 1 and 2, for 4 and 4).
 *
 * Nobody gives anything back: a member who already has its share of the
 * whole or more (largest remainder can give one member a unit less as the
 * total grows; a leaver's share handed over mid-move gives more) gets 0, and
 * the others share out the rest the same way among themselves, until nobody
 * left has more than their share. Every share is ≥ 0 and they add up to
 * exactly `more`; at most one pass of `apportion` per member. Throws as
 * `apportion` does.
 */
export function topUp(more: number, weights: readonly number[], already: readonly number[]): number[] {
  if (!Number.isSafeInteger(more) || more < 0) throw new RangeError(`topUp: more must be a whole number ≥ 0, got ${more}`);
  if (already.length !== weights.length) throw new RangeError('topUp: one amount already given per weight');
  for (const a of already) {
    if (!Number.isSafeInteger(a) || a < 0) throw new RangeError(`topUp: amounts already given must be whole numbers ≥ 0, got ${a}`);
  }
  const shares = weights.map(() => 0);
  if (more === 0) return shares;
  let members = weights.map((_, i) => i);
  for (;;) {
    // Those still taking part share their own whole: `more` and what they already have.
    const whole = members.reduce((sum, i) => sum + already[i]!, more);
    const targets = apportion(whole, members.map((i) => weights[i]!));
    const past = members.filter((i, k) => targets[k]! < already[i]!);
    if (past.length === 0) {
      members.forEach((i, k) => (shares[i] = targets[k]! - already[i]!));
      return shares;
    }
    // Never all of them: their targets add up to more than what they already have.
    members = members.filter((i) => !past.includes(i));
  }
}

/**
 * The suggested distribution once `userId` leaves it: the others keep their
 * order and relative shares, rescaled to whole weights adding up to exactly 100
 * by `apportion(100, weights)`.
 *
 * Every remaining member keeps a positive weight. Rescaling a valid
 * distribution (weights adding up to 100) never rounds anyone down to 0, since
 * what remains adds up to less than 100; with malformed stored weights it can,
 * and then each member left at 0 gets 1 point taken from the member with the
 * largest share (ties: the one with the smaller weight, then the later one), so
 * that a member with a larger weight still never ends up with less.
 *
 * Members in `unavailable` (nobody may pick them now: being deleted,
 * suspended) leave with the user: their share goes to the others too.
 *
 * Returns null when the user was the only member, or every other member is
 * unavailable (there is nothing to suggest). When the user is not in it, returns a copy with the same members
 * and weights. Throws a RangeError when more than 100 members remain (they
 * cannot all have a positive whole weight).
 */
export function suggestWithout(
  distribution: Distribution,
  userId: string,
  /** Other members nobody may pick now (being deleted, suspended): left out of the suggestion too. */
  unavailable: ReadonlySet<string> = new Set(),
): Distribution | null {
  if (!distribution.some((m) => m.userId === userId)) return distribution.map((m) => ({ ...m }));
  const others = distribution.filter((m) => m.userId !== userId && !unavailable.has(m.userId));
  if (others.length === 0) return null;
  if (others.length > WEIGHT_TOTAL) {
    throw new RangeError(
      `suggestWithout: ${others.length} members cannot each keep a positive weight out of ${WEIGHT_TOTAL}`,
    );
  }
  const weights = others.map((m) => m.weight);
  const shares = apportion(WEIGHT_TOTAL, weights);
  giveEveryoneAPoint(shares, weights);
  return others.map((m, i) => ({ userId: m.userId, weight: shares[i]! }));
}

/** Lifts shares of 0 to 1 without breaking "larger weight, no smaller share". */
function giveEveryoneAPoint(shares: number[], weights: readonly number[]): void {
  // Zero shares, larger weights first: a member is lifted only once every
  // zero-share member with a larger weight already has been.
  const zeros = shares
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s === 0)
    .map(({ i }) => i)
    .sort((a, b) => weights[b]! - weights[a]! || a - b);
  for (const taker of zeros) {
    let donor = 0;
    for (let i = 1; i < shares.length; i++) {
      if (shares[i]! > shares[donor]! || (shares[i] === shares[donor] && weights[i]! <= weights[donor]!)) {
        donor = i;
      }
    }
    // Some share is ≥ 2 while one is 0, as at most 100 members share 100.
    shares[donor]! -= 1;
    shares[taker]! += 1;
  }
}

/**
 * Why a distribution cannot be used, in a sentence for the admin, or null when
 * it is valid: at least one member, each a non-empty user id named once with a
 * positive whole weight, the weights adding up to exactly 100.
 */
export function distributionProblem(distribution: Distribution): string | null {
  if (distribution.length === 0) return 'A distribution needs at least one member.';
  const seen = new Set<string>();
  let sum = 0;
  for (const { userId, weight } of distribution) {
    if (typeof userId !== 'string' || userId.length === 0) {
      return 'Every member of a distribution needs a user id.';
    }
    if (seen.has(userId)) {
      return `User ${userId} appears more than once in the distribution; name each user once.`;
    }
    seen.add(userId);
    if (!Number.isInteger(weight) || weight <= 0) {
      return `User ${userId} has weight ${weight}; each weight must be a positive whole number.`;
    }
    sum += weight;
  }
  if (sum !== WEIGHT_TOTAL) {
    return `Weights add up to ${sum}; they must add up to exactly ${WEIGHT_TOTAL}.`;
  }
  return null;
}

/** The same members with the same weights, in the same order. */
export function sameDistribution(a: Distribution, b: Distribution): boolean {
  return a.length === b.length && a.every((m, i) => m.userId === b[i]!.userId && m.weight === b[i]!.weight);
}

/** The distribution that gives everything to one user. */
export function distributionFromTarget(userId: string): Distribution {
  return [{ userId, weight: WEIGHT_TOTAL }];
}

/**
 * The members a lead source routes new leads to: members for whom
 * `isUnavailable` holds (PENDING_DELETION or SUSPENDED) are skipped while any
 * other member remains; their weight goes to the others in proportion, as
 * `apportion` only uses relative weights. When nobody else remains, the
 * original distribution (the leads reach the listed member all the same, and
 * the deletion wizard's final sweep moves them).
 */
export function eligibleDistribution(
  distribution: Distribution,
  isUnavailable: (userId: string) => boolean,
): Distribution {
  const available = distribution.filter((m) => !isUnavailable(m.userId));
  const chosen = available.length > 0 ? available : distribution;
  return chosen.map((m) => ({ ...m }));
}

/**
 * Shares `total` items (leads) out over a distribution by largest remainder.
 * One entry per member in the distribution's order, including members whose
 * count is 0 (possible when `total` is smaller than the number of members).
 */
export function splitCounts(total: number, distribution: Distribution): { userId: string; count: number }[] {
  const counts = apportion(
    total,
    distribution.map((m) => m.weight),
  );
  return distribution.map((m, i) => ({ userId: m.userId, count: counts[i]! }));
}
