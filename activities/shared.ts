// Helpers every wizard activity uses: the audit trail (which doubles as the
// idempotency marker of each change), target checks and refusals.
import { Prisma, type PrismaClient } from '../generated/prisma/client';
import { heirOf, type HeirCandidates } from '../domain/heirs';
import { refusalFailure } from '../domain/refusal';
import { startDeletionProblem, targetProblem, type RuleProblem } from '../domain/rules';
import { changeKey, onceKey, type AuditAction } from '../domain/audit';
import type { Actor, Distribution, Role, UserStatus } from '../domain/schemas';
import type { RoutingContents } from '../domain/wizard-state';

export type Db = PrismaClient;
export type Tx = Prisma.TransactionClient;

export interface AuditEntry {
  workspaceId: string;
  deletionId: string;
  actor: Actor;
  action: AuditAction;
  detail: Record<string, unknown>;
}

/**
 * The audit event an earlier run of this activity already wrote, if any. Call
 * it first in the change's transaction: it takes a transaction-scoped lock on
 * the change's key, so an overlapping attempt (a retry while the first still
 * runs) waits here for the other to end and then sees its event, instead of
 * doing the change a second time and colliding on a unique key half-way.
 */
export async function alreadyDone(tx: Tx, deletionId: string, action: AuditAction) {
  await oneAtATime(tx, deletionId, action);
  return tx.auditEvent.findUnique({ where: { idempotencyKey: onceKey(deletionId, action) } });
}

/**
 * Takes the transaction-scoped lock of `action` on this deletion: two attempts
 * of the same change (an activity retried, or a local one run again by a
 * replayed workflow task, while the first still runs) go one after the other,
 * so the second sees what the first committed.
 */
