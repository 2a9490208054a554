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

export type DbErrorKind = 'permanent' | 'transient' | 'unknown';

export interface DbErrorClass {
  kind: DbErrorKind;
  /** The SQLSTATE when the database gave one. */
  sqlstate: string | null;
  /** What the database said, for the reason shown to the admin. */
  message: string;
}

const PERMANENT_CLASSES = new Set(['22', '23', '54']);
const TRANSIENT_CLASSES = new Set(['08', '53', '57', '58']);
const TRANSIENT_STATES = new Set(['40001', '40P01', '55P03', '55006']);

/** Prisma's driver-adapter error kinds that mean the connection or transaction, not the data. */
const TRANSIENT_KINDS = new Set([
  'DatabaseNotReachable',
  'DatabaseDoesNotExist',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TransactionWriteConflict',
  'TransactionAlreadyClosed',
  'AuthenticationFailed',
]);
const PERMANENT_KINDS = new Set([
  'UniqueConstraintViolation',
  'ForeignKeyConstraintViolation',
  'NullConstraintViolation',
  'InvalidInputValue',
  'ValueOutOfRange',
  'LengthMismatch',
]);
/** Prisma engine codes with no SQLSTATE behind them (pool timeout, closed transaction, lost server). */
const TRANSIENT_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028', 'P2034']);
/** Node's socket errors. */
const TRANSIENT_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ECONNABORTED']);

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The unique index on audit_events.idempotency_key (prisma/migrations/*_init). */
export const IDEMPOTENCY_CONSTRAINT = 'audit_events_idempotency_key_key';

interface Found {
  sqlstate: string | null;
  /** The violated constraint's name, when the database or the adapter named it. */
  constraint: string | null;
  kind: string | null;
  prismaCode: string | null;
  errno: string | null;
  message: string;
}

/** Reads the SQLSTATE (and Prisma's kind) out of a pg error, a Prisma error or their causes. */
function inspect(err: unknown): Found {
  const found: Found = { sqlstate: null, constraint: null, kind: null, prismaCode: null, errno: null, message: '' };
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const o = e as Record<string, unknown>;
    const code = typeof o.code === 'string' ? o.code : null;
    if (code && /^P\d{4}$/.test(code)) found.prismaCode ??= code;
    else if (code && SQLSTATE.test(code)) found.sqlstate ??= code;
    else if (code && /^E[A-Z]+$/.test(code)) found.errno ??= code;
    if (typeof o.constraint === 'string') found.constraint ??= o.constraint;
    const cause = ((o.meta as Record<string, unknown> | undefined)?.driverAdapterError as Record<string, unknown> | undefined)
      ?.cause as Record<string, unknown> | undefined;
    if (cause) {
      if (typeof cause.originalCode === 'string' && SQLSTATE.test(cause.originalCode)) found.sqlstate ??= cause.originalCode;
      if (typeof cause.kind === 'string') found.kind ??= cause.kind;
      const index = (cause.constraint as Record<string, unknown> | undefined)?.index;
      if (typeof index === 'string') found.constraint ??= index;
      const m = cause.originalMessage ?? cause.message;
      if (typeof m === 'string' && !found.message) found.message = m;
    }
    if (!found.message && typeof o.message === 'string' && !o.meta) found.message = o.message;
    e = o.cause;
  }
  if (!found.message && err instanceof Error) found.message = err.message.trim().split('\n').at(-1) ?? err.message;
  // Drivers that name the constraint only in the message (`... unique constraint "name"`).
  found.constraint ??= /unique constraint "([^"]+)"/.exec(found.message)?.[1] ?? null;
  return found;
}

export function classifyDbError(err: unknown): DbErrorClass {
  const f = inspect(err);
  const base = { sqlstate: f.sqlstate, message: f.message };
  const unique = f.sqlstate === '23505' || f.kind === 'UniqueConstraintViolation';
  if (unique && f.constraint === IDEMPOTENCY_CONSTRAINT) return { kind: 'transient', ...base };
  if (f.sqlstate) {
    const cls = f.sqlstate.slice(0, 2);
    if (TRANSIENT_STATES.has(f.sqlstate) || TRANSIENT_CLASSES.has(cls)) return { kind: 'transient', ...base };
    if (PERMANENT_CLASSES.has(cls)) return { kind: 'permanent', ...base };
  }
  if (f.kind && TRANSIENT_KINDS.has(f.kind)) return { kind: 'transient', ...base };
  if (f.kind && PERMANENT_KINDS.has(f.kind)) return { kind: 'permanent', ...base };
  if (f.prismaCode && TRANSIENT_PRISMA_CODES.has(f.prismaCode)) return { kind: 'transient', ...base };
  if (f.errno && TRANSIENT_ERRNO.has(f.errno)) return { kind: 'transient', ...base };
  return { kind: 'unknown', ...base };
}

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
