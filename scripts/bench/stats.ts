// Percentiles of measured times, one definition for every figure the bench prints.

/**
 * The p-th percentile (0 < p <= 100) by the nearest-rank method: the smallest
 * value with at least p% of the values at or below it (p99 of 100 values is
 * the 99th smallest; p100 the largest). Null for no values.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside (0, 100]`);
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Rounded to `digits` decimals (figures in the JSON line). */
export function round(n: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** `a / b` to two decimals; null when b is 0 or missing. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round(a / b, 2);
}

/** `a` as a percentage of `b`, one decimal; null when b is 0. */
export function percentOf(a: number, b: number): number | null {
  return b === 0 ? null : round((a / b) * 100, 1);
}
