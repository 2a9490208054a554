// The wizard's business rules as plain functions over plain data, used by the
// workflow's update validators and by the API alike. Each answers null when the
// input is allowed, or the refusal with a message written for the admin.
// Data look-ups (does this user exist, is it active) happen in the caller,
// which passes what it found.
// Pure: no I/O, no clock, no randomness; safe inside the Temporal workflow sandbox.
import { distributionFromTarget, distributionProblem } from './distribution';
import type { ConflictCode } from './errors';
import type {
  AutomationsStepBody,
  Deletion,
  DeletionStatus,
  Distribution,
  IntegrationsStepBody,
  LabelsStepBody,
  LeadsStepBody,
  Role,
  StartBlocker,
  StartBlockerCode,
  Step,
  UserStatus,
} from './schemas';

/**
 * Why an input is refused: the kind picks the HTTP status (409 / 422). A
 * start's refusal that callers act on names its `code` (TOO_BIG: HR and
 * identity providers then freeze the leaver, client/offboarding.ts), as does
 * a conflict that ends by itself (CANCELLING: an identity provider's
 * reactivation waits for the cancel under way). The kind, message and code
 * cross Temporal (domain/refusal.ts).
 */
export type RuleProblem =
  | { kind: 'StepConflict'; message: string; code?: ConflictCode }
  | { kind: 'RuleViolation'; message: string; code?: StartBlockerCode };

const violation = (message: string): RuleProblem => ({ kind: 'RuleViolation', message });
const conflict = (message: string): RuleProblem => ({ kind: 'StepConflict', message });

// ---- Start -----------------------------------------------------------------

/** A workspace's administrators: they manage its directory and the Temporal codec; a MEMBER gets 403. */
export const ADMIN_ROLES: readonly Role[] = ['OWNER', 'ADMIN'];

/** Roles that may use the deletion routes (preview, start, steps, event stream); a MEMBER gets 403. */
export const DELETION_ROLES: readonly Role[] = ADMIN_ROLES;

export function mayUseDeletions(role: Role): boolean {
  return DELETION_ROLES.includes(role);
}

/** Only an OWNER creates an OWNER, or deletes one (api.md); anyone else acts on the other roles. */
export function mayActOnRole(actorRole: Role, targetRole: Role): boolean {
  return targetRole !== 'OWNER' || actorRole === 'OWNER';
}

/** What the start rules look at. `actorUserId` is null when HR or an identity provider starts it. */
export interface StartArgs {
  actorUserId: string | null;
  /** The role of the admin starting it; null or left out for HR and identity providers (no ROLE check). */
  actorRole?: Role | null;
  target: { id: string; role: Role; status: UserStatus };
  /**
   * The workspace's ACTIVE OWNERs: it includes the target only while the
   * target is ACTIVE (not being deleted, nor frozen by HR or an identity
   * provider), and the rule accounts for both.
   */
  activeOwnerCount: number;
}

/**
 * Who may delete whom, each reason with a stable code: nobody deletes
 * themself (SELF), only an OWNER deletes an OWNER (ROLE), and a workspace
 * keeps at least one OWNER who is not being deleted (LAST_OWNER).
 */
function whoBlockers(args: StartArgs): StartBlocker[] {
  const { actorUserId, actorRole, target, activeOwnerCount } = args;
  const out: StartBlocker[] = [];
  if (actorUserId !== null && actorUserId === target.id) {
    out.push({ code: 'SELF', message: 'You cannot delete yourself; ask another admin to do it.' });
  }
  if (actorRole != null && !mayActOnRole(actorRole, target.role)) {
    out.push({ code: 'ROLE', message: `User ${target.id} is an OWNER; only an OWNER may delete an OWNER.` });
  }
  if (target.role === 'OWNER') {
    const otherOwners = target.status === 'ACTIVE' ? activeOwnerCount - 1 : activeOwnerCount;
    if (otherOwners < 1) {
      out.push({
        code: 'LAST_OWNER',
        message: `User ${target.id} is the last owner of this workspace; make another user an owner before deleting them.`,
      });
    }
  }
  return out;
}

/** May this deletion start? The first of `whoBlockers`, as a refusal (422). */
export function startDeletionProblem(args: StartArgs): RuleProblem | null {
  const first = whoBlockers(args)[0];
  return first ? violation(first.message) : null;
}

