// "Offboard this person", as an HR system (the signed hook) or an identity
// provider (SCIM deactivation or DELETE) means it, in one place (api.md, "HR
// offboarding hook" and "SCIM 2.0"): join the user's OPEN wizard, else start a
// new one. The wizard is found by the user as they are now, never by a key
// that outlives them, so a cancelled wizard, or one that removed an earlier
// holder of the same email or employee id, is never handed back.
import type { PrismaClient } from '../generated/prisma/client';
import type { Actor, Deletion } from '../domain/schemas';
import type { WizardApi } from './types';

export interface OffboardingDeps {
  prisma: PrismaClient;
  wizard: WizardApi;
}

export interface OffboardRequest {
  workspaceId: string;
  userId: string;
  source: 'HR' | 'IDP';
  actor: Actor;
  /** HR only: the user stays SUSPENDED until then. */
  effectiveAt?: Date;
  reason?: string;
}

/** The audit action that marks an open wizard as one the identity provider asked for. */
export const IDP_DEACTIVATED = 'IDP_DEACTIVATED';

/**
 * Joins the user's open wizard, or starts a new one (the user is frozen when
 * this returns). Refusals (the last owner, ...) are thrown as the named
 * errors of domain/errors.ts.
 */
export async function offboardUser(
  deps: OffboardingDeps,
  req: OffboardRequest,
): Promise<{ deletion: Deletion; joined: boolean }> {
  const { deletion, created } = await deps.wizard.start({
    workspaceId: req.workspaceId,
    userId: req.userId,
    actor: req.actor,
    source: req.source,
    ...(req.reason !== undefined ? { reason: req.reason } : {}),
    ...(req.effectiveAt !== undefined ? { effectiveAt: req.effectiveAt } : {}),
  });
  if (req.source === 'IDP' && deletion.source !== 'IDP') {
    // The IdP joined a wizard someone else started: record it (once per
    // wizard), so that the IdP's reactivation may cancel this wizard too.
    await deps.prisma.auditEvent.createMany({
      data: [
        {
          workspaceId: req.workspaceId,
          deletionId: deletion.id,
          actorType: req.actor.type,
          actorId: req.actor.id,
          action: IDP_DEACTIVATED,
          detail: { userId: req.userId },
          idempotencyKey: `${deletion.id}:${IDP_DEACTIVATED}`,
        },
      ],
      skipDuplicates: true,
    });
  }
  return { deletion, joined: !created };
}

/**
 * The identity provider reactivated the user: cancels the user's open wizard
 * if the IdP started or joined it (the user is ACTIVE again). A wizard an
 * admin or HR started without the IdP is left alone (null): a provider that
 * re-sends `active: true` with every profile update must not undo it.
 * Past CONFIRM the cancel is refused (StepConflict).
 */
export async function reinstateUser(
  deps: OffboardingDeps,
  req: { workspaceId: string; userId: string; actor: Actor },
): Promise<Deletion | null> {
  const open = await deps.prisma.deletion.findFirst({
    where: { workspaceId: req.workspaceId, userId: req.userId, status: 'IN_PROGRESS' },
    orderBy: { startedAt: 'desc' },
    select: { id: true, source: true },
  });
  if (!open) return null;
  if (open.source !== 'IDP') {
    const marked = await deps.prisma.auditEvent.findUnique({
      where: { idempotencyKey: `${open.id}:${IDP_DEACTIVATED}` },
      select: { id: true },
    });
    if (!marked) return null;
  }
  return deps.wizard.cancel(req.workspaceId, open.id, req.actor, { reason: 'Reactivated by the identity provider.' });
}
