// Bearer tokens: stored as sha256 hashes, found by hash, compared in constant
// time. A token acts as one user of one workspace, and only while that user is
// ACTIVE: a user being deleted (PENDING_DELETION), SUSPENDED or removed is 401.
import { timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';
import type { Role } from '../domain/schemas';
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
  const m = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  const token = m?.[1];
  if (!token || token.length > MAX_TOKEN_LENGTH) return null;
  return token;
}

export async function authenticate(db: PrismaClient, header: string | string[] | undefined): Promise<AuthContext> {
  const token = bearerToken(header);
  if (!token) throw unauthorized('Send a token as "Authorization: Bearer <token>".');
  const hash = hashToken(token);
  const row = await db.apiToken.findUnique({
    where: { tokenHash: hash },
    select: {
      tokenHash: true,
      workspaceId: true,
      user: { select: { id: true, workspaceId: true, role: true, status: true } },
    },
  });
  // The lookup is by hash; the comparison below keeps the final check
  // independent of where two hashes first differ.
  const expected = Buffer.from(row?.tokenHash ?? '0'.repeat(64), 'hex');
  const given = Buffer.from(hash, 'hex');
  const same = expected.length === given.length && timingSafeEqual(expected, given);
  if (!row || !same) throw unauthorized('The token is not valid.');
  if (row.user.workspaceId !== row.workspaceId || row.user.status !== 'ACTIVE') {
    throw unauthorized('The token is not valid: its user cannot sign in.');
  }
  return { workspaceId: row.workspaceId, userId: row.user.id, role: row.user.role };
}

export function requireRole(auth: AuthContext, roles: readonly Role[] | undefined): void {
  if (roles && !roles.includes(auth.role)) {
    throw new HttpProblem(403, `Your role (${auth.role}) may not do this; it needs ${roles.join(' or ')}.`);
  }
}
