// Helpers every wizard activity uses: the audit trail (which doubles as the
// idempotency marker of each change), target checks and refusals.
import { ApplicationFailure } from '@temporalio/common';
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { FAILURE_TYPES } from '../domain/errors';
import { startDeletionProblem, targetProblem, type RuleProblem } from '../domain/rules';
import type { Actor, Distribution, Role, UserStatus } from '../domain/schemas';

export type Db = PrismaClient;
export type Tx = Prisma.TransactionClient;

/** A business refusal: not retried, becomes the update's 422. */
export function ruleViolation(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FAILURE_TYPES.RuleViolation, message, nonRetryable: true });
}

export interface AuditEntry {
  workspaceId: string;
  deletionId: string;
  actor: Actor;
  action: string;
  detail: Record<string, unknown>;
}

/** The key that makes `action` happen once per deletion, however often its activity runs. */
export function onceKey(deletionId: string, action: string): string {
  return `${deletionId}:${action}`;
}

/**
 * The audit event an earlier run of this activity already wrote, if any. Call
 * it first in the change's transaction: it takes a transaction-scoped lock on
 * the change's key, so an overlapping attempt (a retry while the first still
 * runs) waits here for the other to end and then sees its event, instead of
 * doing the change a second time and colliding on a unique key half-way.
 */
export async function alreadyDone(tx: Tx, deletionId: string, action: string) {
  const key = onceKey(deletionId, action);
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))::text`;
  return tx.auditEvent.findUnique({ where: { idempotencyKey: key } });
}

/**
 * Records `action` in the same transaction as the change. With `once`, a second
 * attempt of the same change that got past `alreadyDone` collides on the
 * idempotency key and rolls back (a transient failure: its retry finds it done).
 */
export async function recordAudit(tx: Tx, e: AuditEntry, once = true): Promise<void> {
  await tx.auditEvent.create({
    data: {
      workspaceId: e.workspaceId,
      deletionId: e.deletionId,
      actorType: e.actor.type,
      actorId: e.actor.id,
      action: e.action,
      detail: e.detail as Prisma.InputJsonValue,
      idempotencyKey: once ? onceKey(e.deletionId, e.action) : null,
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
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of ids) {
    const problem = targetProblem(deletedUserId, byId.get(id), id);
    if (problem) throw ruleViolation(problem.message);
  }
}

/**
 * The first user who can still receive what is left at the very end: a member
 * of the step-1 choice who is still active, else the confirming admin, else any
 * active owner of the workspace.
 */
export async function fallbackOwner(
  tx: Tx,
  workspaceId: string,
  deletedUserId: string,
  preferred: readonly string[],
): Promise<string> {
  const rows = await tx.user.findMany({
    where: { workspaceId, status: 'ACTIVE', id: { in: [...preferred], not: deletedUserId } },
    select: { id: true },
  });
  const active = new Set(rows.map((r) => r.id));
  const first = preferred.find((id) => active.has(id));
  if (first) return first;
  const owner = await tx.user.findFirst({
    where: { workspaceId, status: 'ACTIVE', role: { in: ['OWNER', 'ADMIN'] }, id: { not: deletedUserId } },
    orderBy: [{ role: 'asc' }, { createdAt: 'asc' }],
    select: { id: true },
  });
  if (!owner) throw ruleViolation('Nobody active is left in this workspace to take over what the user held.');
  return owner.id;
}

/** Replaces a distribution's members (automation or integration) in the given order. */
export async function replaceMembers(
  tx: Tx,
  kind: 'automations' | 'integrations',
  id: string,
  distribution: Distribution,
): Promise<void> {
  const rows = distribution.map((m, position) => ({ userId: m.userId, weight: m.weight, position }));
  if (kind === 'automations') {
    await tx.automationMember.deleteMany({ where: { automationId: id } });
    await tx.automationMember.createMany({ data: rows.map((r) => ({ ...r, automationId: id })) });
  } else {
    await tx.integrationMember.deleteMany({ where: { integrationId: id } });
    await tx.integrationMember.createMany({ data: rows.map((r) => ({ ...r, integrationId: id })) });
  }
}

type MemberRow = { userId: string; weight: number; position: number };
export function toDistribution(members: MemberRow[]): Distribution {
  return [...members].sort((a, b) => a.position - b.position).map((m) => ({ userId: m.userId, weight: m.weight }));
}

/** Automations or integrations of the workspace whose distribution includes `userId`. */
export async function routingWithUser(tx: Tx | Db, kind: 'automations' | 'integrations', workspaceId: string, userId: string) {
  const where = { workspaceId, members: { some: { userId } } };
  const select = { id: true, name: true, members: { select: { userId: true, weight: true, position: true } } };
  const rows =
    kind === 'automations'
      ? await tx.automation.findMany({ where, select, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })
      : await tx.integration.findMany({ where, select, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map((r) => ({ id: r.id, name: r.name, current: toDistribution(r.members) }));
}

/** Serializable transactions fail under contention; the activity retry runs them again. */
export const TX_OPTIONS = { maxWait: 10_000, timeout: 60_000 } as const;

/**
 * May `actor` start deleting `target`? The rule of domain/rules.ts with the
 * data it needs (the workspace's active owners). Used by the client's check
 * before starting and again inside the opening transaction.
 */
export async function startProblem(
  db: Tx | Db,
  workspaceId: string,
  target: { id: string; role: Role; status: UserStatus },
  actor: Actor,
): Promise<RuleProblem | null> {
  const activeOwnerCount = await db.user.count({ where: { workspaceId, role: 'OWNER', status: 'ACTIVE' } });
  return startDeletionProblem({ actorUserId: actor.type === 'USER' ? actor.id : null, target, activeOwnerCount });
}
