// Shared by the directory data access: every function takes the workspace id
// first, and every query filters by it.
import type { PrismaClient } from '../../generated/prisma/client';
import { NotFound, RuleViolation } from '../../domain/errors';
import { STORABLE_TEXT, type Role, type UserStatus } from '../../domain/schemas';

export type Db = PrismaClient;
/** The client inside an interactive transaction. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/**
 * Could this string be an id we handed out? PostgreSQL refuses NUL bytes and
 * lone surrogates inside text, so such an id must never reach a query: it
 * cannot exist.
 */
export function plausibleId(id: string): boolean {
  return id.length > 0 && id.length <= 200 && STORABLE_TEXT.test(id);
}

/** The role of a user of this workspace, or null when there is no such user. */
export async function roleOf(db: Db, workspaceId: string, userId: string): Promise<Role | null> {
  if (!plausibleId(userId)) return null;
  const user = await db.user.findFirst({ where: { workspaceId, id: userId }, select: { role: true } });
  return user?.role ?? null;
}

/** A user of this workspace named in the path or the query string, or 404. */
export async function requireUser(db: Db | Tx, workspaceId: string, userId: string, what = 'User') {
  const user = plausibleId(userId)
    ? await db.user.findFirst({ where: { workspaceId, id: userId }, select: { id: true, status: true } })
    : null;
  if (!user) throw new NotFound(`${what} ${userId} does not exist in this workspace.`);
  return user;
}

/**
 * Statuses of users named inside a body, locked FOR SHARE until the end of
 * the transaction: a deletion that starts meanwhile (and marks one of them
 * PENDING_DELETION) waits until what we write is committed.
 */
export async function lockUsers(tx: Tx, workspaceId: string, userIds: string[]): Promise<Map<string, UserStatus>> {
  const ids = [...new Set(userIds.filter(plausibleId))];
  if (ids.length === 0) return new Map();
  const rows = await tx.$queryRaw<{ id: string; status: UserStatus }[]>`
    SELECT id, status::text AS status FROM users
    WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[])
    ORDER BY id
    FOR SHARE`;
  return new Map(rows.map((r) => [r.id, r.status]));
}

function quoteList(ids: string[]): string {
  const shown = ids.slice(0, 5).join(', ');
  return ids.length > 5 ? `${shown} and ${ids.length - 5} more` : shown;
}

/**
 * Refuses (422) users named in a body who are not in this workspace, or whose
 * status is not allowed for what they are being named as.
 */
export function checkNamedUsers(
  statuses: Map<string, UserStatus>,
  userIds: string[],
  role: string,
  refused: readonly UserStatus[],
): void {
  const unique = [...new Set(userIds)];
  const unknown = unique.filter((id) => !statuses.has(id));
  if (unknown.length > 0) {
    throw new RuleViolation(`No user ${quoteList(unknown)} in this workspace can be ${role}.`);
  }
  for (const status of refused) {
    const bad = unique.filter((id) => statuses.get(id) === status);
    if (bad.length > 0) {
      const why = status === 'PENDING_DELETION' ? 'is being deleted' : `is ${status}`;
      throw new RuleViolation(`User ${quoteList(bad)} ${why} and cannot be ${role}.`);
    }
  }
}
