// Reads what batch-probe.cjs recorded: each lead-move batch's server-side time.
import fs from 'node:fs';

export interface BatchTime {
  at: number;
  ms: number;
  /** Leads the batch moved, when recorded. */
  leads?: number;
}

/** Parses "<epoch ms> <lock_ms> [<leads>]" lines; ignores a torn last line. */
export function parseBatchTimes(text: string): BatchTime[] {
  const out: BatchTime[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?: (\d+))?$/.exec(line.trim());
    if (m) out.push({ at: Number(m[1]), ms: Number(m[2]), ...(m[3] !== undefined ? { leads: Number(m[3]) } : {}) });
  }
  return out;
}

/** The batches recorded at or after `sinceMs` (epoch ms), each with when it ended. */
export function batchesSince(file: string, sinceMs: number): BatchTime[] {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  return parseBatchTimes(text).filter((b) => b.at >= sinceMs);
}

/** The batches recorded at or after `sinceMs` (epoch ms), as whole ms (rounded up, as maxBatchMs is). */
export function batchTimesSince(file: string, sinceMs: number): number[] {
  return batchesSince(file, sinceMs).map((b) => Math.ceil(b.ms));
}
