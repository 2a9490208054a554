// Named refusals, each mapped once to an HTTP status by the API
// (api/problems.ts); domain/refusal.ts carries them across Temporal.
// Messages are written for the admin who reads them.
import type { StartBlockerCode } from './start-blockers';

/** A field or body the client sent is malformed (HTTP 400). */
export class BadInput extends Error {
  override name = 'BadInput' as const;
  constructor(
    message: string,
    readonly errors: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** An id in the path or query string does not exist in this workspace (HTTP 404). */
export class NotFound extends Error {
  override name = 'NotFound' as const;
}

/** The one wording of a 404: an id named in the path or the query string that this workspace does not hold. */
export function notInWorkspace(what: 'User' | 'Deletion' | 'Integration', id: string): NotFound {
  return new NotFound(`${what} ${id} does not exist in this workspace.`);
}

/**
 * Why a conflict is one that ends by itself, for callers that wait it out:
 * CANCELLING, a cancel of the wizard is being applied (or waits to be).
 */
export const CONFLICT_CODES = ['CANCELLING'] as const;
export type ConflictCode = (typeof CONFLICT_CODES)[number];

/** The request does not fit the current state, e.g. a step posted at another step (HTTP 409). */
export class StepConflict extends Error {
  override name = 'StepConflict' as const;
  constructor(
    message: string,
    readonly code?: ConflictCode,
  ) {
    super(message);
  }
}

/** A business rule says no (HTTP 422); `code` names a start's refusal that callers act on (TOO_BIG). */
export class RuleViolation extends Error {
  override name = 'RuleViolation' as const;
  constructor(
    message: string,
    readonly code?: StartBlockerCode,
  ) {
    super(message);
  }
}

/**
 * Something this request waits on did not answer in time, e.g. a wizard whose
 * worker is away (HTTP 503 with Retry-After). What was asked may still apply
 * later: a read shows whether it did.
 */
export class Unavailable extends Error {
  override name = 'Unavailable' as const;
  constructor(
    message: string,
    /** Seconds a client should wait before asking again. */
    readonly retryAfterSeconds = 5,
  ) {
    super(message);
  }
}