/**
 * Every reason starting this deletion would be refused now (the preview
 * lists them all, changing nothing; api.md: "why starting would be refused
 * now"): `whoBlockers`, then what the wizard would carry being too much
 * (TOO_BIG, `tooBig`: wizard-size.ts `openingSizeProblem`). A user who
 * already has an open wizard, or is PENDING_DELETION, is not refused: the
 * start answers 200 with that wizard, and only the role, checked before
 * anything (403), stands in its way. Empty when the start would succeed.
 */
export function startDeletionBlockers(args: StartArgs & { openWizard: boolean; tooBig: RuleProblem | null }): StartBlocker[] {
  if (args.openWizard || args.target.status === 'PENDING_DELETION') return whoBlockers(args).filter((b) => b.code === 'ROLE');
  const size: StartBlocker[] = args.tooBig ? [{ code: 'TOO_BIG', message: args.tooBig.message }] : [];
  return [...whoBlockers(args), ...size];
}

// ---- Targets ---------------------------------------------------------------

/**
 * Statuses of a user who may not be handed work (leads, a place in a
 * distribution), with why: only an ACTIVE user receives. A user being deleted
 * is on the way out, and so is a SUSPENDED one (the HR hook's effectiveAt).
 */
const NOT_RECEIVING = { PENDING_DELETION: 'is being deleted', SUSPENDED: 'is suspended' } as const;
export type NotReceiving = keyof typeof NOT_RECEIVING;
const ALL_NOT_RECEIVING = Object.keys(NOT_RECEIVING) as NotReceiving[];

/**
 * May the user `userId` (of status `status`, or `undefined` when not in the
 * workspace) be named to receive or hold something? It must exist in the
 * workspace, and its status must not be one of `refused`: by default it must
 * be ACTIVE (a label's owner and members need only not be PENDING_DELETION).
 * The one rule and wording for the wizard's steps (`targetProblem`) and the
 * directory's writes alike.
 */
export function receiverProblem(
  userId: string,
  status: UserStatus | undefined,
  refused: readonly NotReceiving[] = ALL_NOT_RECEIVING,
): RuleProblem | null {
  if (status === undefined) return violation(`User ${userId} is not in this workspace.`);
  if (status === 'ACTIVE' || !refused.includes(status)) return null;
  return violation(`User ${userId} ${NOT_RECEIVING[status]}; choose an active user.`);
}

/**
 * May `candidate` receive what the deleted user held (leads, a place in a
 * distribution, a label)? It must exist in the workspace, not be the user being
 * deleted, and be ACTIVE (`receiverProblem`). `candidateId` names the missing
 * user in the message when `candidate` is undefined.
 */
export function targetProblem(
  deletedUserId: string,
  candidate: { id: string; status: UserStatus } | undefined,
  candidateId?: string,
): RuleProblem | null {
  if (candidate === undefined) {
    return candidateId === undefined
      ? violation('The chosen user is not in this workspace.')
      : receiverProblem(candidateId, undefined);
  }
  if (candidate.id === deletedUserId) {
    return violation(`User ${candidate.id} is the user being deleted; choose someone else.`);
  }
  return receiverProblem(candidate.id, candidate.status);
}

// ---- Step 1: leads ---------------------------------------------------------

/** The lead step's choice as a distribution (`{targetUserId}` → one member at 100). */
export function leadsChoice(body: LeadsStepBody): Distribution {
  return 'targetUserId' in body ? distributionFromTarget(body.targetUserId) : body.distribution;
}

/**
 * The lead step's rules that need no data: a valid distribution that does not
 * include the user being deleted. Whether each named user exists and is active
 * is checked by the caller with `targetProblem`.
 */
export function leadsStepProblem(deletedUserId: string, body: LeadsStepBody): RuleProblem | null {
  if ('targetUserId' in body) {
    if (body.targetUserId === deletedUserId) {
      return violation(`User ${deletedUserId} is the user being deleted; their leads must go to someone else.`);
    }
    return null;
  }
  const problem = distributionProblem(body.distribution);
  if (problem !== null) return violation(problem);
  if (body.distribution.some((m) => m.userId === deletedUserId)) {
    return violation(`User ${deletedUserId} is the user being deleted; they cannot be in the distribution.`);
  }
  return null;
}

