// Keyset pagination: the cursor is the position of the last item handed out
// (base64url JSON). A cursor that does not decode, or whose content is not what
// this server writes (an id with a NUL, a time in year 0), is the client's
// mistake (400 naming query.cursor), never a 500: its content is checked with
// the primitives of schemas.ts before it reaches a query. The API signs what
// it hands out, and refuses any cursor it did not sign (api/cursors.ts): these
// checks are what stands behind that signature.
// Pure; the directory routes and the wizard client's lists share it.
import { z } from 'zod';
import { BadInput } from './errors';
import { Id, TIMESTAMP_YEARS } from './schemas';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Position in time order: (a timestamp, id). */
export interface TimeKey {
  at: Date;
  id: string;
}

/** Position in creation order: (createdAt, id). */
export interface CreatedKey {
  createdAt: Date;
  id: string;
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decode(cursor: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw badCursor();
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
}

/** 400 naming query.cursor: a cursor this server did not hand out. */
export function badCursor(): BadInput {
  return new BadInput('The cursor is not one this server handed out; start again without it.', [
    { path: 'query.cursor', message: 'is not a valid cursor' },
  ]);
}

/**
 * What a time cursor holds: exactly what `toISOString` writes (UTC, with
 * milliseconds) for a time in the years 1970–9999, and an id.
 */
const TimeCursor = z.object({
  c: z.iso.datetime({ precision: 3 }).regex(TIMESTAMP_YEARS),
  i: Id,
});

export function encodeTimeCursor(key: TimeKey): string {
  return encode({ c: key.at.toISOString(), i: key.id });
}

export function decodeTimeCursor(cursor: string | undefined): TimeKey | undefined {
  if (cursor === undefined) return undefined;
  const v = TimeCursor.safeParse(decode(cursor));
  if (!v.success) throw badCursor();
  return { at: new Date(v.data.c), id: v.data.i };
}

export function encodeCreatedCursor(key: CreatedKey): string {
  return encodeTimeCursor({ at: key.createdAt, id: key.id });
}

export function decodeCreatedCursor(cursor: string | undefined): CreatedKey | undefined {
  const key = decodeTimeCursor(cursor);
  return key && { createdAt: key.at, id: key.id };
}

export function encodeBigIdCursor(id: bigint): string {
  return encode({ n: id.toString() });
}

export function decodeBigIdCursor(cursor: string | undefined): bigint | undefined {
  if (cursor === undefined) return undefined;
  const v = decode(cursor) as { n?: unknown } | null;
  if (!v || typeof v !== 'object' || typeof v.n !== 'string' || !/^\d{1,19}$/.test(v.n)) throw badCursor();
  const n = BigInt(v.n);
  if (n > 9223372036854775807n) throw badCursor();
  return n;
}

/** Prisma `where` for "after this (createdAt, id)" in ascending order. */
export function afterCreated(key: CreatedKey | undefined) {
  if (!key) return {};
  return {
    OR: [{ createdAt: { gt: key.createdAt } }, { createdAt: key.createdAt, id: { gt: key.id } }],
  };
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only says that
 * there is more.
 */
export function pageOf<R, T>(rows: R[], limit: number, toItem: (r: R) => T, cursorOf: (r: R) => string): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(toItem), nextCursor: more && last !== undefined ? cursorOf(last) : null };
}
