// "Offboard this person", as an HR system (the signed hook) or an identity
// provider (SCIM deactivation or DELETE) means it, in one place (api.md, "HR
// offboarding hook" and "SCIM 2.0"): join the user's OPEN wizard, else start a
// new one. The wizard is found by the user as they are now, never by a key
// that outlives them, so a cancelled wizard, or one that removed an earlier
// holder of the same email or employee id, is never handed back.
// A leaver who holds too much for one wizard (TOO_BIG, domain/wizard-size.ts)
// has none opened, but is frozen all the same (SUSPENDED: no sign-in, no
// token) until an admin trims what they hold and starts their wizard, or the
// identity provider, if it asked for the freeze, reactivates them.
import type { Prisma, PrismaClient } from '../generated/prisma/client';
import { startProblem, type Tx } from '../activities/shared';
import { onceKey, type AuditAction } from '../domain/audit';
import { RuleViolation, StepConflict, Unavailable } from '../domain/errors';
import type { Actor, Deletion, Role, UserStatus } from '../domain/schemas';
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

/**
 * The audit action that marks an open wizard, or a freeze (no wizard), as one
 * the identity provider asked for.
 */
export const IDP_DEACTIVATED = 'IDP_DEACTIVATED' satisfies AuditAction;

/** Audit actions (no wizard: `deletionId` null) of a leaver frozen because their wizard could not open, and let go. */
export const USER_FROZEN = 'USER_FROZEN' satisfies AuditAction;
export const USER_UNFROZEN = 'USER_UNFROZEN' satisfies AuditAction;

/**
 * Joins the user's open wizard, or starts a new one (the user is frozen when
 * this returns). Refusals (the last owner, ...) are thrown as the named
 * errors of domain/errors.ts. A start refused as TOO_BIG, for a leaver who
 * leaves now (no `effectiveAt` to come), freezes them first (`freeze`), and
 * its refusal says so.
 */
export async function offboardUser(
  deps: OffboardingDeps,
  req: OffboardRequest,
): Promise<{ deletion: Deletion; joined: boolean }> {
  let started: Awaited<ReturnType<WizardApi['start']>>;
  try {
    started = await deps.wizard.start({
      workspaceId: req.workspaceId,
      userId: req.userId,
      actor: req.actor,
      source: req.source,
      ...(req.reason !== undefined ? { reason: req.reason } : {}),
      ...(req.effectiveAt !== undefined ? { effectiveAt: req.effectiveAt } : {}),
    });
  } catch (err) {
    const leavesNow = req.effectiveAt === undefined || req.effectiveAt.getTime() <= Date.now();
    if (err instanceof RuleViolation && err.code === 'TOO_BIG' && leavesNow) throw await freeze(deps, req, err);
    throw err;
  }
  const { deletion, created } = started;
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
          idempotencyKey: onceKey(deletion.id, IDP_DEACTIVATED),
        },
      ],
      skipDuplicates: true,
    });
  }
  if (!created) await bringForwardIfSooner(deps, req, deletion.id);
  return { deletion, joined: !created };
}

/** The audit action of a later offboarding bringing HR's `effectiveAt` forward. */
export const EFFECTIVE_AT_BROUGHT_FORWARD = 'EFFECTIVE_AT_BROUGHT_FORWARD' satisfies AuditAction;

/**
 * Joined a wizard still waiting for HR's `effectiveAt`: this offboarding's
 * date (now, when it names none: HR again with no date or an earlier one, the
 * identity provider) ends that wait sooner, if it is sooner. A later date
 * changes nothing: the person named now is offboarded no later than first said.
 */
