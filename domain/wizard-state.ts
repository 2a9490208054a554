// The wizard's state and its transitions, as plain data and pure functions.
// The workflow holds one `WizardState` (a `WizardSnapshot` plus who acts and
// what it waits for), replaces it through these functions and carries it whole
// across continue-as-new; activities use `openedView` to write the first
// mirror row. No Temporal here, so every transition is unit-testable on its own.
import { suggestWithout } from './distribution';
import { cancelProblem, type RuleProblem } from './rules';
import type {
  Actor,
  Deletion,
  Distribution,
  LabelItem,
  RoutingItem,
  StartBlockerCode,
  Step,
  Visibility,
} from './schemas';

/** What a wizard is started with. Dates are ISO strings (payload-safe). */
export interface WizardInput {
  deletionId: string;
  workspaceId: string;
  userId: string;
  source: Deletion['source'];
  actor: Actor;
  reason: string | null;
  /** HR: when the user actually leaves; until then SUSPENDED, then PENDING_DELETION. */
  effectiveAt: string | null;
}

/** An automation or integration naming the user, as read: its distribution, and which other members nobody may pick now. */
export interface RoutingContents {
  id: string;
  name: string;
  current: Distribution;
  /** Members other than the user who are not ACTIVE (being deleted, suspended): never suggested. */
  unavailable?: string[];
}

/** What the database says when the wizard opens (see activities `openDeletion`). */
export interface OpenedContext {
  user: { id: string; name: string; email: string };
  leadsTotal: number;
  automations: RoutingContents[];
  integrations: RoutingContents[];
  labels: { id: string; name: string; visibility: Visibility }[];
  startedAt: string;
}

export type Phase =
  /** The opening activity has not finished. */
  | 'OPENING'
  /** Waiting for the admin at `view.step`. */
  | 'WAITING'
  /** Step 1's bulk move is running. */
  | 'MOVING'
  /** CONFIRM accepted: final sweep and removal running. */
  | 'CONFIRMING'
  /** Cancel accepted: stopping the move, restoring the user. */
  | 'CANCELLING'
  /** COMPLETED, CANCELLED or FAILED. */
  | 'FINISHED';

export interface WizardSnapshot {
  input: WizardInput;
  view: Deletion;
  phase: Phase;
  /** False until `effectiveAt` has passed (always true without one). */
  effective: boolean;
  /**
   * When the user leaves, once a later offboarding brought HR's `effectiveAt`
   * forward (`broughtForward`); absent until then.
   */
  leavesAt?: string;
  /**
   * How many times the view was mirrored (each save carries it; the row keeps
   * the highest, so an earlier save landing late changes nothing). Absent in
   * snapshots carried over by older code: 0.
   */
  version?: number;
}

/** Everything the workflow keeps; continue-as-new carries it whole. */
export interface WizardState extends WizardSnapshot {
  /** Who submitted step 1 (the move runs after that update has returned). */
  leadsActor: Actor;
  /** Who confirmed; null before CONFIRM. */
  confirmedBy: Actor | null;
  /** An update is between its validator and its last write: every other change is refused. */
  applying: boolean;
  /** A cancel waits for that update, or for the opening (`cancelWaits`): another cancel is refused. */
  cancelWaiting: boolean;
  /** An operator asked to try again the work the database refused (see `attention`). */
  retryRequested: boolean;
  /** Why the wizard could not open (the refusal `waitOpened` answers with). */
  openRefusal: string | null;
  /** Its code, when the rule that refused has one (TOO_BIG: HR and identity providers act on it). Absent in older states. */
  openRefusalCode?: StartBlockerCode;
}

/** What continue-as-new hands over: older code carried only the snapshot. */
export type CarriedState = WizardSnapshot & Partial<Omit<WizardState, keyof WizardSnapshot>>;

/**
 * The state a run starts with: a fresh one, or the carried one with each
 * field older code did not carry at the default it ran with. No update is
 * in flight at a continue-as-new, so `applying` and `cancelWaiting` start false.
 */
export function resumedState(input: WizardInput, carried: CarriedState | undefined, now: string): WizardState {
  return {
    leadsActor: input.actor,
    confirmedBy: null,
    retryRequested: false,
    openRefusal: null,
    ...(carried ?? initialSnapshot(input, now)),
    applying: false,
    cancelWaiting: false,
  };
}

