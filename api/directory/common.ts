// Shared by the directory data access: every function takes the workspace id
// first, and every query filters by it.
import type { PrismaClient } from '../../generated/prisma/client';
import { notInWorkspace, RuleViolation } from '../../domain/errors';
import { receiverProblem, type NotReceiving } from '../../domain/rules';
import { STORABLE_TEXT, type Role, type UserStatus } from '../../domain/schemas';

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

/**
 * The condition "a user's email is this address, in any case". Prisma runs
 * `equals` in `insensitive` mode as ILIKE on PostgreSQL, where `_` and `%`
 * are wildcards and `\` escapes (prisma/orm#20318, open): unescaped, an
 * offboarding of `j_doe@…` reached `jadoe@…`, and a SCIM filter on `%`
 * every user. Escaped, each character matches only itself.
 */
export function emailIs(email: string): { equals: string; mode: 'insensitive' } {
  return { equals: email.replace(/[\\%_]/g, (c) => `\\${c}`), mode: 'insensitive' };
}

/** The role of a user of this workspace, or null when there is no such user. */
export async function roleOf(prisma: PrismaClient, workspaceId: string, userId: string): Promise<Role | null> {
  if (!plausibleId(userId)) return null;
  const user = await prisma.user.findFirst({ where: { workspaceId, id: userId }, select: { role: true } });
  return user?.role ?? null;
}

/** A user of this workspace named in the path or the query string, or 404. */
export async function requireUser(prisma: PrismaClient | Tx, workspaceId: string, userId: string) {
  const user = plausibleId(userId)
    ? await prisma.user.findFirst({ where: { workspaceId, id: userId }, select: { id: true, status: true } })
    : null;
  if (!user) throw notInWorkspace('User', userId);
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
  return new Map(rows.map((row) => [row.id, row.status]));
}

/**
 * Refuses (422) the first user named in a body, in order, who may not receive
 * what the body gives them (`receiverProblem`: not in this workspace, or of a
 * `refused` status; by default, not ACTIVE). `statuses` is what `lockUsers` found.
 */
export function refuseReceivers(
  statuses: ReadonlyMap<string, UserStatus>,
  userIds: readonly string[],
  refused?: readonly NotReceiving[],
): void {
  for (const userId of new Set(userIds)) {
    const problem = receiverProblem(userId, statuses.get(userId), refused);
    if (problem) throw new RuleViolation(problem.message);
  }
}
