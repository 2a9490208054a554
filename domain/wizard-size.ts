// How much one wizard can carry. Its workflow holds its view (the Deletion:
// every automation, integration and label it lists, with their
// distributions), and Temporal carries that view in payloads: the opening's
// result, a continue-as-new, the run's result. Temporal refuses a payload over
// 2 MB and a workflow task's answer over 4 MB, and a task refused so fails
// the same way on every try: the wizard would be stuck for good, cancel
// included. So a wizard whose view would weigh more than
// WIZARD_VIEW_MAX_BYTES once its steps are taken does not open (the start is
// 422, and the preview says so first), and a step whose choices would make it
// weigh more than STEP_VIEW_MAX_BYTES, or whose body weighs more than
// STEP_BODY_MAX_BYTES, is refused (422); the wizard goes on.
// Updates answer without the view (workflows/deletion-wizard.ts `ack`): many
// of them can end in one task.
// Pure: the opening, the preview, the workflow's validators and the wizard
// client share it.
import type { Deletion } from './schemas';
import type { RuleProblem } from './rules';

/** The most a wizard's view may weigh as it opens, its steps taken as suggested (its JSON, in UTF-8 bytes). */
export const WIZARD_VIEW_MAX_BYTES = 1_000_000;

/**
 * The most a step may leave it weighing: room above WIZARD_VIEW_MAX_BYTES for
 * what the projection does not count (the lead step's distribution, choices
 * somewhat wider than suggested), and still under Temporal's 2 MB.
 */
export const STEP_VIEW_MAX_BYTES = 1_500_000;

/**
 * The most a step's body may weigh to be handed to the wizard at all (an
 * update's argument: Temporal refuses a payload over 2 MB, and the API once
 * answered 503, "try again", to a body that could never go through). The API answers a
 * bigger one itself (api/routes/deletions.ts: what the wizard would say, else
 * 422, `stepBodySizeProblem`); one under it is still checked against STEP_VIEW_MAX_BYTES.
 */
export const STEP_BODY_MAX_BYTES = 1_000_000;

/**
 * A step body over this is sent to its wizard alone (client/wizard-client.ts
 * `sendStep`; another at the same moment is 409): Temporal's worker echoes
 * each update's request in the answer of the task that takes it, and several
 * bodies near STEP_BODY_MAX_BYTES in one task, beside the step's own result,
 * could pass the 4 MB a task's answer may weigh.
 */
export const LONE_STEP_BODY_BYTES = 64_000;

/** The UTF-8 length of `value`'s JSON, counted on the string (no encoded copy of it). */
export function jsonBytes(value: unknown): number {
  const text = JSON.stringify(value) ?? '';
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Rounded up: a weight just over a limit never reads as the limit itself. */
const megabytes = (bytes: number) => (Math.ceil(bytes / 10_000) / 100).toFixed(2);

/**
 * The view as it would be once every step still to come takes what the
 * wizard suggests: each automation and integration not yet applied, applied
 * with its suggestion (its current distribution where it has none: a
 * replacement of about that size), each label not yet applied given a
 * replacement. What is applied stays as it is.
 */
function withSuggestionsTaken(view: Deletion): Deletion {
  const routed = (items: Deletion['automations']) => items.map((item) => ({ ...item, applied: item.applied ?? item.suggested ?? item.current }));
  return {
    ...view,
    automations: routed(view.automations),
    integrations: routed(view.integrations),
    labels: view.labels.map((label) => (label.applied ? label : { ...label, replacementUserId: view.user.id, applied: true })),
  };
}

/** Why a wizard with this view may not open: it would weigh too much once its steps are taken; null when it fits. */
export function openingSizeProblem(view: Deletion): RuleProblem | null {
  const bytes = jsonBytes(withSuggestionsTaken(view));
  if (bytes <= WIZARD_VIEW_MAX_BYTES) return null;
  // No name in it: the refusal is an activity's failure, which the worker logs and Temporal keeps (README: no names in logs).
  return {
    kind: 'RuleViolation',
    code: 'TOO_BIG',
    message:
      `This user's wizard would list ${view.automations.length} automations, ${view.integrations.length} ` +
      `integrations and ${view.labels.length} labels: more than one wizard can carry (${megabytes(bytes)} MB with their ` +
      `names and distributions; at most ${megabytes(WIZARD_VIEW_MAX_BYTES)} MB). Take the user out of some of them ` +
      '(or delete those no longer used), then start again.',
  };
}

/**
 * Why a step body the rules accept is refused all the same: it weighs more
 * than STEP_BODY_MAX_BYTES, which no wizard is handed (a business rule, 422:
 * api.md keeps 413 for bodies over 10 MB); null when it fits.
 */
export function stepBodySizeProblem(bytes: number): RuleProblem | null {
  if (bytes <= STEP_BODY_MAX_BYTES) return null;
  return {
    kind: 'RuleViolation',
    message:
      `These choices weigh ${megabytes(bytes)} MB as a request: more than one wizard can carry (at most ` +
      `${megabytes(STEP_BODY_MAX_BYTES)} MB). Leave out the items whose suggestion you keep, or give smaller distributions.`,
  };
}

/** What a view may weigh whatever was opened: under Temporal's 2 MB payload limit, with room for the rest of a payload. */
const HARD_VIEW_MAX_BYTES = 1_900_000;

/**
 * Why a step may not apply: the view it would leave weighs more than
 * STEP_VIEW_MAX_BYTES, and more than the view before it would with its steps
 * taken as suggested (so a wizard opened before these limits goes on with its
 * suggestions, up to HARD_VIEW_MAX_BYTES); null when it fits.
 */
export function stepSizeProblem(next: Deletion, before: Deletion): RuleProblem | null {
  const bytes = jsonBytes(next);
  if (bytes <= STEP_VIEW_MAX_BYTES) return null;
  if (bytes <= Math.min(jsonBytes(withSuggestionsTaken(before)), HARD_VIEW_MAX_BYTES)) return null;
  return {
    kind: 'RuleViolation',
    message:
      `These choices would make the wizard weigh ${megabytes(bytes)} MB: more than one wizard can carry (at most ` +
      `${megabytes(STEP_VIEW_MAX_BYTES)} MB). Keep the suggested distributions for some items, or give smaller ones.`,
  };
}
