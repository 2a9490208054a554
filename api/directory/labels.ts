// Labels: an owner and members, all users of this workspace.
import type { PrismaClient } from '../../generated/prisma/client';
import type { Page } from '../../domain/pagination';
import type { Label, Visibility } from '../../domain/schemas';
import { lockUsers, refuseReceivers } from './common';
import { CREATION_ORDER, keysetPage, type PageQuery } from './pages';

/**
 * The owner and every member must be users of this workspace who are not
 * being deleted (422 otherwise; a SUSPENDED one may stay on a label). A
 * member named twice is kept once.
 */
export async function createLabel(
  prisma: PrismaClient,
  workspaceId: string,
  input: { name: string; visibility: Visibility; ownerId: string; memberIds: string[] },
): Promise<Label> {
  const memberIds = [...new Set(input.memberIds)];
  return prisma.$transaction(async (tx) => {
    const named = [input.ownerId, ...memberIds];
    refuseReceivers(await lockUsers(tx, workspaceId, named), named, ['PENDING_DELETION']);
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

export async function listLabels(prisma: PrismaClient, workspaceId: string, query: PageQuery): Promise<Page<Label>> {
  return keysetPage(
    CREATION_ORDER,
    query,
    (keyset) =>
      prisma.label.findMany({
        ...keyset.args({ workspaceId }),
        select: {
          id: true,
          name: true,
          visibility: true,
          ownerId: true,
          createdAt: true,
          members: { orderBy: { position: 'asc' }, select: { userId: true } },
        },
      }),
    (row) => ({
      id: row.id,
      name: row.name,
      visibility: row.visibility,
      ownerId: row.ownerId,
      memberIds: row.members.map((member) => member.userId),
    }),
  );
}