// ---- Steps 2 and 3: automations and integrations ----------------------------

const NOUNS = {
  automation: { one: 'Automation', many: 'Automations' },
  integration: { one: 'Integration', many: 'Integrations' },
} as const;

/**
 * The automations or integrations step: each override names an item of the
 * step, once, with a valid distribution without the user being deleted; every
 * item that `requiresReplacement` (nobody but the user is left in it who may
 * be picked) is named. Whether the users in the overrides exist and are
 * active is checked by the caller with `targetProblem`.
 */
export function routingStepProblem(args: {
  deletedUserId: string;
  items: { id: string; requiresReplacement: boolean }[];
  overrides: { id: string; distribution: Distribution }[];
  what: 'automation' | 'integration';
}): RuleProblem | null {
  const named = new Set(args.overrides.map((o) => o.id));
  return (
    routingOverridesProblem(args) ??
    missingReplacementsProblem(
      args.what,
      args.items.filter((item) => item.requiresReplacement && !named.has(item.id)).map((item) => item.id),
    )
  );
}

/**
 * `routingStepProblem` without the items that require a replacement: what the
 * wizard checks from its own list, which is as the items were when it opened.
 * Which items require one is known only from them as they are now, when the
 * step applies (activities `applyRouting`, `missingReplacementsProblem`).
 */
export function routingOverridesProblem(args: {
  deletedUserId: string;
  items: { id: string }[];
  overrides: { id: string; distribution: Distribution }[];
  what: 'automation' | 'integration';
}): RuleProblem | null {
  const { deletedUserId, items, overrides, what } = args;
  const noun = NOUNS[what];
  const inStep = new Set(items.map((item) => item.id));
  const named = new Set<string>();
  for (const { id, distribution } of overrides) {
    if (!inStep.has(id)) {
      return violation(`${noun.one} ${id} is not in this step; only the ${what}s listed can be overridden.`);
    }
    if (named.has(id)) {
      return violation(`${noun.one} ${id} is named more than once; name each ${what} once.`);
    }
    named.add(id);
    const problem = distributionProblem(distribution);
    if (problem !== null) return violation(`${noun.one} ${id}: ${problem}`);
    if (distribution.some((m) => m.userId === deletedUserId)) {
      return violation(
        `${noun.one} ${id}: user ${deletedUserId} is the user being deleted; they cannot be in the distribution.`,
      );
    }
  }
  return null;
}

/** Items of the step that require a replacement and were given none (`missing`): the step is refused naming them. */
export function missingReplacementsProblem(what: 'automation' | 'integration', missing: readonly string[]): RuleProblem | null {
  const noun = NOUNS[what];
  if (missing.length === 1) {
    return violation(
      `${noun.one} ${missing[0]} has nobody left to route to without the user being deleted (any other member is being deleted or suspended); name a distribution for it.`,
    );
  }
  if (missing.length > 1) {
    return violation(
      `${noun.many} ${missing.join(', ')} have nobody left to route to without the user being deleted (any other member is being deleted or suspended); name a distribution for each.`,
    );
  }
  return null;
}

/**
 * What each item would route to once the step applies, in the items' order:
 * its override, else its suggestion, else (one requiring a replacement that
 * was not named: the step is refused when it applies) what it routes to now.
 * The wizard's estimate of the view the step leaves (its size check).
 */
export function resolveRouting(
  items: { id: string; current: Distribution; suggested: Distribution | null }[],
  overrides: { id: string; distribution: Distribution }[],
): { id: string; distribution: Distribution }[] {
  const byId = new Map(overrides.map((o) => [o.id, o.distribution]));
  return items.map(({ id, current, suggested }) => ({ id, distribution: byId.get(id) ?? suggested ?? current }));
}

/** Automation and integration overrides in one shape: `{id, distribution}`. */
export function routingOverrides(body: AutomationsStepBody | IntegrationsStepBody): { id: string; distribution: Distribution }[] {
  return body.overrides.map((o) => ({ id: 'automationId' in o ? o.automationId : o.integrationId, distribution: o.distribution }));
}