/**
 * The one guard every change passes first: nothing changes while the wizard
 * opens, or while another change (a step, a confirm, a cancel) is applied.
 * The message says which. A cancel waits instead where it can (`cancelWaits`,
 * `cancelRefusal`).
 */
export function changeInProgressProblem(state: WizardState): RuleProblem | null {
  const busy = (message: string): RuleProblem => ({ kind: 'StepConflict', message });
  if (state.phase === 'OPENING') return busy('The wizard is still opening; try again in a moment.');
  if (state.phase === 'CANCELLING') return { kind: 'StepConflict', message: 'This wizard is being cancelled.', code: 'CANCELLING' };
  if (state.phase === 'CONFIRMING') return busy('This deletion is being confirmed; it can no longer be changed or cancelled.');
  if (state.applying) return busy('Another change to this wizard is being applied; reload and try again in a moment.');
  return null;
}

/**
 * A cancel sent while the wizard opens or while a step is being applied is
 * not refused: it waits for them, then is checked again (`cancelRefusal`),
 * because before CONFIRM a wizard can always be cancelled (api.md). A confirm
 * being applied may still win: once CONFIRMING, the cancel is refused.
 */
export function cancelWaits(state: WizardState): boolean {
  return state.phase === 'OPENING' || (state.applying && (state.phase === 'WAITING' || state.phase === 'MOVING'));
}

/**
 * Why a cancel is refused now; null when it may go ahead, or wait
 * (`cancelWaits`) and be checked again. One cancel waits at a time: a second
 * would only be told, later, that the wizard is being cancelled.
 */
export function cancelRefusal(state: WizardState): RuleProblem | null {
  if (state.cancelWaiting) {
    return {
      kind: 'StepConflict',
      message: 'Another cancel is already waiting for the change being applied; read the wizard in a moment.',
      code: 'CANCELLING',
    };
  }
  return (cancelWaits(state) ? null : changeInProgressProblem(state)) ?? cancelProblem({ status: state.view.status, step: state.view.step });
}

export const STEP_ORDER: readonly Step[] = ['LEADS', 'AUTOMATIONS', 'INTEGRATIONS', 'LABELS', 'CONFIRM', 'DONE'];

export function nextStep(step: Step): Step {
  const i = STEP_ORDER.indexOf(step);
  return STEP_ORDER[Math.min(i + 1, STEP_ORDER.length - 1)]!;
}

export function deletionWorkflowId(workspaceId: string, userId: string): string {
  return `deletion-${workspaceId}-${userId}`;
}

/** The workspace a wizard's workflow id names (`deletionWorkflowId`; ids hold no '-'), or null for any other id. */
export function workspaceOfWorkflowId(workflowId: string | undefined): string | null {
  return /^deletion-([^-]+)-[^-]+$/.exec(workflowId ?? '')?.[1] ?? null;
}

function routingItem(entry: RoutingContents, userId: string): RoutingItem {
  const suggested = suggestWithout(entry.current, userId, new Set(entry.unavailable));
  return {
    id: entry.id,
    name: entry.name,
    current: entry.current,
    suggested,
    requiresReplacement: suggested === null,
    applied: null,
  };
}

/**
 * An item of a routing step as it is now, not as the wizard listed it: what
 * the step shows and what `{overrides: []}` applies (activities
 * `applyRouting`, and the API's reads at that step). `now` is the item read
 * again (undefined: deleted meanwhile, nothing left to do). One that no longer
 * names the user (another leaver's wizard, an admin, changed it) is left as it
 * is: its suggestion is what it routes to. Otherwise the suggestion is made
 * from what it routes to now, without the user and members who may not be
 * picked; where nobody is left, it requires a replacement.
 */
export function routingNow(listed: RoutingItem, now: RoutingContents | undefined, userId: string): RoutingItem {
  if (!now) return { ...listed, suggested: null, requiresReplacement: false };
  if (!now.current.some((member) => member.userId === userId)) {
    return { ...listed, name: now.name, current: now.current, suggested: now.current, requiresReplacement: false };
  }
  return { ...routingItem(now, userId), applied: listed.applied };
}

