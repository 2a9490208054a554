// What a database failure is: refused for good (this very input), or
// transient (the database away, or asking to try again), or unknown. Pure:
// the activities decide retries by it (activities/db-errors.ts), the API its
// answer (503 while the database is away, api/problems.ts).
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
