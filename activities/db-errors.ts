// Which database failures are worth retrying. One classifier for every
// activity (applied once, in activities/index.ts):
// - permanent: the database refuses this very input and will refuse it again
//   (SQLSTATE class 22 data exception, 23 integrity constraint violation, 54
//   program limit): thrown as a non-retryable
//   ApplicationFailure of type `DatabaseRefused`, with the reason in words;
// - transient: the database is away or asks to try again (class 08
//   connection exception, 40001 serialization failure, 40P01 deadlock, 53
//   insufficient resources, 55P03 lock not available, 57 operator
//   intervention such as a restart or a statement timeout, the connection
//   refused, reset or timed out): thrown as is, so the activity's retry
//   policy runs it again with backoff until it goes through;
// - one unique violation is transient, not permanent: 23505 on
//   `audit_events_idempotency_key_key` (IDEMPOTENCY_CONSTRAINT). It means
//   another attempt of the same change committed first (activities/shared.ts
//   recordAudit), so this attempt rolled back and its retry finds that
//   change done (`alreadyDone`). Every other unique violation stays permanent;
// - a transaction that outlived its time limit is transient; only the
//   removal at CONFIRM, whose size nobody bounds, makes it a DatabaseRefused
//   from its OUTLIVED_TRIES-th try on (`outlivedForGood`: `attention`);
// - anything else (a bug, an unknown error) is left to the retry policy too,
//   as before. Class 42 (syntax, undefined table or column, privilege) is
//   among them on purpose: during a deploy a worker can run ahead of the
//   migration that adds what it needs, and then the same statement goes
//   through a moment later.
import { Context } from '@temporalio/activity';
import { TemporalFailure } from '@temporalio/common';
import { FAILURE_TYPES, refusalFailure } from '../domain/refusal';
import { classifyDbError, type DbErrorClass } from '../infra/db-errors';

export { classifyDbError, IDEMPOTENCY_CONSTRAINT, type DbErrorClass, type DbErrorKind } from '../infra/db-errors';

/** The reason an admin reads when the database refuses the work for good. */
export function refusalReason(c: DbErrorClass): string {
  const what = c.sqlstate?.startsWith('23')
    ? 'The database refused the change: it breaks one of its rules'
    : c.sqlstate?.startsWith('22')
      ? 'The database refused a value it cannot store'
      : 'The database refused the work';
  const detail = [c.message, c.sqlstate && `SQLSTATE ${c.sqlstate}`].filter(Boolean).join(', ');
  return detail ? `${what} (${detail}).` : `${what}.`;
}

/**
 * Prisma's words when an interactive transaction outlived its time limit
 * (infra/database.ts, TRANSACTION_LIMITS.timeout): a query or the commit came
 * after it. Once, the database may have been slow; try after try, the work is
 * more than one transaction can do in that time.
 */
const OUTLIVED = /expired transaction/;

/** The try of a background transaction from which outliving its limit is shown as `attention` instead of tried again. */
export const OUTLIVED_TRIES = 3;

function outlivedTransaction(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    if (OUTLIVED.test(e.message)) return true;
  }
  return false;
}

/**
 * For background work whose size nobody bounds (the removal at CONFIRM: what
 * reached the user after the steps): a transaction that outlived its limit
 * on its OUTLIVED_TRIES-th try or later is a DatabaseRefused, which the wizard
 * shows as `attention` (wizard.md: work that fails the same way every time
 * is not retried forever; `retry` tries it again); else the error unchanged.
 * Not for openings, steps or cancels: those keep their retries.
 */
export function outlivedForGood(err: unknown, attempt: number): unknown {
  if (attempt < OUTLIVED_TRIES || !outlivedTransaction(err)) return err;
  return refusalFailure(
    {
      kind: FAILURE_TYPES.DatabaseRefused,
      message:
        `The database did not finish this work within the time one transaction may take, on try ${attempt}: ` +
        'there is more of it than one transaction can do while the database is this busy. Try again when it is quieter.',
    },
    { cause: err instanceof Error ? err : undefined },
  );
}

/** A permanent refusal as the non-retryable failure the workflow recognises; anything else unchanged. */
export function asActivityFailure(err: unknown): unknown {
  if (err instanceof TemporalFailure) return err; // RuleViolation, CancelledFailure, ...: already decided
  const c = classifyDbError(err);
  if (c.kind !== 'permanent') return err;
  return refusalFailure(
    { kind: FAILURE_TYPES.DatabaseRefused, message: refusalReason(c) },
    { details: [{ sqlstate: c.sqlstate }], cause: err instanceof Error ? err : undefined },
  );
}

/** This activity's attempt (1 outside an activity). */
export function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/** Wraps every function of an activity object so that permanent refusals are not retried. */
export function classifyingDbErrors<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw asActivityFailure(err);
      }
    };
  }
  return out as T;
}
