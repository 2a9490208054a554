// The lists' cursors as the API hands them out: signed, so that a cursor this
// server did not issue is 400 naming query.cursor (api.md), even one made by
// hand that names a real position.
//
// A cursor handed out is `<position>.<signature>`: the position as
// domain/pagination.ts writes it, and an HMAC-SHA256 (first 16 bytes,
// base64url) of the position, the list's route, the caller's workspace and the
// list's filters. So a cursor is good only for the list it came from. The key
// is one random row of signing_keys that every API server shares, so a cursor
// from one replica is followed on another, and across restarts.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PrismaClient } from '../generated/prisma/client';
import { badCursor } from '../domain/pagination';
import { authOf, queryNames } from './routes/common';

const PURPOSE = 'cursor';
const KEY_BYTES = 32;
const SIGNATURE_BYTES = 16;
const SIGNED = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/;

/**
 * The cursor key: made by the first server that needs it, read by the rest
 * (whichever insert wins, everyone reads the same row).
 */
export async function cursorKey(prisma: PrismaClient): Promise<Buffer> {
  await prisma.signingKey.createMany({ data: [{ purpose: PURPOSE, key: randomBytes(KEY_BYTES) }], skipDuplicates: true });
  const row = await prisma.signingKey.findUniqueOrThrow({ where: { purpose: PURPOSE }, select: { key: true } });
  return Buffer.from(row.key);
}

export interface CursorSigner {
  /** The cursor to hand out for `position`, good on the list `scope` names only. */
  sign(position: string, scope: string): string;
  /** The position inside a cursor handed out for `scope`; 400 naming query.cursor for any other. */
  open(cursor: string, scope: string): string;
}

export function cursorSigner(key: Buffer): CursorSigner {
  const signature = (position: string, scope: string) =>
    createHmac('sha256', key)
      .update(scope)
      .update('\n')
      .update(position)
      .digest()
      .subarray(0, SIGNATURE_BYTES)
      .toString('base64url');
  return {
    sign: (position, scope) => `${position}.${signature(position, scope)}`,
    open(cursor, scope) {
      const m = SIGNED.exec(cursor);
      if (!m) throw badCursor();
      // Compared as written: the last character's low bits, which decoding drops, must match too.
      const given = Buffer.from(m[2]!, 'latin1');
      const want = Buffer.from(signature(m[1]!, scope), 'latin1');
      if (given.length !== want.length || !timingSafeEqual(given, want)) throw badCursor();
      return m[1]!;
    },
  };
}

/** Whether the request's route is a list: its query schema has a `cursor`. */
function isList(request: FastifyRequest): boolean {
  return queryNames(request)?.has('cursor') ?? false;
}

/**
 * The list a cursor is for: the route, in the caller's workspace, with the
 * same filters (`?status=`, `?ownerId=`): a position in one list says nothing
 * of where another one is. `limit` may change from page to page.
 */
function scopeOf(request: FastifyRequest): string {
  const { cursor: _cursor, limit: _limit, ...filters } = (request.query ?? {}) as Record<string, unknown>;
  const filter = Object.keys(filters)
    .filter((k) => filters[k] !== undefined)
    .sort()
    .map((k) => `${k}=${JSON.stringify(filters[k])}`)
    .join('&');
  return `${request.routeOptions.url ?? ''} ${authOf(request).workspaceId} ${filter}`;
}

/**
 * Every list route in `scope`: a `cursor` in the query is checked and opened
 * before the handler (so 400 comes before a 404 the handler finds), and the
 * `nextCursor` of the page answered is signed. The key is read once, when a
 * list first needs it.
 */
export function signCursors(scope: FastifyInstance, prisma: PrismaClient): void {
  let signer: Promise<CursorSigner> | undefined;
  const loaded = () => {
    signer ??= cursorKey(prisma).then(cursorSigner, (err: unknown) => {
      signer = undefined; // the database was away: the next list tries again
      throw err;
    });
    return signer;
  };

  scope.addHook('preHandler', async (request) => {
    const query = request.query as { cursor?: unknown } | undefined;
    if (typeof query?.cursor !== 'string' || !isList(request)) return;
    query.cursor = (await loaded()).open(query.cursor, scopeOf(request));
  });

  scope.addHook('preSerialization', async (request, _reply, payload: unknown) => {
    if (!isList(request)) return payload;
    const page = payload as { nextCursor?: unknown } | null;
    if (typeof page?.nextCursor !== 'string') return payload;
    return { ...page, nextCursor: (await loaded()).sign(page.nextCursor, scopeOf(request)) };
  });
}