async function bringForwardIfSooner(deps: OffboardingDeps, req: OffboardRequest, deletionId: string): Promise<void> {
  const row = await deps.prisma.deletion.findUnique({ where: { id: deletionId }, select: { effectiveAt: true } });
  const now = new Date();
  const at = req.effectiveAt !== undefined && req.effectiveAt > now ? req.effectiveAt : now;
  if (!row?.effectiveAt || row.effectiveAt <= now || at >= row.effectiveAt) return;
  try {
    await deps.wizard.bringForward(req.workspaceId, deletionId, req.actor, at);
  } catch (err) {
    // Being cancelled or ended meanwhile: nothing waits for a date any more, and the join stands.
    if (err instanceof StepConflict) return;
    throw err;
  }
  // The row says when the user leaves now (the next offboarding compares with that) and the audit says so:
  // both or neither, once per change of the row (two offboardings at once: the earlier date wins, one event each
  // only when it moved the row). A crash before this leaves the row as it was: the next offboarding sends again.
  await deps.prisma.$transaction(async (tx) => {
    // The date as it is under the row's lock: another offboarding at this moment may have moved it.
    const [held] = await tx.$queryRaw<{ effectiveAt: Date | null }[]>`
      SELECT effective_at AS "effectiveAt" FROM deletions WHERE id = ${deletionId} FOR UPDATE`;
    if (!held?.effectiveAt || at >= held.effectiveAt) return;
    await tx.deletion.update({ where: { id: deletionId }, data: { effectiveAt: at } });
    await tx.auditEvent.create({
      data: {
        workspaceId: req.workspaceId,
        deletionId,
        actorType: req.actor.type,
        actorId: req.actor.id,
        action: EFFECTIVE_AT_BROUGHT_FORWARD,
        detail: { userId: req.userId, source: req.source, effectiveAt: held.effectiveAt.toISOString(), broughtForwardTo: at.toISOString() },
      },
    });
  });
}

/**
 * The identity provider reactivated the user: cancels the user's open wizard
 * if the IdP started or joined it (the user is ACTIVE again). A wizard an
 * admin or HR started without the IdP is left alone (null): a provider that
 * re-sends `active: true` with every profile update must not undo it.
 * Past CONFIRM the cancel is refused (StepConflict). A wizard cancelled
 * meanwhile is the answer; a cancel already under way is waited for (503,
 * Unavailable, should it outlast the request's wait). With no open wizard, a
 * freeze the IdP made or joined is lifted (`unfreeze`; null); any other
 * suspension stays.
 */
export async function reinstateUser(
  deps: OffboardingDeps,
  req: { workspaceId: string; userId: string; actor: Actor },
  /** Whether a wizard found FAILED meanwhile sends it round once more (false on that round). */
  again = true,
): Promise<Deletion | null> {
  const deadline = deps.wizard.stateWaitDeadline();
  const open = await deps.prisma.deletion.findFirst({
    where: { workspaceId: req.workspaceId, userId: req.userId, status: 'IN_PROGRESS' },
    orderBy: { startedAt: 'desc' },
    select: { id: true, source: true },
  });
  if (!open) {
    await unfreeze(deps, req);
    return null;
  }
  if (open.source !== 'IDP') {
    const marked = await deps.prisma.auditEvent.findUnique({
      where: { idempotencyKey: onceKey(open.id, IDP_DEACTIVATED) },
      select: { id: true },
    });
    if (!marked) return null;
  }
  try {
    return await deps.wizard.cancel(req.workspaceId, open.id, req.actor, { reason: 'Reactivated by the identity provider.' });
  } catch (err) {
    if (!(err instanceof StepConflict)) throw err;
    // Refused because the wizard was cancelled meanwhile (what this asks for), or because a cancel is
    // under way (the IdP's own sent again, an admin's): answered once it is done, within the request's
    // wait. Any other conflict stands at once (a confirm under way or done: the user is being removed).
    const waits = err.code === 'CANCELLING';
    const ended = await deps.wizard.endedBy(req.workspaceId, open.id, waits ? deadline : 0);
    if (ended?.status === 'CANCELLED') return ended;
    if (ended === null && waits) throw new Unavailable(`${err.message} Send the reactivation again in a moment.`);
    // A wizard that failed to open (the cancel waited for it) leaves the user as they were: seen afresh (a freeze is lifted).
    if (ended?.status === 'FAILED' && again) return reinstateUser(deps, req, false);
    throw err;
  }
}