export async function oneAtATime(tx: Tx, deletionId: string, action: string): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${changeKey(deletionId, action)}, 0))::text`;
}

/**
 * A change made once per deletion however often its activity runs: in one
 * transaction, answers from the audit event an earlier run wrote (`earlier`),
 * else does `work` and writes its audit event, whose idempotency key is the
 * marker (a concurrent second run collides on it and rolls back).
 */
export async function onceInTransaction<T>(
  prisma: Db,
  once: Omit<AuditEntry, 'detail'>,
  work: (tx: Tx) => Promise<{ result: T; detail: Record<string, unknown> }>,
  earlier: (detail: Record<string, unknown>, tx: Tx) => T | Promise<T>,
): Promise<T> {
  return prisma.$transaction(async (tx) => {
    const done = await alreadyDone(tx, once.deletionId, once.action);
    if (done) return earlier(done.detail as Record<string, unknown>, tx);
    const { result, detail } = await work(tx);
    await recordAudit(tx, { ...once, detail });
    return result;
  });
}

/**
 * Records `action` in the same transaction as the change. With `once`, a second
 * attempt of the same change that got past `alreadyDone` collides on the
 * idempotency key and rolls back (a transient failure: its retry finds it done).
 */
export async function recordAudit(tx: Tx, entry: AuditEntry, once = true): Promise<void> {
  await tx.auditEvent.create({
    data: {
      workspaceId: entry.workspaceId,
      deletionId: entry.deletionId,
      actorType: entry.actor.type,
      actorId: entry.actor.id,
      action: entry.action,
      detail: entry.detail as Prisma.InputJsonValue,
      idempotencyKey: once ? onceKey(entry.deletionId, entry.action) : null,
    },
  });
}

/**
 * Checks that every user named as a new owner or member exists in the
 * workspace, is ACTIVE and is not the user being deleted; locks them (FOR SHARE)
 * so none of them starts being deleted before this transaction commits.
 */
export async function assertTargets(tx: Tx, workspaceId: string, deletedUserId: string, userIds: readonly string[]) {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return;
  const rows = await tx.$queryRaw<{ id: string; status: 'ACTIVE' | 'SUSPENDED' | 'PENDING_DELETION' }[]>`
    SELECT id, status FROM users WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[]) FOR SHARE`;
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const id of ids) {
    const problem = targetProblem(deletedUserId, byId.get(id), id);
    if (problem) throw refusalFailure(problem);
  }
}

/** Holds the rows of `userIds` in this workspace (FOR SHARE, in id order): none changes status before this commits. */
export async function holdUsers(tx: Tx, workspaceId: string, userIds: readonly string[]): Promise<void> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return;
  await tx.$queryRaw`SELECT id FROM users WHERE workspace_id = ${workspaceId} AND id = ANY(${ids}::text[]) ORDER BY id FOR SHARE`;
}

/**
 * What `heirOf` decides from: which of `preferred` are ACTIVE (never the
 * leaver) and the workspace's first active owner or admin.
 */
export async function heirCandidates(
  tx: Tx,
  workspaceId: string,
  leaverId: string,
  preferred: readonly string[],
): Promise<HeirCandidates> {
  const active = await tx.user.findMany({
    where: { workspaceId, status: 'ACTIVE', id: { in: [...preferred], not: leaverId } },
    select: { id: true },
  });
  const admins = await tx.user.findMany({
    where: { workspaceId, status: 'ACTIVE', role: { in: ['OWNER', 'ADMIN'] }, id: { not: leaverId } },
    orderBy: [{ role: 'asc' }, { createdAt: 'asc' }],
    select: { id: true },
    take: 1,
  });
  return { preferred, active: new Set(active.map((user) => user.id)), admins: admins.map((user) => user.id) };
}

/** The refusal when nobody active is left to inherit. */
export const NOBODY_LEFT = { kind: 'RuleViolation', message: 'Nobody active is left in this workspace to take over what the user held.' } as const;

/** Who inherits what the leaver still holds (domain `heirOf`); refused when nobody is left. */
export async function findHeir(tx: Tx, workspaceId: string, leaverId: string, preferred: readonly string[]): Promise<string> {
  const heir = heirOf(await heirCandidates(tx, workspaceId, leaverId, preferred));
  if (heir === null) throw refusalFailure(NOBODY_LEFT);
  return heir;
}

/**
 * Replaces the members of each distribution (automation or integration), in
 * the order given: two statements however many there are (a leaver named in
 * 40,000 automations once took one round trip each, past the transaction's
 * 60 s, on every try).
 */
export async function replaceMembers(
  tx: Tx,
  kind: 'automations' | 'integrations',
  choices: readonly { id: string; distribution: Distribution }[],
): Promise<void> {
  if (choices.length === 0) return;
  // One distribution per id (the last given), as one replacement after another would leave it.
  choices = [...new Map(choices.map((choice) => [choice.id, choice])).values()];
  const rows = choices.flatMap((choice) => choice.distribution.map((member, position) => ({ id: choice.id, ...member, position })));
  const { members, key } = ROUTING_TABLES[kind];
  await tx.$executeRaw`DELETE FROM ${members} WHERE ${key} = ANY(${choices.map((choice) => choice.id)}::text[])`;
  await tx.$executeRaw`
    INSERT INTO ${members} (${key}, user_id, weight, position)
    SELECT * FROM unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.userId)}::text[], ${rows.map((r) => r.weight)}::int[], ${rows.map((r) => r.position)}::int[])`;
}

type MemberRow = { userId: string; weight: number; position: number };
export function toDistribution(members: MemberRow[]): Distribution {
  return [...members].sort((a, b) => a.position - b.position).map((member) => ({ userId: member.userId, weight: member.weight }));
}

/** Where a label names `userId`: they own it, or are one of its members (Prisma `where`). */
export function namingUser(userId: string) {
  return { OR: [{ ownerId: userId }, { members: { some: { userId } } }] };
}

/**
 * Automations or integrations of the workspace whose distribution includes
 * `userId` (or, with `ids`, those of them among `ids`, whoever they name):
 * each with its distribution and the other members who are not ACTIVE.
 */
export async function routingWithUser(
  client: Tx | Db,
  kind: 'automations' | 'integrations',
  workspaceId: string,
  userId: string,
  ids?: readonly string[],
): Promise<RoutingContents[]> {
  return (await routingRows(client, kind, workspaceId, ids ?? { naming: userId })).map((row) => routingContents(row, userId));
}

/** An automation or integration with its members and their statuses, as read. */
export interface RoutingRow {
  id: string;
  name: string;
  members: { userId: string; weight: number; position: number; user: { status: string } }[];
}

/** Each routing kind's tables: for the one statement that reads items with their members, and `replaceMembers`. */
const ROUTING_TABLES = {
  automations: { items: Prisma.raw('automations'), members: Prisma.raw('automation_members'), key: Prisma.raw('automation_id') },
  integrations: { items: Prisma.raw('integrations'), members: Prisma.raw('integration_members'), key: Prisma.raw('integration_id') },
} as const;

/**
 * The automations (or integrations) with these ids, or those naming a user, in
 * creation order, each with its members and their statuses: one statement
 * (the items, their members and the members' users joined), where Prisma's
 * nested read sends three.
 */
export async function routingRows(
  client: Tx | Db,
  kind: 'automations' | 'integrations',
  workspaceId: string,
  which: readonly string[] | { naming: string },
): Promise<RoutingRow[]> {
  const t = ROUTING_TABLES[kind];
  const filter =
    'naming' in which
      ? Prisma.sql`EXISTS (SELECT 1 FROM ${t.members} n WHERE n.${t.key} = i.id AND n.user_id = ${which.naming})`
      : Prisma.sql`i.id = ANY(${[...new Set(which)]}::text[])`;
  const rows = await client.$queryRaw<{ id: string; name: string; members: { userId: string; weight: number; position: number; status: string }[] }[]>`
    SELECT i.id, i.name,
      COALESCE(
        json_agg(json_build_object('userId', m.user_id, 'weight', m.weight, 'position', m.position, 'status', u.status) ORDER BY m.position)
          FILTER (WHERE m.user_id IS NOT NULL),
        '[]'::json) AS members
    FROM ${t.items} i
    LEFT JOIN ${t.members} m ON m.${t.key} = i.id
    LEFT JOIN users u ON u.id = m.user_id
    WHERE i.workspace_id = ${workspaceId} AND ${filter}
    GROUP BY i.id, i.name, i.created_at
    ORDER BY i.created_at, i.id`;
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    members: row.members.map((m) => ({ userId: m.userId, weight: m.weight, position: m.position, user: { status: m.status } })),
  }));
}

/** A row as a wizard of `userId` sees it: its distribution, and which other members nobody may pick now. */
export function routingContents(row: RoutingRow, userId: string): RoutingContents {
  return {
    id: row.id,
    name: row.name,
    current: toDistribution(row.members),
    unavailable: row.members.filter((m) => m.userId !== userId && m.user.status !== 'ACTIVE').map((m) => m.userId),
  };
}

/**
 * `routingWithUser`, read once their members' rows (and `alsoHold`'s) are held
 * (`holdUsers`), so that the statuses read are final for this transaction: a
 * member whose own wizard opens at this moment is waited for and seen as
 * unavailable. The items' own rows must be held already (they name the members).
 */
export async function routingWithUserHeld(
  tx: Tx,
  kind: 'automations' | 'integrations',
  workspaceId: string,
  userId: string,
  ids?: readonly string[],
  alsoHold: readonly string[] = [],
): Promise<RoutingContents[]> {
  const members = (await routingWithUser(tx, kind, workspaceId, userId, ids)).flatMap((item) => item.current.map((member) => member.userId));
  await holdUsers(tx, workspaceId, [...members, ...alsoHold]);
  return routingWithUser(tx, kind, workspaceId, userId, ids);
}


/**
 * May `actor` start deleting `target`? The rule of domain/rules.ts with the
 * data it needs (the workspace's active owners). Used by the client's check
 * before starting and again inside the opening transaction.
 */
export async function startProblem(
  client: Tx | Db,
  workspaceId: string,
  target: { id: string; role: Role; status: UserStatus },
  actor: Actor,
): Promise<RuleProblem | null> {
  const activeOwnerCount = await client.user.count({ where: { workspaceId, role: 'OWNER', status: 'ACTIVE' } });
  return startDeletionProblem({ actorUserId: actor.type === 'USER' ? actor.id : null, target, activeOwnerCount });
}