/** The first full view, once the opening activity has read the database. */
export function openedView(input: WizardInput, ctx: OpenedContext, now: string): Deletion {
  return {
    id: input.deletionId,
    workflowId: deletionWorkflowId(input.workspaceId, input.userId),
    status: 'IN_PROGRESS',
    step: 'LEADS',
    user: ctx.user,
    source: input.source,
    reason: input.reason,
    startedAt: ctx.startedAt,
    effectiveAt: input.effectiveAt,
    updatedAt: now,
    attention: null,
    leads: { total: ctx.leadsTotal, moved: 0, swept: 0, state: 'PENDING', distribution: null },
    automations: ctx.automations.map((a) => routingItem(a, input.userId)),
    integrations: ctx.integrations.map((i) => routingItem(i, input.userId)),
    labels: ctx.labels.map(
      (l): LabelItem => ({ id: l.id, name: l.name, visibility: l.visibility, replacementUserId: null, applied: false }),
    ),
  };
}

/** Before the database has been read: enough for a query to answer. */
export function initialSnapshot(input: WizardInput, now: string): WizardSnapshot {
  return {
    input,
    phase: 'OPENING',
    effective: !input.effectiveAt || Date.parse(input.effectiveAt) <= Date.parse(now),
    view: {
      id: input.deletionId,
      workflowId: deletionWorkflowId(input.workspaceId, input.userId),
      status: 'IN_PROGRESS',
      step: 'LEADS',
      user: { id: input.userId, name: '', email: '' },
      source: input.source,
      reason: input.reason,
      startedAt: now,
      effectiveAt: input.effectiveAt,
      updatedAt: now,
      attention: null,
      leads: { total: 0, moved: 0, swept: 0, state: 'PENDING', distribution: null },
      automations: [],
      integrations: [],
      labels: [],
    },
  };
}

function touch<S extends WizardSnapshot>(s: S, view: Partial<Deletion>, now: string, phase: Phase = s.phase): S {
  return { ...s, phase, view: { ...s.view, ...view, updatedAt: now } };
}

/**
 * What a wizard's update answers: which wizard, its status and step. An
 * answer written before this was the whole view, which has these too.
 */
export interface WizardAck {
  id: string;
  status: Deletion['status'];
  step: Deletion['step'];
}

export function ackOf(view: Deletion): WizardAck {
  return { id: view.id, status: view.status, step: view.step };
}

export function opened<S extends WizardSnapshot>(s: S, view: Deletion): S {
  return { ...s, phase: 'WAITING', view };
}

/** When the user leaves: HR's `effectiveAt`, or the earlier time a later offboarding brought it forward to. */
export function leavesAt(s: WizardSnapshot): string | null {
  return s.leavesAt ?? s.input.effectiveAt;
}

/**
 * A later offboarding says the user leaves at `at` (or now): the wait for
 * HR's date ends then, if that is sooner. Never later; nothing once effective.
 */
export function broughtForward<S extends WizardSnapshot>(s: S, at: string): S {
  const current = leavesAt(s);
  if (s.effective || current === null || Date.parse(at) >= Date.parse(current)) return s;
  const iso = new Date(Date.parse(at)).toISOString();
  return { ...s, leavesAt: iso, view: { ...s.view, effectiveAt: iso } };
}

export function becameEffective<S extends WizardSnapshot>(s: S): S {
  return { ...s, effective: true };
}

export function moveStarted<S extends WizardSnapshot>(s: S, distribution: Distribution, total: number, now: string): S {
  return touch(s, { leads: { ...s.view.leads, total, moved: 0, state: 'MOVING', distribution } }, now, 'MOVING');
}

export function moveProgressed<S extends WizardSnapshot>(s: S, moved: number, now: string): S {
  return touch(s, { leads: { ...s.view.leads, moved } }, now);
}

/** The move finished (or stopped for a cancel): the wizard goes on to AUTOMATIONS unless cancelling. */
export function moveFinished<S extends WizardSnapshot>(s: S, moved: number, now: string): S {
  const leads = { ...s.view.leads, moved, state: 'DONE' as const };
  if (s.phase === 'CANCELLING') return touch(s, { leads }, now);
  return touch(s, { leads, step: 'AUTOMATIONS' }, now, 'WAITING');
}

