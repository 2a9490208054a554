// Users of a workspace, in creation order.
import { Prisma, type PrismaClient } from '../../generated/prisma/client';
import { notInWorkspace, StepConflict } from '../../domain/errors';
import type { Page } from '../../domain/pagination';
import type { Role, User, UserStatus } from '../../domain/schemas';
import { plausibleId } from './common';
import { CREATION_ORDER, keysetPage, type PageQuery } from './pages';

const userSelect = { id: true, name: true, email: true, role: true, status: true, createdAt: true } as const;
type UserRow = { id: string; name: string; email: string; role: Role; status: UserStatus; createdAt: Date };

function toUser(row: UserRow): User {
  return { id: row.id, name: row.name, email: row.email, role: row.role, status: row.status };
}

export async function listUsers(
  prisma: PrismaClient,
  workspaceId: string,
  query: PageQuery & { status?: UserStatus },
): Promise<Page<User>> {
  return keysetPage(
    CREATION_ORDER,
    query,
    (keyset) =>
      prisma.user.findMany({
        ...keyset.args({ workspaceId, ...(query.status ? { status: query.status } : {}) }),
        select: userSelect,
      }),
    toUser,
  );
}

export async function getUser(prisma: PrismaClient, workspaceId: string, userId: string): Promise<User> {
  const row = plausibleId(userId)
    ? await prisma.user.findFirst({ where: { workspaceId, id: userId }, select: userSelect })
    : null;
  if (!row) throw notInWorkspace('User', userId);
  return toUser(row);
}

function emailTaken(email: string): StepConflict {
  return new StepConflict(`A user with email ${email} already exists in this workspace.`);
}

export async function createUser(
  prisma: PrismaClient,
  workspaceId: string,
  input: { name: string; email: string; role: Role },
): Promise<User> {
  const taken = await prisma.user.findFirst({ where: { workspaceId, email: input.email }, select: { id: true } });
  if (taken) throw emailTaken(input.email);
  try {
    const row = await prisma.user.create({
      data: { workspaceId, name: input.name, email: input.email, role: input.role },
      select: userSelect,
    });
    return toUser(row);
  } catch (err) {
    // Two creations with the same email at once: the unique index decides.
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw emailTaken(input.email);
    throw err;
  }
}
