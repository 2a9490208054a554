// Leads: bulk creation in one statement, listing by id, counting, and the
// lead-source delivery that routes new leads by an integration's distribution.
import type { PrismaClient } from '../../generated/prisma/client';
import { notInWorkspace, RuleViolation } from '../../domain/errors';
import { eligibleDistribution, splitCounts } from '../../domain/distribution';
import type { Page } from '../../domain/pagination';
import { receiverProblem } from '../../domain/rules';
import type { Lead } from '../../domain/schemas';
import { TRANSACTION_LIMITS } from '../../infra/database';
import { lockUsers, plausibleId, refuseReceivers, requireUser, type Tx } from './common';
import { ID_ORDER, keysetPage, type PageQuery } from './pages';

export interface NewLead {
  name: string;
  email?: string;
  phone?: string;
}

/** A bulk insert's transaction: up to 10,000 leads on a slow disk, longer than a request's usual limit. */
const BULK = TRANSACTION_LIMITS;

/**
 * Inserts leads with their owners in ONE statement (`INSERT … SELECT FROM
 * unnest(...)`), whatever their number: all or nothing, ids in input order.
 */
async function insertLeads(tx: Tx, workspaceId: string, leads: NewLead[], ownerIds: string[]): Promise<number> {
  const names = leads.map((lead) => lead.name);
  const emails = leads.map((lead) => lead.email ?? null);
  const phones = leads.map((lead) => lead.phone ?? null);
  return tx.$executeRaw`
    INSERT INTO leads (workspace_id, owner_id, name, email, phone)
    SELECT ${workspaceId}, u.owner_id, u.name, u.email, u.phone
    FROM unnest(${ownerIds}::text[], ${names}::text[], ${emails}::text[], ${phones}::text[])
      WITH ORDINALITY AS u(owner_id, name, email, phone, n)
    ORDER BY u.n`;
}

/**
 * `POST /v1/leads/bulk`: every owner must be a user of this workspace who is
 * not being deleted (422 naming them otherwise).
 */
export async function createLeads(
  prisma: PrismaClient,
  workspaceId: string,
  leads: (NewLead & { ownerId: string })[],
): Promise<{ created: number }> {
  const ownerIds = leads.map((lead) => lead.ownerId);
  return prisma.$transaction(async (tx) => {
    refuseReceivers(await lockUsers(tx, workspaceId, ownerIds), ownerIds, ['PENDING_DELETION']);
    const created = await insertLeads(tx, workspaceId, leads, ownerIds);
    return { created };
  }, BULK);
}

type LeadRow = { id: bigint; name: string; email: string | null; phone: string | null; ownerId: string };

function toLead(row: LeadRow): Lead {
  return { id: row.id.toString(), name: row.name, email: row.email, phone: row.phone, ownerId: row.ownerId };
}

/** Leads in id order; `ownerId` must name a user of this workspace (404), checked after the cursor (400). */
export async function listLeads(
  prisma: PrismaClient,
  workspaceId: string,
  query: PageQuery & { ownerId?: string },
): Promise<Page<Lead>> {
  return keysetPage(
    ID_ORDER,
    query,
    async (keyset) => {
      if (query.ownerId !== undefined) await requireUser(prisma, workspaceId, query.ownerId);
      return prisma.lead.findMany({
        ...keyset.args({ workspaceId, ...(query.ownerId !== undefined ? { ownerId: query.ownerId } : {}) }),
        select: { id: true, name: true, email: true, phone: true, ownerId: true },
      });
    },
    toLead,
  );
}

export async function countLeads(
  prisma: PrismaClient,
  workspaceId: string,
  query: { ownerId?: string },
): Promise<{ count: number }> {
  if (query.ownerId !== undefined) await requireUser(prisma, workspaceId, query.ownerId);
  const count = await prisma.lead.count({
    where: { workspaceId, ...(query.ownerId !== undefined ? { ownerId: query.ownerId } : {}) },
  });
  return { count };
}

/**
 * `POST /v1/integrations/{id}/leads`: a lead source delivering leads. Each
 * request shares its leads out over the integration's distribution by largest
 * remainder, skipping members who are PENDING_DELETION or SUSPENDED wherever
 * another member remains (where none does, the leads reach the listed member
 * all the same and the deletion wizard's final sweep moves them).
 */
export async function deliverLeads(
  prisma: PrismaClient,
  workspaceId: string,
  integrationId: string,
  leads: NewLead[],
): Promise<{ created: number; owners: Record<string, number> }> {
  if (!plausibleId(integrationId)) throw notInWorkspace('Integration', integrationId);
  return prisma.$transaction(async (tx) => {
    const integration = await tx.integration.findFirst({
      where: { workspaceId, id: integrationId },
      select: { members: { orderBy: { position: 'asc' }, select: { userId: true, weight: true } } },
    });
    if (!integration) throw notInWorkspace('Integration', integrationId);
    const distribution = integration.members;
    if (distribution.length === 0) {
      throw new RuleViolation(`Integration ${integrationId} has no members to route leads to.`);
    }
    // Locked: a deletion starting now waits for these leads to be committed,
    // so its lead count (or its final sweep) sees them.
    const statuses = await lockUsers(
      tx,
      workspaceId,
      distribution.map((member) => member.userId),
    );
    const eligible = eligibleDistribution(
      distribution,
      (userId) => receiverProblem(userId, statuses.get(userId)) !== null,
    );
    const owners: Record<string, number> = {};
    const ownerIds: string[] = [];
    for (const { userId, count } of splitCounts(leads.length, eligible)) {
      if (count === 0) continue;
      owners[userId] = count;
      for (let i = 0; i < count; i++) ownerIds.push(userId);
    }
    const created = await insertLeads(tx, workspaceId, leads, ownerIds);
    return { created, owners };
  }, BULK);
}
