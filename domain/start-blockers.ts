// Why starting a deletion would be refused now, each with a stable code
// (rules.ts `startDeletionBlockers`). Apart from schemas.ts (zod) so that the
// workflow sandbox, which reads a refusal's code back (refusal.ts), needs no zod.
export const START_BLOCKER_CODES = ['SELF', 'ROLE', 'LAST_OWNER', 'TOO_BIG'] as const;
export type StartBlockerCode = (typeof START_BLOCKER_CODES)[number];
