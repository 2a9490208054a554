// Opening, mirroring, cancelling and the effective-date switch of a wizard.
import type { Prisma } from '../generated/prisma/client';
import type { Actor, Deletion } from '../domain/schemas';
import { openedView, type WizardInput } from '../domain/wizard-state';
import { refusalFailure } from '../domain/refusal';
import { openingSizeProblem } from '../domain/wizard-size';
import { alreadyDone, onceInTransaction, recordAudit, startProblem, type Db } from './shared';
import { readWizardContents } from './wizard-contents';
import { movedWhere } from './lead-move/activities';

export function wizardRecordActivities(prisma: Db) {
  return {
    /**
     * Marks the user (PENDING_DELETION, or SUSPENDED until an HR `effectiveAt`),
     * reads what the wizard will show, and writes the Deletion row and
     * DELETION_STARTED, all in one transaction. Run twice, it returns the row.
     */
    async openDeletion(input: WizardInput): Promise<Deletion> {
      return prisma.$transaction(async (tx) => {
        const existing = await tx.deletion.findUnique({ where: { id: input.deletionId } });
        if (existing) return existing.state as unknown as Deletion;

        // The user's row first: one opening of this user at a time (one open wizard per user).
        const [user] = await tx.$queryRaw<
          { id: string; name: string; email: string; role: 'OWNER' | 'ADMIN' | 'MEMBER'; status: 'ACTIVE' | 'SUSPENDED' | 'PENDING_DELETION' }[]
        >`SELECT id, name, email, role, status FROM users
          WHERE workspace_id = ${input.workspaceId} AND id = ${input.userId} FOR UPDATE`;
        // An OWNER's opening also takes the workspace's row: the last-OWNER rule counts the active
        // OWNERs, and two OWNER openings that each counted before the other wrote would both pass.
        // Nobody else's opening changes that count, so a hundred MEMBERs (a layoff) open side by side.
        // (Nothing changes a user's role today; any future change of role, or of status that lowers
        // the count, must take this same workspace row first.)
        // NO KEY UPDATE: rows that merely reference the workspace (leads, audit) are not held up.
        if (user?.role === 'OWNER') await tx.$queryRaw`SELECT id FROM workspaces WHERE id = ${input.workspaceId} FOR NO KEY UPDATE`;
        // Again under the lock(s): another attempt of this opening may have committed while this one waited.
        const opened = await tx.deletion.findUnique({ where: { id: input.deletionId } });
        if (opened) return opened.state as unknown as Deletion;
        if (!user) throw refusalFailure({ kind: 'RuleViolation', message: `User ${input.userId} is not in this workspace.` });
        if (user.status === 'PENDING_DELETION') throw refusalFailure({ kind: 'RuleViolation', message: `User ${user.id} is already being deleted.` });
        const open = await tx.deletion.findFirst({
          where: { workspaceId: input.workspaceId, userId: user.id, status: 'IN_PROGRESS' },
          select: { id: true },
        });
        if (open) throw refusalFailure({ kind: 'RuleViolation', message: `User ${user.id} is already being deleted (deletion ${open.id}).` });
        const problem = await startProblem(tx, input.workspaceId, user, input.actor);
        if (problem) throw refusalFailure(problem);

        const now = new Date();
        const later = input.effectiveAt !== null && Date.parse(input.effectiveAt) > now.getTime();
        // A freeze with no wizard (too big, client/offboarding.ts) ends here: the wizard holds the user now.
        await tx.user.update({ where: { id: user.id }, data: { status: later ? 'SUSPENDED' : 'PENDING_DELETION', frozenBy: null } });

        const { leadsTotal, automations, integrations, labels } = await readWizardContents(tx, input.workspaceId, user.id);
        const view = openedView(
          input,
          {
            user: { id: user.id, name: user.name, email: user.email },
            leadsTotal,
            automations,
            integrations,
            labels,
            startedAt: now.toISOString(),
          },
          now.toISOString(),
        );
        // Too big to carry: nothing written (the transaction rolls back the user's status too).
        const tooBig = openingSizeProblem(view);
        if (tooBig) throw refusalFailure(tooBig);
        await tx.deletion.create({
          data: {
            id: input.deletionId,
            workspaceId: input.workspaceId,
            workflowId: view.workflowId,
            userId: user.id,
            userName: user.name,
            userEmail: user.email,
            source: input.source,
            actorType: input.actor.type,
            actorId: input.actor.id,
            reason: input.reason,
            status: view.status,
            step: view.step,
            effectiveAt: input.effectiveAt ? new Date(input.effectiveAt) : null,
            state: view as unknown as Prisma.InputJsonValue,
            startedAt: now,
            updatedAt: now,
          },
        });
        await recordAudit(tx, {
          workspaceId: input.workspaceId,
          deletionId: input.deletionId,
          actor: input.actor,
          action: 'DELETION_STARTED',
          detail: {
            userId: user.id,
            name: user.name,
            email: user.email,
            source: input.source,
            reason: input.reason,
            effectiveAt: input.effectiveAt,
            userStatus: later ? 'SUSPENDED' : 'PENDING_DELETION',
            leads: leadsTotal,
            automationIds: automations.map((a) => a.id),
            integrationIds: integrations.map((i) => i.id),
            labelIds: labels.map((l) => l.id),
          },
        });
        return view;
      });
    },

    /**
     * Mirrors the workflow's state into the Deletion row (listing, reads while
     * the worker is away). Only forward: a save whose `version` is not above
     * the row's (an earlier save retried late) changes nothing. Older
     * workflows send no version; theirs are saved as before.
     */
    async saveDeletionState(args: { workspaceId: string; deletionId: string; view: Deletion; version?: number }): Promise<void> {
      const view = { ...args.view, attention: args.view.attention ?? null };
      if (view.status !== 'IN_PROGRESS') {
        // While it moved, reads said the wizard last changed with its move's last batch (client/wizard-client.ts
        // `live`); a cancel's time is taken before the batch in flight commits. The end is no earlier than that
        // batch as of now, so that updatedAt does not go back behind a read taken while it moved.
        const [moved] = await prisma.$queryRaw<{ at: Date | null }[]>`SELECT max(updated_at) AS at FROM lead_moves WHERE deletion_id = ${args.deletionId}`;
        if (moved?.at && moved.at.getTime() > Date.parse(view.updatedAt)) view.updatedAt = moved.at.toISOString();
      }
      const forward = args.version === undefined ? {} : { version: { lt: args.version } };
      await prisma.deletion.updateMany({
        where: { id: args.deletionId, workspaceId: args.workspaceId, ...forward },
        data: {
          ...(args.version === undefined ? {} : { version: args.version }),
          status: view.status,
          step: view.step,
          state: view as unknown as Prisma.InputJsonValue,
          updatedAt: new Date(view.updatedAt),
          completedAt: view.status === 'IN_PROGRESS' ? null : new Date(view.updatedAt),
        },
      });
    },

    /** The HR `effectiveAt` has come: the suspended user is now being deleted. */
    async markPendingDeletion(args: { workspaceId: string; deletionId: string; userId: string }): Promise<void> {
      const actor: Actor = { type: 'SYSTEM', id: 'effective-date' };
      await onceInTransaction(
        prisma,
        { ...args, actor, action: 'USER_PENDING_DELETION' },
        async (tx) => {
          await tx.user.updateMany({
            where: { id: args.userId, workspaceId: args.workspaceId, status: 'SUSPENDED' },
            data: { status: 'PENDING_DELETION' },
          });
          return { result: undefined, detail: { userId: args.userId } };
        },
        () => undefined,
      );
    },

    /**
     * Cancel: the user is ACTIVE again; what was reassigned stays reassigned.
     * A move still running was stopped after its turn by the workflow; its
     * count so far is recorded (LEADS_MOVED) and returned.
     */
    async cancelDeletion(args: {
      workspaceId: string;
      deletionId: string;
      userId: string;
      actor: Actor;
      /** Who posted the lead step whose move this cancel stops (absent from workflows older than it: `actor`). */
      moveActor?: Actor;
      reason: string | null;
    }): Promise<{ moved: number | null }> {
      return onceInTransaction(
        prisma,
        { ...args, action: 'DELETION_CANCELLED' },
        async (tx) => {
          // ACTIVE again, and seen again by the identity provider should it have DELETEd them over SCIM
          // (hidden from SCIM only while the wizard ran): it can deprovision them again.
          await tx.user.updateMany({
            where: { id: args.userId, workspaceId: args.workspaceId, status: { not: 'ACTIVE' } },
            data: { status: 'ACTIVE', scimDeletedAt: null, frozenBy: null },
          });
          // Close the move's streams first. Locking the move's row waits for
          // streams being laid out at this moment (which hold it), so the update
          // below sees them; it does not wait for batches, which only update it.
          // Closing waits for any batch in flight (it holds its stream's row) and
          // no batch acts on a closed stream, so the count read next is final.
          await tx.$queryRaw`SELECT 1 FROM lead_moves WHERE deletion_id = ${args.deletionId} AND kind = 'MOVE' FOR KEY SHARE`;
          await tx.leadMoveStream.updateMany({ where: { deletionId: args.deletionId, kind: 'MOVE' }, data: { done: true } });
          const move = await tx.leadMove.findUnique({
            where: { deletionId_kind: { deletionId: args.deletionId, kind: 'MOVE' } },
          });
          // What moved is reported whether the move was stopped here or had already
          // finished in the database (a retried slice that ran to its end after the
          // workflow dropped it for this cancel): the wizard shows the true count.
          let moved: number | null = null;
          if (move) {
            moved = move.moved;
            if (!move.done) {
              await tx.leadMove.update({
                where: { deletionId_kind: { deletionId: args.deletionId, kind: 'MOVE' } },
                data: { done: true },
              });
            }
            if (!(await alreadyDone(tx, args.deletionId, 'LEADS_MOVED'))) {
              await recordAudit(tx, {
                workspaceId: args.workspaceId,
                deletionId: args.deletionId,
                // The move is the lead step's, done by whom posted it; the cancel is recorded as the canceller's.
                actor: args.moveActor ?? args.actor,
                action: 'LEADS_MOVED',
                detail: { ...(await movedWhere(tx, move)), stoppedByCancel: !move.done },
              });
            }
          }
          return { result: { moved }, detail: { userId: args.userId, reason: args.reason, leadsMoved: moved, userStatus: 'ACTIVE' } };
        },
        (detail) => ({ moved: (detail as { leadsMoved?: number | null }).leadsMoved ?? null }),
      );
    },
  };
}
