// Automations and integrations: named distributions of new work over users.
import type { PrismaClient } from '../../generated/prisma/client';
import { RuleViolation } from '../../domain/errors';
import { distributionProblem } from '../../domain/distribution';
import type { Page } from '../../domain/pagination';
import type { Automation, Distribution, Integration } from '../../domain/schemas';
import { lockUsers, refuseReceivers, type Tx } from './common';
import { CREATION_ORDER, keysetPage, type PageQuery } from './pages';

/**
 * A new distribution must add up (422 otherwise) and name only ACTIVE users
 * of this workspace: nobody being deleted (PENDING_DELETION), and nobody
 * SUSPENDED either (a suspended user is on their way out, see the HR hook's
 * effectiveAt). Members are locked until the caller's transaction ends.
 */
export async function checkNewDistribution(tx: Tx, workspaceId: string, distribution: Distribution): Promise<void> {
  const problem = distributionProblem(distribution);
  if (problem) throw new RuleViolation(problem);
  const memberIds = distribution.map((member) => member.userId);
  refuseReceivers(await lockUsers(tx, workspaceId, memberIds), memberIds);
}

function membersData(distribution: Distribution) {
  return distribution.map((member, position) => ({ userId: member.userId, weight: member.weight, position }));
}

const memberSelect = { orderBy: { position: 'asc' }, select: { userId: true, weight: true } } as const;

export async function createAutomation(
  prisma: PrismaClient,
  workspaceId: string,
  input: { name: string; distribution: Distribution },
): Promise<Automation> {
  return prisma.$transaction(async (tx) => {
    await checkNewDistribution(tx, workspaceId, input.distribution);
    const row = await tx.automation.create({
      data: { workspaceId, name: input.name, members: { createMany: { data: membersData(input.distribution) } } },
      select: { id: true, name: true, members: memberSelect },
    });
    return { id: row.id, name: row.name, distribution: row.members };
  });
}

export async function listAutomations(
  prisma: PrismaClient,
  workspaceId: string,
  query: PageQuery,
): Promise<Page<Automation>> {
  return keysetPage(
    CREATION_ORDER,
    query,
    (keyset) =>
      prisma.automation.findMany({
        ...keyset.args({ workspaceId }),
        select: { id: true, name: true, createdAt: true, members: memberSelect },
      }),
    (row) => ({ id: row.id, name: row.name, distribution: row.members }),
  );
}

export async function createIntegration(
  prisma: PrismaClient,
  workspaceId: string,
  input: { name: string; source: string; distribution: Distribution },
): Promise<Integration> {
  return prisma.$transaction(async (tx) => {
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
  prisma: PrismaClient,
  workspaceId: string,
  query: PageQuery,
): Promise<Page<Integration>> {
  return keysetPage(
    CREATION_ORDER,
    query,
    (keyset) =>
      prisma.integration.findMany({
        ...keyset.args({ workspaceId }),
        select: { id: true, name: true, source: true, createdAt: true, members: memberSelect },
      }),
    (row) => ({ id: row.id, name: row.name, source: row.source, distribution: row.members }),
  );
}