/**
 * The leaver whose wizard cannot open (too big) is frozen at once: ACTIVE →
 * SUSPENDED, `frozenBy` the source, and USER_FROZEN, once (a second call finds
 * them frozen). The identity provider joining a freeze HR made takes it over
 * (`frozenBy` IDP), so that its reactivation lifts it, as it cancels a wizard
 * it joined. The last active OWNER is not frozen (refused as a start would
 * be). Answers the refusal to throw: `tooBig`'s, saying whether the user is
 * now suspended.
 */
async function freeze(deps: OffboardingDeps, req: OffboardRequest, tooBig: RuleViolation): Promise<RuleViolation> {
  const { workspaceId, userId, actor } = req;
  const frozenBy = await deps.prisma.$transaction(async (tx) => {
    // The user's row first, then an OWNER's workspace row, as the opening takes them
    // (activities/wizard-records.ts): freezing an OWNER lowers the count of active owners.
    const [user] = await tx.$queryRaw<{ name: string; email: string; role: Role; status: UserStatus; frozenBy: 'HR' | 'IDP' | null }[]>`
      SELECT name, email, role, status, frozen_by::text AS "frozenBy" FROM users
      WHERE workspace_id = ${workspaceId} AND id = ${userId} FOR UPDATE`;
    if (!user) return null;
    if (user.status === 'ACTIVE') {
      if (user.role === 'OWNER') {
        await tx.$queryRaw`SELECT id FROM workspaces WHERE id = ${workspaceId} FOR NO KEY UPDATE`;
        const problem = await startProblem(tx, workspaceId, { id: userId, role: user.role, status: user.status }, actor);
        if (problem) throw new RuleViolation(problem.message);
      }
      await tx.user.update({ where: { id: userId }, data: { status: 'SUSPENDED', frozenBy: req.source } });
      const detail = { userId, name: user.name, email: user.email, source: req.source, reason: tooBig.message, userStatus: 'SUSPENDED' };
      await audit(tx, req, USER_FROZEN, detail);
      return req.source;
    }
    // Suspended for another reason (an HR date to come) is no freeze of ours.
    if (user.status !== 'SUSPENDED' || user.frozenBy === null) return null;
    if (req.source === 'IDP' && user.frozenBy !== 'IDP') {
      await tx.user.update({ where: { id: userId }, data: { frozenBy: 'IDP' } });
      await audit(tx, req, IDP_DEACTIVATED, { userId, frozenBy: user.frozenBy });
      return 'IDP';
    }
    return user.frozenBy;
  });
  if (frozenBy === null) return tooBig;
  const until =
    frozenBy === 'IDP'
      ? 'until an admin trims what they hold and starts their deletion, or the identity provider reactivates them'
      : 'until an admin trims what they hold and starts their deletion';
  return new RuleViolation(`${tooBig.message} Meanwhile the user is suspended: they cannot sign in or use a token ${until}.`, tooBig.code);
}

/**
 * The identity provider reactivated a user who has no open wizard: a freeze it
 * made or joined is lifted (SUSPENDED → ACTIVE and USER_UNFROZEN, once). Any
 * other suspension stays: HR's freeze, or one this service did not make.
 */
async function unfreeze(deps: OffboardingDeps, req: { workspaceId: string; userId: string; actor: Actor }): Promise<void> {
  const { workspaceId, userId } = req;
  await deps.prisma.$transaction(async (tx) => {
    // One conditional update: an opening of their wizard at this moment (which clears the freeze) wins or waits.
    const { count } = await tx.user.updateMany({
      where: { id: userId, workspaceId, status: 'SUSPENDED', frozenBy: 'IDP' },
      data: { status: 'ACTIVE', frozenBy: null },
    });
    if (count === 1) await audit(tx, req, USER_UNFROZEN, { userId, reason: 'Reactivated by the identity provider.', userStatus: 'ACTIVE' });
  });
}

/** An audit event of a user with no wizard (`deletionId` null). */
async function audit(tx: Tx, req: { workspaceId: string; actor: Actor }, action: AuditAction, detail: Record<string, unknown>): Promise<void> {
  await tx.auditEvent.create({
    data: { workspaceId: req.workspaceId, deletionId: null, actorType: req.actor.type, actorId: req.actor.id, action, detail: detail as Prisma.InputJsonValue },
  });
}
