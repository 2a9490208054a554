// Who inherits what a leaving user still holds, decided in one place for the
// final sweep, the removal, the labels step and a sweep target who leaves
// mid-sweep (step 1's move leaves the rest for the sweep instead). Pure: the activities fetch the candidates and ask.
import type { Actor, Distribution } from './schemas';

export interface HeirCandidates {
  /** In order of preference, e.g. the step-1 choice's members, then the acting admin. */
  preferred: readonly string[];
  /** Which users are ACTIVE (never the leaver). */
  active: ReadonlySet<string>;
  /** The workspace's active OWNERs, then ADMINs, each oldest first (never the leaver). */
  admins: readonly string[];
}

/** The step-1 choice's members, then the acting admin (a person: HR and SYSTEM inherit nothing). */
export function preferredHeirs(choice: Distribution | null, actor: Actor | undefined): string[] {
  return [...(choice ?? []).map((member) => member.userId), ...(actor?.type === 'USER' ? [actor.id] : [])];
}

/** The first preferred user who is active, else the first active owner or admin; null when nobody is left. */
export function heirOf(candidates: HeirCandidates): string | null {
  return candidates.preferred.find((id) => candidates.active.has(id)) ?? candidates.admins[0] ?? null;
}

/**
 * The final sweep's distribution: the step-1 choice's members still active,
 * with their weights; when none is, everything to the heir. Null when nobody
 * is left to take the leads.
 */
export function sweepDistribution(choice: Distribution | null, candidates: HeirCandidates): Distribution | null {
  const kept = (choice ?? []).filter((member) => candidates.active.has(member.userId)).map((member) => ({ ...member }));
  if (kept.length > 0) return kept;
  const heir = heirOf(candidates);
  return heir === null ? null : [{ userId: heir, weight: 100 }];
}
