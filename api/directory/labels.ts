// Labels: an owner and members, all users of this workspace.
import type { Label, Visibility } from '../../domain/schemas';
import { afterCreated, decodeCreatedCursor, encodeCreatedCursor, pageOf, type Page } from '../../domain/pagination';
import { checkNamedUsers, lockUsers, type Db } from './common';

/**
 * The owner and every member must be users of this workspace who are not
 * being deleted (422 otherwise). A member named twice is kept once.
 */
export async function createLabel(
  db: Db,
  workspaceId: string,
  input: { name: string; visibility: Visibility; ownerId: string; memberIds: string[] },
): Promise<Label> {
  const memberIds = [...new Set(input.memberIds)];
  return db.$transaction(async (tx) => {
    const statuses = await lockUsers(tx, workspaceId, [input.ownerId, ...memberIds]);
    checkNamedUsers(statuses, [input.ownerId], 'the owner of a label', ['PENDING_DELETION']);
    checkNamedUsers(statuses, memberIds, 'a member of a label', ['PENDING_DELETION']);
    const row = await tx.label.create({
      data: {
        workspaceId,
        name: input.name,
        visibility: input.visibility,
        ownerId: input.ownerId,
        members: { createMany: { data: memberIds.map((userId, position) => ({ userId, position })) } },
      },
      select: { id: true },
    });
    return { id: row.id, name: input.name, visibility: input.visibility, ownerId: input.ownerId, memberIds };
  });
}

export async function listLabels(
  db: Db,
  workspaceId: string,
  q: { limit: number; cursor?: string },
): Promise<Page<Label>> {
  const after = decodeCreatedCursor(q.cursor);
  const rows = await db.label.findMany({
    where: { workspaceId, ...afterCreated(after) },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: q.limit + 1,
    select: {
      id: true,
      name: true,
      visibility: true,
      ownerId: true,
      createdAt: true,
      members: { orderBy: { position: 'asc' }, select: { userId: true } },
    },
  });
  return pageOf(
    rows,
    q.limit,
    (r) => ({
      id: r.id,
      name: r.name,
      visibility: r.visibility,
      ownerId: r.ownerId,
      memberIds: r.members.map((m) => m.userId),
    }),
    encodeCreatedCursor,
  );
}
