// Users of a workspace, in creation order.
import { Prisma } from '../../generated/prisma/client';
import { NotFound, StepConflict } from '../../domain/errors';
import type { Role, User, UserStatus } from '../../domain/schemas';
import { afterCreated, decodeCreatedCursor, encodeCreatedCursor, pageOf, type Page } from '../../domain/pagination';
import { plausibleId, type Db } from './common';

const userSelect = { id: true, name: true, email: true, role: true, status: true, createdAt: true } as const;
type UserRow = { id: string; name: string; email: string; role: Role; status: UserStatus; createdAt: Date };

function toUser(r: UserRow): User {
  return { id: r.id, name: r.name, email: r.email, role: r.role, status: r.status };
}

export async function listUsers(
  db: Db,
  workspaceId: string,
  q: { status?: UserStatus; limit: number; cursor?: string },
): Promise<Page<User>> {
  const after = decodeCreatedCursor(q.cursor);
  const rows = await db.user.findMany({
    where: { workspaceId, ...(q.status ? { status: q.status } : {}), ...afterCreated(after) },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: q.limit + 1,
    select: userSelect,
  });
  return pageOf(rows, q.limit, toUser, encodeCreatedCursor);
}

export async function getUser(db: Db, workspaceId: string, userId: string): Promise<User> {
  const row = plausibleId(userId)
    ? await db.user.findFirst({ where: { workspaceId, id: userId }, select: userSelect })
    : null;
  if (!row) throw new NotFound(`User ${userId} does not exist in this workspace.`);
  return toUser(row);
}

function emailTaken(email: string): StepConflict {
  return new StepConflict(`A user with email ${email} already exists in this workspace.`);
}

export async function createUser(
  db: Db,
  workspaceId: string,
  input: { name: string; email: string; role: Role },
): Promise<User> {
  const taken = await db.user.findFirst({ where: { workspaceId, email: input.email }, select: { id: true } });
  if (taken) throw emailTaken(input.email);
  try {
    const row = await db.user.create({
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
