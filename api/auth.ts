// Bearer tokens: stored as sha256 hashes, found by hash, compared in constant
// time. A token acts as one user of one workspace, and only while that user is
// ACTIVE: a user being deleted (PENDING_DELETION), SUSPENDED or removed is 401.
import { timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';
import { mayActOnRole } from '../domain/rules';
import type { Role } from '../domain/schemas';
import type { TokenRow } from '../client/types';
import { hashToken } from '../infra/tokens';
import { HttpProblem } from './problems';

export interface AuthContext {
  workspaceId: string;
  userId: string;
  role: Role;
}

/** Longest token we bother hashing; anything longer cannot be ours. */
const MAX_TOKEN_LENGTH = 512;

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, detail, { 'www-authenticate': 'Bearer realm="crm-offboarding"' });
}

/** The token in an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | string[] | undefined): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  const token = match?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH) return null;
  return token;
}

/**
 * The request's Authorization header as sent. Several are no one credential
 * (Node keeps the first, silently): they come back as a list, which no check
 * accepts (401).
 */
export function authorizationOf(req: { headers: { authorization?: string }; raw: { rawHeaders: string[] } }): string | string[] | undefined {
  const sent: string[] = [];
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'authorization') sent.push(raw[i + 1]!);
  return sent.length > 1 ? sent : req.headers.authorization;
}

export const SEVERAL_AUTHORIZATIONS = 'Send one Authorization header, not several.';

/** The hash of the request's bearer token; 401 when there is none. */
export function tokenHashOf(header: string | string[] | undefined): string {
  if (Array.isArray(header)) throw unauthorized(SEVERAL_AUTHORIZATIONS);
  const token = bearerToken(header);
  if (!token) throw unauthorized('Send a token as "Authorization: Bearer <token>".');
  return hashToken(token);
}

/** What a token's row (null: none has that hash) allows: its user, or 401. */
export function acceptToken(row: TokenRow | null, hash: string): AuthContext {
  // The lookup is by hash; the comparison below keeps the final check
  // independent of where two hashes first differ.
  const expected = Buffer.from(row?.tokenHash ?? '0'.repeat(64), 'hex');
  const given = Buffer.from(hash, 'hex');
  const same = expected.length === given.length && timingSafeEqual(expected, given);
  if (!row || !same) throw unauthorized('The token is not valid.');
  if (row.userWorkspaceId !== row.workspaceId || row.status !== 'ACTIVE') {
    throw unauthorized('The token is not valid: its user cannot sign in.');
  }
  return { workspaceId: row.workspaceId, userId: row.userId, role: row.role };
}

export async function authenticate(prisma: PrismaClient, header: string | string[] | undefined): Promise<AuthContext> {
  const hash = tokenHashOf(header);
  // Token and user in ONE statement (a join on two primary/unique keys): every
  // authenticated request pays for exactly this one lookup (GET
  // /v1/deletions/{id} reads its wizard in the same statement: client/deletion-reads.ts).
  const [row] = await prisma.$queryRaw<TokenRow[]>`
    SELECT t.token_hash AS "tokenHash", t.workspace_id AS "workspaceId", u.id AS "userId",
      u.workspace_id AS "userWorkspaceId", u.role::text AS "role", u.status::text AS "status"
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = ${hash}`;
  return acceptToken(row ?? null, hash);
}

export function requireRole(auth: AuthContext, roles: readonly Role[] | undefined): void {
  if (roles && !roles.includes(auth.role)) {
    throw new HttpProblem(403, `Your role (${auth.role}) may not do this; it needs ${roles.join(' or ')}.`);
  }
}

/**
 * api.md: only an OWNER may create a user with role OWNER, or start, step or
 * confirm the deletion of an OWNER (an ADMIN gets 403).
 *
 * Unlike `requireRole`, this 403 depends on what the request is about, so it
 * is checked as early as that is known, and always before the body's schema,
 * to keep "401, 403, 400, 404" (a caller refused learns nothing of the body):
 * - a deletion's target is named by the path: it is looked up before the body
 *   is even parsed (a route's `preParsing`), so an ADMIN on an OWNER's wizard
 *   gets 403 for any body, broken JSON included. An id that does not exist in
 *   the workspace has no OWNER to protect: no 403, the request goes on to
 *   400, then 404, as for any unknown id (and says nothing about other
 *   workspaces).
 * - a new user's role is in the body: checked once the JSON is parsed and
 *   before its schema (`preValidation`), so `{role: "OWNER", ...}` from an
 *   ADMIN is 403 whatever its other fields; a body that is not JSON at all is
 *   400, as it cannot be asking for anything.
 * Cancel is not restricted: it gives the OWNER their place back.
 */
export function requireOwnerFor(auth: AuthContext, targetRole: Role | null | undefined, what: string): void {
  if (targetRole != null && !mayActOnRole(auth.role, targetRole)) {
    throw new HttpProblem(403, `Only an OWNER may ${what}; your role is ${auth.role}.`);
  }
}
