// What a deletion wizard shows when it opens: the user's lead count, the
// automations and integrations that route to them, and their shared and public
// labels. One read, used by the opening activity inside its transaction and by
// the preview (which changes nothing), so the preview shows what the wizard will.
import type { Prisma } from '../generated/prisma/client';
import { startDeletionBlockers } from '../domain/rules';
import type { DeletionPreview, Role } from '../domain/schemas';
import { openedView, type OpenedContext } from '../domain/wizard-state';
import { notInWorkspace } from '../domain/errors';
import { openingSizeProblem } from '../domain/wizard-size';
import { namingUser, routingWithUser, type Db, type Tx } from './shared';

export type WizardContents = Omit<OpenedContext, 'user' | 'startedAt'>;

export async function readWizardContents(db: Tx | Db, workspaceId: string, userId: string): Promise<WizardContents> {
  const leadsTotal = await db.lead.count({ where: { workspaceId, ownerId: userId } });
  const automations = await routingWithUser(db, 'automations', workspaceId, userId);
  const integrations = await routingWithUser(db, 'integrations', workspaceId, userId);
  const labels = await db.label.findMany({
    where: {
      workspaceId,
      visibility: { in: ['SHARED', 'PUBLIC'] },
      ...namingUser(userId),
    },
    select: { id: true, name: true, visibility: true },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  return { leadsTotal, automations, integrations, labels };
}

/**
 * What starting the deletion of `userId` would show (through the same
 * `openedView` the wizard opens with), and every reason it would be refused
 * now. Reads one snapshot; writes nothing. NotFound when the user is not in
 * the workspace.
 */
export async function deletionPreview(
  db: Db,
  args: { workspaceId: string; userId: string; actor: { userId: string; role: Role } },
): Promise<DeletionPreview> {
  const { workspaceId, userId, actor } = args;
  return db.$transaction(
    async (tx) => {
      const user = await tx.user.findFirst({
        where: { workspaceId, id: userId },
        select: { id: true, name: true, email: true, role: true, status: true },
      });
      if (!user) throw notInWorkspace('User', userId);
      const contents = await readWizardContents(tx, workspaceId, user.id);
      const open = await tx.deletion.findFirst({
        where: { workspaceId, userId: user.id, status: 'IN_PROGRESS' },
        select: { id: true },
      });
      const activeOwnerCount = await tx.user.count({ where: { workspaceId, role: 'OWNER', status: 'ACTIVE' } });
      const now = new Date().toISOString();
      const view = openedView(
        {
          deletionId: 'preview',
          workspaceId,
          userId: user.id,
          source: 'ADMIN',
          actor: { type: 'USER', id: actor.userId },
          reason: null,
          effectiveAt: null,
        },
        { ...contents, user: { id: user.id, name: user.name, email: user.email }, startedAt: now },
        now,
      );
      return {
        user: view.user,
        leads: { total: view.leads.total },
        automations: view.automations,
        integrations: view.integrations,
        labels: view.labels,
        blockers: startDeletionBlockers({
          actorUserId: actor.userId,
          actorRole: actor.role,
          target: user,
          activeOwnerCount,
          openWizard: open !== null,
          tooBig: openingSizeProblem(view),
        }),
        openDeletionId: open?.id ?? null,
      };
    },
    // One snapshot: the counts and the blockers describe the same moment.
    { isolationLevel: 'RepeatableRead' as Prisma.TransactionIsolationLevel },
  );
}
