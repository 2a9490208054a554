// How many requests the worker made to the Temporal server, by operation (the
// SDK core's `temporal_request` and `temporal_long_request` counters, served
// beside the worker's own metrics): where a phase's orchestration went.

/** Requests so far by operation, from a Prometheus text exposition. */
export function requestsByOperation(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^temporal_(?:long_)?request(?:_total)?\{([^}]*)\}\s+([0-9.eE+]+)/.exec(line);
    if (!m) continue;
    const operation = /(?:^|,)\s*operation="([^"]*)"/.exec(m[1]!)?.[1];
    if (!operation) continue;
    counts[operation] = (counts[operation] ?? 0) + Number(m[2]);
  }
  return counts;
}

/** What was asked between two snapshots, most asked first (operations asked nothing left out). */
export function requestsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta = Object.entries(after)
    .map(([operation, n]) => [operation, Math.round(n - (before[operation] ?? 0))] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(delta);
}

/** A snapshot from the worker's endpoint; empty when there is none or it does not answer. */
export async function temporalRequests(url: string | null): Promise<Record<string, number>> {
  if (!url) return {};
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? requestsByOperation(await res.text()) : {};
  } catch {
    return {};
  }
}