/**
 * What the wizard would say to a step's body, from its view alone (the rules
 * its update validators apply): a body the API cannot hand to the wizard
 * (too big for Temporal) is answered with the same refusal.
 */
export function stepBodyProblem(
  deletion: Pick<Deletion, 'status' | 'step' | 'leads' | 'user' | 'automations' | 'integrations' | 'labels'>,
  step: 'AUTOMATIONS' | 'INTEGRATIONS' | 'LABELS',
  body: AutomationsStepBody | IntegrationsStepBody | LabelsStepBody,
): RuleProblem | null {
  const current = { status: deletion.status, step: deletion.step, leadsMoving: deletion.leads.state === 'MOVING' };
  const problem = stepProblem(current, step);
  if (problem) return problem;
  const deletedUserId = deletion.user.id;
  if (step === 'LABELS') {
    return labelsStepProblem({ deletedUserId, items: deletion.labels, replacements: (body as LabelsStepBody).replacements });
  }
  const routing = body as AutomationsStepBody | IntegrationsStepBody;
  return step === 'AUTOMATIONS'
    ? routingStepProblem({ deletedUserId, items: deletion.automations, overrides: routingOverrides(routing), what: 'automation' })
    : routingStepProblem({ deletedUserId, items: deletion.integrations, overrides: routingOverrides(routing), what: 'integration' });
}

// ---- Step 4: labels ----------------------------------------------------------

/**
 * The labels step: each replacement names a label of the step, once, and a
 * replacement who is not the user being deleted. Whether the replacement
 * exists and is active is checked by the caller with `targetProblem`.
 */
export function labelsStepProblem(args: {
  deletedUserId: string;
  items: { id: string }[];
  replacements: { labelId: string; replacementUserId: string | null }[];
}): RuleProblem | null {
  const { deletedUserId, items, replacements } = args;
  const inStep = new Set(items.map((item) => item.id));
  const named = new Set<string>();
  for (const { labelId, replacementUserId } of replacements) {
    if (!inStep.has(labelId)) {
      return violation(`Label ${labelId} is not in this step; only the labels listed can be given a replacement.`);
    }
    if (named.has(labelId)) {
      return violation(`Label ${labelId} is named more than once; name each label once.`);
    }
    named.add(labelId);
    if (replacementUserId === deletedUserId) {
      return violation(`Label ${labelId}: user ${deletedUserId} is the user being deleted; choose someone else.`);
    }
  }
  return null;
}

// ---- Confirm -------------------------------------------------------------------

export const CONFIRMATION_TEXT = 'CONFIRM';

/** Exactly `CONFIRM`: case-sensitive, no trimming. */
export function confirmationProblem(text: string): RuleProblem | null {
  return text === CONFIRMATION_TEXT
    ? null
    : violation('Type CONFIRM exactly (capital letters) to delete the user.');
}

// ---- Where the wizard is -------------------------------------------------------

/**
 * May the step `wanted` be posted now? Only while the wizard is IN_PROGRESS,
 * not while the lead move runs, and only at the step it is at.
 */
export function stepProblem(
  current: { status: DeletionStatus; step: Step; leadsMoving: boolean },
  wanted: Step,
): RuleProblem | null {
  if (current.status !== 'IN_PROGRESS') return conflict(notOpenMessage(current.status));
  if (current.leadsMoving) {
    return conflict('Leads are still moving; wait until the move is done before the next step.');
  }
  if (wanted !== current.step) {
    return conflict(`This wizard is at step ${current.step}, not ${wanted}.`);
  }
  return null;
}

/**
 * May the wizard be cancelled now? Until confirm: while IN_PROGRESS and before
 * the user's removal began (step DONE).
 */
export function cancelProblem(current: { status: DeletionStatus; step: Step }): RuleProblem | null {
  if (current.status !== 'IN_PROGRESS') return conflict(notOpenMessage(current.status));
  if (current.step === 'DONE') {
    return conflict('This deletion was confirmed; it can no longer be cancelled.');
  }
  return null;
}

function notOpenMessage(status: DeletionStatus): string {
  return status === 'FAILED' ? 'This deletion has FAILED; start a new one.' : `This deletion is already ${status}.`;
}
