// A refusal has one shape (`RuleProblem`, or the database's refusal for good)
// and crosses Temporal only through this module: into a non-retryable
// ApplicationFailure, and back out of it (an activity's, a validator's or an
// update's failure) into the shape or the named error the API maps.
// Importable from the workflow sandbox: no I/O here.
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { CONFLICT_CODES, RuleViolation, StepConflict } from './errors';
import type { RuleProblem } from './rules';
import { START_BLOCKER_CODES } from './start-blockers';

/** ApplicationFailure `type`s of refusals. */
export const FAILURE_TYPES = {
  StepConflict: 'StepConflict',
  RuleViolation: 'RuleViolation',
  /** An activity's work was refused by the database for good (bad data, a broken constraint): not retried. */
  DatabaseRefused: 'DatabaseRefused',
} as const;

/** A rule's refusal, or the database's refusal for good of an activity's work. */
export type Refusal = RuleProblem | { kind: typeof FAILURE_TYPES.DatabaseRefused; message: string };

/**
 * The refusal as the failure Temporal carries: never retried. A refusal's `code` travels as its details.
 * A rule's refusal is an answer (a 409 or 422), not a fault: `BENIGN`, so the SDK logs an activity that
 * refuses at DEBUG, not as a WARN with its stack, and leaves it out of its failure metrics. The database's
 * refusal for good stays a failure: it leaves the wizard needing attention.
 */
export function refusalFailure(refusal: Refusal, extra: { details?: unknown[]; cause?: Error } = {}): ApplicationFailure {
  const code = 'code' in refusal ? refusal.code : undefined;
  return ApplicationFailure.create({
    type: refusal.kind,
    message: refusal.message,
    nonRetryable: true,
    ...(refusal.kind === FAILURE_TYPES.DatabaseRefused ? {} : { category: ApplicationFailureCategory.BENIGN }),
    ...(code !== undefined ? { details: [{ code }] } : {}),
    ...extra,
  });
}

/** The code a failure's details carry (`refusalFailure`), if it is one its kind knows. */
function codeOf<C extends string>(failure: ApplicationFailure, known: readonly C[]): C | undefined {
  const code = (failure.details?.[0] as { code?: unknown } | null | undefined)?.code;
  return known.find((k) => k === code);
}

/**
 * The refusal a failure carries, itself or as the cause of the failure that
 * wraps it (an activity's, an update's); null for any other failure.
 */
export function refusalOf(err: unknown): Refusal | null {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const failure = err instanceof ApplicationFailure ? err : cause instanceof ApplicationFailure ? cause : null;
  if (!failure) return null;
  const kind = Object.values(FAILURE_TYPES).find((type) => type === failure.type);
  if (!kind) return null;
  if (kind === FAILURE_TYPES.RuleViolation) {
    const code = codeOf(failure, START_BLOCKER_CODES);
    return code !== undefined ? { kind, message: failure.message, code } : { kind, message: failure.message };
  }
  if (kind === FAILURE_TYPES.StepConflict) {
    const code = codeOf(failure, CONFLICT_CODES);
    return code !== undefined ? { kind, message: failure.message, code } : { kind, message: failure.message };
  }
  return { kind, message: failure.message };
}

/** A refusal as the named error the API maps to its status (409 / 422); null for the database's. */
export function refusalAsError(refusal: RuleProblem): StepConflict | RuleViolation;
export function refusalAsError(refusal: Refusal): StepConflict | RuleViolation | null;
export function refusalAsError(refusal: Refusal): StepConflict | RuleViolation | null {
  if (refusal.kind === FAILURE_TYPES.StepConflict) return new StepConflict(refusal.message, refusal.code);
  if (refusal.kind === FAILURE_TYPES.RuleViolation) return new RuleViolation(refusal.message, refusal.code);
  return null;
}

/** An update's refusal as the named error the API maps to its status; null when `err` is no such refusal. */
export function refusalError(err: unknown): StepConflict | RuleViolation | null {
  const refusal = refusalOf(err);
  return refusal ? refusalAsError(refusal) : null;
}
