// Leads: bulk creation in one statement, listing by id, counting, and the
// lead-source delivery that routes new leads by an integration's distribution.
import { NotFound, RuleViolation } from '../../domain/errors';
import { eligibleDistribution, splitCounts } from '../../domain/distribution';
import type { Lead } from '../../domain/schemas';
import { decodeBigIdCursor, encodeBigIdCursor, pageOf, type Page } from '../../domain/pagination';
import { checkNamedUsers, lockUsers, plausibleId, requireUser, type Db, type Tx } from './common';

export interface NewLead {
  name: string;
  email?: string;
  phone?: string;
}

/** Long enough for 10,000 leads on a slow disk; far below anything stuck. */
const TX_OPTIONS = { timeout: 60_000, maxWait: 10_000 };

/**
 * Inserts leads with their owners in ONE statement (`INSERT … SELECT FROM
 * unnest(...)`), whatever their number: all or nothing, ids in input order.
 */
async function insertLeads(tx: Tx, workspaceId: string, leads: NewLead[], ownerIds: string[]): Promise<number> {
  const names = leads.map((l) => l.name);
  const emails = leads.map((l) => l.email ?? null);
  const phones = leads.map((l) => l.phone ?? null);
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
  db: Db,
  workspaceId: string,
  leads: (NewLead & { ownerId: string })[],
): Promise<{ created: number }> {
  const ownerIds = leads.map((l) => l.ownerId);
  return db.$transaction(async (tx) => {
    const statuses = await lockUsers(tx, workspaceId, ownerIds);
    checkNamedUsers(statuses, ownerIds, 'the owner of new leads', ['PENDING_DELETION']);
    const created = await insertLeads(tx, workspaceId, leads, ownerIds);
    return { created };
  }, TX_OPTIONS);
}

type LeadRow = { id: bigint; name: string; email: string | null; phone: string | null; ownerId: string };

function toLead(r: LeadRow): Lead {
  return { id: r.id.toString(), name: r.name, email: r.email, phone: r.phone, ownerId: r.ownerId };
}

export async function listLeads(
  db: Db,
  workspaceId: string,
  q: { ownerId?: string; limit: number; cursor?: string },
): Promise<Page<Lead>> {
  const after = decodeBigIdCursor(q.cursor);
  if (q.ownerId !== undefined) await requireUser(db, workspaceId, q.ownerId);
  const rows = await db.lead.findMany({
    where: {
      workspaceId,
      ...(q.ownerId !== undefined ? { ownerId: q.ownerId } : {}),
      ...(after !== undefined ? { id: { gt: after } } : {}),
    },
    orderBy: { id: 'asc' },
    take: q.limit + 1,
    select: { id: true, name: true, email: true, phone: true, ownerId: true },
  });
  return pageOf(rows, q.limit, toLead, (r) => encodeBigIdCursor(r.id));
}

export async function countLeads(db: Db, workspaceId: string, q: { ownerId?: string }): Promise<{ count: number }> {
  if (q.ownerId !== undefined) await requireUser(db, workspaceId, q.ownerId);
  const count = await db.lead.count({
    where: { workspaceId, ...(q.ownerId !== undefined ? { ownerId: q.ownerId } : {}) },
  });
  return { count };
}

function integrationNotFound(id: string): NotFound {
  return new NotFound(`Integration ${id} does not exist in this workspace.`);
}

/**
 * `POST /v1/integrations/{id}/leads`: a lead source delivering leads. Each
 * request shares its leads out over the integration's distribution by largest
 * remainder, skipping members who are PENDING_DELETION or SUSPENDED wherever
 * another member remains (where none does, the leads reach the listed member
 * all the same and the deletion wizard's final sweep moves them).
 */
export async function deliverLeads(
  db: Db,
  workspaceId: string,
  integrationId: string,
  leads: NewLead[],
): Promise<{ created: number; owners: Record<string, number> }> {
  if (!plausibleId(integrationId)) throw integrationNotFound(integrationId);
  return db.$transaction(async (tx) => {
    const integration = await tx.integration.findFirst({
      where: { workspaceId, id: integrationId },
      select: { members: { orderBy: { position: 'asc' }, select: { userId: true, weight: true } } },
    });
    if (!integration) throw integrationNotFound(integrationId);
    const distribution = integration.members;
    if (distribution.length === 0) {
      throw new RuleViolation(`Integration ${integrationId} has no members to route leads to.`);
    }
    // Locked: a deletion starting now waits for these leads to be committed,
    // so its lead count (or its final sweep) sees them.
    const statuses = await lockUsers(
      tx,
      workspaceId,
      distribution.map((m) => m.userId),
    );
    const eligible = eligibleDistribution(distribution, (userId) => statuses.get(userId) !== 'ACTIVE');
    const owners: Record<string, number> = {};
    const ownerIds: string[] = [];
    for (const { userId, count } of splitCounts(leads.length, eligible)) {
      if (count === 0) continue;
      owners[userId] = count;
      for (let i = 0; i < count; i++) ownerIds.push(userId);
    }
    const created = await insertLeads(tx, workspaceId, leads, ownerIds);
    return { created, owners };
  }, TX_OPTIONS);
}
