// A bench workspace of its own, and its removal (dependents first: members of
// automations and integrations restrict deleting their users).
import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../../generated/prisma/client';
import { createApiToken } from '../../infra/tokens';
import type { Log } from '../../infra/logger';

export type Role = 'OWNER' | 'ADMIN' | 'MEMBER';

export async function createBenchWorkspace(prisma: PrismaClient, prefix: string) {
  const slug = `${prefix}-${Date.now()}`;
  const ws = await prisma.workspace.create({ data: { slug, name: slug, hookSecret: randomBytes(32).toString('hex') } });
  /** Creates users named `${name}-${i}` (i from 0), in one statement; returns their ids in order. */
  const users = async (name: string, count: number, role: Role): Promise<string[]> => {
    const emails = Array.from({ length: count }, (_, i) => `${name}-${i}@${slug}.test`);
    await prisma.user.createMany({
      data: emails.map((email, i) => ({ workspaceId: ws.id, name: `${name}-${i}`, email, role })),
    });
    const rows = await prisma.user.findMany({ where: { workspaceId: ws.id, email: { in: emails } }, select: { id: true, email: true } });
    const byEmail = new Map(rows.map((r) => [r.email, r.id]));
    return emails.map((e) => byEmail.get(e)!);
  };
  const token = (userId: string) => createApiToken(prisma, { workspaceId: ws.id, userId, label: 'bench' });
  return { ws, slug, users, token };
}

export async function removeBenchWorkspace(prisma: PrismaClient, workspaceId: string, log: Log): Promise<void> {
  log('cleaning up the bench workspace');
  try {
    await prisma.automation.deleteMany({ where: { workspaceId } });
    await prisma.integration.deleteMany({ where: { workspaceId } });
    await prisma.label.deleteMany({ where: { workspaceId } });
    await prisma.workspace.delete({ where: { id: workspaceId } });
  } catch (e) {
    log(`cleanup failed: ${(e as Error).message}`);
  }
}