export function routingApplied<S extends WizardSnapshot>(
  s: S,
  kind: 'automations' | 'integrations',
  applied: { id: string; distribution: Distribution }[],
  now: string,
  /** Items that had changed since the wizard listed them, as they were when the step applied (`routingNow`). */
  shown: readonly RoutingItem[] = [],
): S {
  return touch(s, { [kind]: routedItems(s.view, kind, applied, shown), step: nextStep(s.view.step) }, now, 'WAITING');
}

/**
 * A routing step's items once it applied `applied` (those changed since the
 * wizard listed them as `shown`): what `routingApplied` leaves in the view,
 * and what the step's transaction weighs before it writes (activities `applyRouting`).
 */
export function routedItems(
  view: Deletion,
  kind: 'automations' | 'integrations',
  applied: readonly { id: string; distribution: Distribution }[],
  shown: readonly RoutingItem[] = [],
): RoutingItem[] {
  const byId = new Map(applied.map((a) => [a.id, a.distribution]));
  const asApplied = new Map(shown.map((item) => [item.id, item]));
  return view[kind].map((item) => ({ ...(asApplied.get(item.id) ?? item), applied: byId.get(item.id) ?? null }));
}

export function labelsApplied<S extends WizardSnapshot>(
  s: S,
  replacements: { labelId: string; replacementUserId: string | null }[],
  appliedIds: readonly string[],
  now: string,
): S {
  const replacement = new Map(replacements.map((r) => [r.labelId, r.replacementUserId]));
  const applied = new Set(appliedIds);
  const labels = s.view.labels.map((l) => ({
    ...l,
    replacementUserId: replacement.get(l.id) ?? null,
    applied: applied.has(l.id),
  }));
  return touch(s, { labels, step: 'CONFIRM' }, now, 'WAITING');
}

export function confirmAccepted<S extends WizardSnapshot>(s: S, now: string): S {
  return touch(s, {}, now, 'CONFIRMING');
}

export function sweepProgressed<S extends WizardSnapshot>(s: S, swept: number, now: string): S {
  return touch(s, { leads: { ...s.view.leads, swept } }, now);
}

export function completed<S extends WizardSnapshot>(s: S, swept: number, now: string): S {
  return touch(s, { status: 'COMPLETED', step: 'DONE', attention: null, leads: { ...s.view.leads, swept } }, now, 'FINISHED');
}

export function cancelRequested<S extends WizardSnapshot>(s: S, now: string): S {
  return touch(s, {}, now, 'CANCELLING');
}

export function cancelled<S extends WizardSnapshot>(s: S, now: string): S {
  return { ...s, phase: 'FINISHED', view: cancelledView(s.view, now) };
}

/**
 * The view once cancelled: what `cancelled` leaves, and what the API writes
 * for a wizard whose workflow Temporal ended without it (client `cancelOrphan`).
 */
export function cancelledView(view: Deletion, now: string): Deletion {
  const leads = view.leads.state === 'MOVING' ? { ...view.leads, state: 'DONE' as const } : view.leads;
  return { ...view, status: 'CANCELLED', attention: null, leads, updatedAt: now };
}

/** Work the database refuses for good: the wizard stays where it is and says why (the first `since` is kept). */
export function attentionNeeded<S extends WizardSnapshot>(s: S, reason: string, now: string): S {
  const since = s.view.attention?.since ?? now;
  return touch(s, { attention: { reason, since } }, now);
}

/** The work went through: nothing needs attention any more. */
export function attentionCleared<S extends WizardSnapshot>(s: S, now: string): S {
  return touch(s, { attention: null }, now);
}

/**
 * Text the database can store whatever was sent: each lone surrogate and NUL
 * written out as `\uXXXX` (what JSON would show), everything else as is.
 */
export function storableText(text: string): string;
export function storableText(text: string | null): string | null;
export function storableText(text: string | null): string | null {
  if (text === null) return null;
  return text.replace(
    /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function failed<S extends WizardSnapshot>(s: S, now: string): S {
  return touch(s, { status: 'FAILED' }, now, 'FINISHED');
}

/** The step-1 choice, for the final sweep at confirm. */
export function leadChoice(s: WizardSnapshot): Distribution | null {
  return s.view.leads.distribution;
}
