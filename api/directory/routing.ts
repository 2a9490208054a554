// Automations and integrations: named distributions of new work over users.
import { RuleViolation } from '../../domain/errors';
import { distributionProblem } from '../../domain/distribution';
import type { Automation, Distribution, Integration } from '../../domain/schemas';
import { afterCreated, decodeCreatedCursor, encodeCreatedCursor, pageOf, type Page } from '../../domain/pagination';
import { checkNamedUsers, lockUsers, type Db, type Tx } from './common';

/**
 * A new distribution must add up (422 otherwise) and name only ACTIVE users
 * of this workspace: nobody being deleted (PENDING_DELETION), and nobody
 * SUSPENDED either (a suspended user is on their way out, see the HR hook's
 * effectiveAt). Members are locked until the caller's transaction ends.
 */
export async function checkNewDistribution(tx: Tx, workspaceId: string, distribution: Distribution): Promise<void> {
  const problem = distributionProblem(distribution);
  if (problem) throw new RuleViolation(problem);
  const ids = distribution.map((m) => m.userId);
  const statuses = await lockUsers(tx, workspaceId, ids);
  checkNamedUsers(statuses, ids, 'a member of a distribution', ['PENDING_DELETION', 'SUSPENDED']);
}

function membersData(distribution: Distribution) {
  return distribution.map((m, position) => ({ userId: m.userId, weight: m.weight, position }));
}

const memberSelect = { orderBy: { position: 'asc' }, select: { userId: true, weight: true } } as const;

export async function createAutomation(
  db: Db,
  workspaceId: string,
  input: { name: string; distribution: Distribution },
): Promise<Automation> {
  return db.$transaction(async (tx) => {
    await checkNewDistribution(tx, workspaceId, input.distribution);
    const row = await tx.automation.create({
      data: { workspaceId, name: input.name, members: { createMany: { data: membersData(input.distribution) } } },
      select: { id: true, name: true, members: memberSelect },
    });
    return { id: row.id, name: row.name, distribution: row.members };
  });
}

export async function listAutomations(
  db: Db,
  workspaceId: string,
  q: { limit: number; cursor?: string },
): Promise<Page<Automation>> {
  const after = decodeCreatedCursor(q.cursor);
  const rows = await db.automation.findMany({
    where: { workspaceId, ...afterCreated(after) },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: q.limit + 1,
    select: { id: true, name: true, createdAt: true, members: memberSelect },
  });
  return pageOf(rows, q.limit, (r) => ({ id: r.id, name: r.name, distribution: r.members }), encodeCreatedCursor);
}

export async function createIntegration(
  db: Db,
  workspaceId: string,
  input: { name: string; source: string; distribution: Distribution },
): Promise<Integration> {
  return db.$transaction(async (tx) => {
    await checkNewDistribution(tx, workspaceId, input.distribution);
    const row = await tx.integration.create({
      data: {
        workspaceId,
        name: input.name,
        source: input.source,
        members: { createMany: { data: membersData(input.distribution) } },
      },
      select: { id: true, name: true, source: true, members: memberSelect },
    });
    return { id: row.id, name: row.name, source: row.source, distribution: row.members };
  });
}

export async function listIntegrations(
  db: Db,
  workspaceId: string,
  q: { limit: number; cursor?: string },
): Promise<Page<Integration>> {
  const after = decodeCreatedCursor(q.cursor);
  const rows = await db.integration.findMany({
    where: { workspaceId, ...afterCreated(after) },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: q.limit + 1,
    select: { id: true, name: true, source: true, createdAt: true, members: memberSelect },
  });
  return pageOf(
    rows,
    q.limit,
    (r) => ({ id: r.id, name: r.name, source: r.source, distribution: r.members }),
    encodeCreatedCursor,
  );
}
