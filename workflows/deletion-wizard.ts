// One durable workflow per deletion wizard (wizard.md). It waits at each step
// for the admin's input (Workflow Updates, refused at once by validators),
// runs the bulk lead move in the background with live progress, and removes
// the user only after CONFIRM. All I/O is in activities; all rules are the
// pure functions of domain/.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { WizardActivities as Activities } from '../activities';
import { FAILURE_TYPES } from '../domain/errors';
import {
  cancelProblem,
  confirmationProblem,
  labelsStepProblem,
  leadsChoice,
  leadsStepProblem,
  resolveRouting,
  routingStepProblem,
  stepProblem,
  type RuleProblem,
} from '../domain/rules';
import type { AutomationsStepBody, CancelBody, Deletion, Distribution, IntegrationsStepBody, Step } from '../domain/schemas';
import { DeletionStatus, DeletionStep, DeletionUserId, DeletionWorkspaceId } from '../domain/search-attributes';
import * as W from '../domain/wizard-state';
import {
  cancel,
  confirm,
  getDeletion,
  retry,
  submitAutomations,
  submitIntegrations,
  submitLabels,
  submitLeads,
  waitOpened,
  type StepInput,
} from './definitions';

/** Short database transactions: retried with backoff until the database answers. */
const db = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [FAILURE_TYPES.RuleViolation] },
});

/**
 * The bulk move: each call moves leads in batches for up to a few seconds,
 * heartbeating its cursor; a retry (crash, timeout) resumes from the cursor
 * committed with the last batch. Cancelling waits for the current batch.
 */
const mover = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * The same, but a cancel does not wait for the slice: the cancel's own
 * transaction closes the streams, which waits for any batch in flight and
 * stops every later one, so nothing moves after it either way. Waiting could
 * take a heartbeat timeout when the worker running the slice was just killed.
 */
const moverNoWait = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: 'TRY_CANCEL',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** Behaviour changes, each taken only by wizards that reach it on this code (older histories replay the old path). */
const PATCH = {
  /** A permanent refusal sets `attention` and waits (for a retry, or a cancel) instead of failing. */
  attention: 'attention-on-permanent-failure',
  /** A cancel wins over whatever the move's slice did meanwhile (failed, timed out). */
  cancelWins: 'cancel-wins-over-move-failure',
  /** A cancel does not wait for a move slice to acknowledge it. */
  cancelNoWait: 'cancel-does-not-wait-for-slice',
  /** A cancel reason the database refuses is stored escaped. */
  cancelReason: 'cancel-reason-stored-escaped',
} as const;

/** How long one move activity runs before reporting progress to the workflow. */
const MOVE_SLICE_MS = 2_000;

function refuse(problem: RuleProblem): never {
  throw ApplicationFailure.create({ type: problem.kind, message: problem.message, nonRetryable: true });
}

function now(): string {
  return new Date().toISOString();
}

/**
 * An activity's business refusal, or the database's refusal for good of the
 * input, becomes the update's refusal (422 with the reason); anything else
 * stays a failure.
 */
function asRefusal(err: unknown): never {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (
    cause instanceof ApplicationFailure &&
    (cause.type === FAILURE_TYPES.RuleViolation || cause.type === FAILURE_TYPES.DatabaseRefused)
  ) {
    throw ApplicationFailure.create({ type: FAILURE_TYPES.RuleViolation, message: cause.message, nonRetryable: true });
  }
  throw err;
}

/**
 * The reason the database gave when it refused an activity's work for good
 * (with `rules`, also a business rule's refusal); null for any other failure.
 */
function refusedForGood(err: unknown, rules = false): string | null {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure)) return null;
  if (cause.type === FAILURE_TYPES.DatabaseRefused) return cause.message;
  return rules && cause.type === FAILURE_TYPES.RuleViolation ? cause.message : null;
}

export async function deletionWizard(input: W.WizardInput, carried?: W.WizardSnapshot): Promise<Deletion> {
  let s: W.WizardSnapshot = carried ?? W.initialSnapshot(input, now());
  /** An update handler is between validation and its last write. */
  let busy = false;
  let moveScope: CancellationScope | undefined;
  /** Who submitted step 1 (the move runs after that update has returned). */
  let leadsActor = input.actor;
  /** Why the wizard could not open (the refusal `waitOpened` answers with). */
  let openRefusal: string | null = null;
  /** An operator asked to try again the work the database refused (see `attention`). */
  let retryRequested = false;
  const { workspaceId, userId, deletionId } = input;

  const publish = async (next: W.WizardSnapshot) => {
    // Each save carries a higher version than the one before: the row keeps the newest.
    s = { ...next, version: (s.version ?? 0) + 1 };
    upsertSearchAttributes([
      { key: DeletionStep, value: s.view.step },
      { key: DeletionStatus, value: s.view.status },
    ]);
    await db.saveDeletionState({ workspaceId, deletionId, view: s.view, version: s.version! });
  };

  /**
   * Background work that must go through. A transient failure is retried by
   * the activity's policy; a permanent refusal sets `attention` with the
   * reason and waits for a `retry`, or, when `cancellable`, a cancel (which
   * ends the wait with a CancelledFailure; inside the move's scope the scope's
   * cancellation does the same); `attention` is cleared once the work goes through.
   */
  const untilItGoesThrough = async <T>(what: string, work: () => Promise<T>, cancellable = false): Promise<T> => {
    for (;;) {
      try {
        const result = await work();
        if (s.view.attention) await publish(W.attentionCleared(s, now()));
        return result;
      } catch (err) {
        const reason = refusedForGood(err, true);
        if (reason === null || !patched(PATCH.attention)) throw err;
        log.warn('wizard needs attention', { deletionId, what, reason });
        retryRequested = false;
        await publish(W.attentionNeeded(s, `${what}: ${reason}`, now()));
        await condition(() => retryRequested || (cancellable && s.phase === 'CANCELLING'));
        if (!retryRequested) throw new CancelledFailure(`${what}: cancelled while waiting for a retry`);
      }
    }
  };

  const current = () => ({
    status: s.view.status,
    step: s.view.step,
    leadsMoving: s.phase === 'MOVING',
  });
  const validateStep = (step: Step) => {
    if (s.phase === 'OPENING') refuse({ kind: 'StepConflict', message: 'The wizard is still opening; try again in a moment.' });
    if (busy || s.phase === 'CANCELLING' || s.phase === 'CONFIRMING') {
      refuse({ kind: 'StepConflict', message: 'Another change to this wizard is being applied; reload and try again.' });
    }
    const problem = stepProblem(current(), step);
    if (problem) refuse(problem);
  };
  /** Runs an update's writes one at a time, turning activity refusals into update refusals. */
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    busy = true;
    try {
      return await fn();
    } catch (err) {
      asRefusal(err);
    } finally {
      busy = false;
    }
  };

  // ---- handlers -----------------------------------------------------------
  // Snapshots carried over from before `attention` existed have none: null.
  setHandler(getDeletion, () => ({ ...s.view, attention: s.view.attention ?? null }));

  setHandler(waitOpened, async () => {
    await condition(() => s.phase !== 'OPENING');
    if (s.view.status === 'FAILED') refuse({ kind: 'RuleViolation', message: openRefusal ?? 'The wizard could not open.' });
    return s.view;
  });

  setHandler(
    retry,
    () => {
      retryRequested = true;
      return s.view;
    },
    {
      validator: () => {
        if (!s.view.attention) refuse({ kind: 'StepConflict', message: 'Nothing in this wizard is waiting to be tried again.' });
      },
    },
  );

  setHandler(
    submitLeads,
    ({ actor, body }) =>
      exclusive(async () => {
        const distribution = leadsChoice(body);
        leadsActor = actor;
        const { total } = await db.startLeadMove({ workspaceId, deletionId, userId, kind: 'MOVE', distribution, actor });
        await publish(W.moveStarted(s, distribution, total, now()));
        return s.view;
      }),
    {
      validator: ({ body }) => {
        validateStep('LEADS');
        const problem = leadsStepProblem(userId, body);
        if (problem) refuse(problem);
      },
    },
  );

  for (const [update, kind, step] of [
    [submitAutomations, 'automations', 'AUTOMATIONS'],
    [submitIntegrations, 'integrations', 'INTEGRATIONS'],
  ] as const) {
    setHandler(
      update as typeof submitAutomations,
      ({ actor, body }) =>
        exclusive(async () => {
          const choices = resolveRouting(s.view[kind], routingOverrides(body));
          const { applied } = await db.applyRouting({ workspaceId, deletionId, userId, kind, choices, actor });
          await publish(W.routingApplied(s, kind, applied, now()));
          return s.view;
        }),
      {
        validator: ({ body }) => {
          validateStep(step);
          const problem = routingStepProblem({
            deletedUserId: userId,
            items: s.view[kind],
            overrides: routingOverrides(body),
            what: kind === 'automations' ? 'automation' : 'integration',
          });
          if (problem) refuse(problem);
        },
      },
    );
  }

  setHandler(
    submitLabels,
    ({ actor, body }) =>
      exclusive(async () => {
        const labelIds = s.view.labels.map((l) => l.id);
        const { applied } = await db.applyLabels({ workspaceId, deletionId, userId, labelIds, replacements: body.replacements, actor });
        await publish(W.labelsApplied(s, body.replacements, applied, now()));
        return s.view;
      }),
    {
      validator: ({ body }) => {
        validateStep('LABELS');
        const problem = labelsStepProblem({ deletedUserId: userId, items: s.view.labels, replacements: body.replacements });
        if (problem) refuse(problem);
      },
    },
  );

  let confirmedBy: W.WizardInput['actor'] | undefined;
  setHandler(
    confirm,
    ({ actor }) =>
      exclusive(async () => {
        confirmedBy = actor;
        await publish(W.confirmAccepted(s, now()));
        return s.view;
      }),
    {
      validator: ({ body }) => {
        validateStep('CONFIRM');
        if (!s.effective) {
          refuse({
            kind: 'StepConflict',
            message: `The user leaves on ${input.effectiveAt}; the deletion can be confirmed from then on.`,
          });
        }
        const problem = confirmationProblem(body.confirmation);
        if (problem) refuse(problem);
      },
    },
  );

  setHandler(
    cancel,
    async ({ actor, body }) => {
      s = W.cancelRequested(s, now());
      moveScope?.cancel();
      await condition(() => moveScope === undefined);
      const args = { workspaceId, deletionId, userId, actor, reason: body.reason ?? null };
      let result: { moved: number | null };
      try {
        result = await db.cancelDeletion(args);
      } catch (err) {
        if (refusedForGood(err) === null || !patched(PATCH.cancelReason)) throw err;
        // The database refused the reason as sent (a lone surrogate, a NUL): keep it, written out escaped.
        result = await untilItGoesThrough('Cancelling', () => db.cancelDeletion({ ...args, reason: W.storableText(args.reason) }));
      }
      await publish(W.cancelled(result.moved === null ? s : W.moveProgressed(s, result.moved, now()), now()));
      return s.view;
    },
    {
      // The validator declares the update's whole argument tuple (TypeScript overloads need it).
      validator: (_input: StepInput<CancelBody>) => {
        if (s.phase === 'OPENING') refuse({ kind: 'StepConflict', message: 'The wizard is still opening; try again in a moment.' });
        if (busy || s.phase === 'CANCELLING' || s.phase === 'CONFIRMING') {
          refuse({ kind: 'StepConflict', message: 'This wizard is already being confirmed or cancelled.' });
        }
        const problem = cancelProblem(current());
        if (problem) refuse(problem);
      },
    },
  );

  // ---- main body ----------------------------------------------------------
  if (s.phase === 'OPENING') {
    try {
      const view = await db.openDeletion(input);
      upsertSearchAttributes([
        { key: DeletionWorkspaceId, value: workspaceId },
        { key: DeletionUserId, value: userId },
      ]);
      await publish(W.opened(s, view));
    } catch (err) {
      // A rule said no after the caller's own check (a race), or the database refused the input for good:
      // nothing was written; the caller is told why.
      const cause = err instanceof ActivityFailure ? err.cause : undefined;
      if (cause instanceof ApplicationFailure) {
        openRefusal =
          cause.type === FAILURE_TYPES.DatabaseRefused ? `The wizard could not open. ${cause.message}` : cause.message;
      }
      s = W.failed(s, now());
      await condition(allHandlersFinished);
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return s.view;
      throw err;
    }
  }

  if (!s.effective) void becomeEffectiveLater();

  while (s.phase !== 'FINISHED') {
    await condition(
      () =>
        s.phase === 'MOVING' ||
        s.phase === 'CONFIRMING' ||
        s.phase === 'FINISHED' ||
        (workflowInfo().continueAsNewSuggested && !busy && s.phase === 'WAITING'),
    );
    if (s.phase === 'MOVING') await runLeadMove();
    else if (s.phase === 'CONFIRMING') await runConfirm();
    else if (s.phase === 'WAITING') {
      // History is long (a wizard left open for months): start afresh with the same state.
      await condition(allHandlersFinished);
      if (s.phase === 'WAITING' && !busy) return continueAsNew<typeof deletionWizard>(input, s);
    }
  }
  await condition(allHandlersFinished);
  return s.view;

  // ---- the long parts -----------------------------------------------------
  async function moveAll(kind: 'MOVE' | 'SWEEP', onProgress: (moved: number) => void): Promise<number> {
    let batchSize: number | undefined;
    const slices = patched(PATCH.cancelNoWait) ? moverNoWait : mover;
    const what = kind === 'MOVE' ? 'Moving the leads' : 'Sweeping the leads';
    // Who takes a leaver's share when no target is left.
    const sliceActor = kind === 'MOVE' ? leadsActor : (confirmedBy ?? input.actor);
    for (;;) {
      const r = await untilItGoesThrough(
        what,
        () => slices.moveLeadsSlice({ workspaceId, deletionId, kind, budgetMs: MOVE_SLICE_MS, batchSize, actor: sliceActor }),
        kind === 'MOVE',
      );
      onProgress(r.moved);
      if (r.done) return r.moved;
      batchSize = r.batchSize;
    }
  }

  async function runLeadMove(): Promise<void> {
    if (s.phase !== 'MOVING') return;
    const scope = new CancellationScope();
    moveScope = scope;
    try {
      await scope.run(() => moveAll('MOVE', (moved) => (s = W.moveProgressed(s, moved, now()))));
      const { moved } = await untilItGoesThrough(
        'Finishing the lead move',
        () => db.finishLeadMove({ workspaceId, deletionId, kind: 'MOVE', actor: leadsActor }),
        true,
      );
      await publish(W.moveFinished(s, moved, now()));
    } catch (err) {
      // Cancelled: the cancel handler records how far it got. A cancel also wins over whatever the
      // slice did meanwhile (failed, timed out because its worker was killed).
      if (!isCancellation(err) && !((s.phase as W.Phase) === 'CANCELLING' && patched(PATCH.cancelWins))) throw err;
    } finally {
      moveScope = undefined;
    }
  }

  async function runConfirm(): Promise<void> {
    const actor = confirmedBy ?? input.actor;
    const distribution = W.leadChoice(s);
    await untilItGoesThrough('Starting the final sweep', () =>
      db.startLeadMove({ workspaceId, deletionId, userId, kind: 'SWEEP', distribution, actor }),
    );
    await moveAll('SWEEP', (swept) => (s = W.sweepProgressed(s, swept, now())));
    const { moved: swept } = await untilItGoesThrough('Finishing the final sweep', () =>
      db.finishLeadMove({ workspaceId, deletionId, kind: 'SWEEP', actor }),
    );
    const removal = await untilItGoesThrough('Removing the user', () =>
      db.removeUser({ workspaceId, deletionId, userId, actor, fallback: distribution }),
    );
    await publish(W.completed(s, swept + removal.leadsMovedAtRemoval, now()));
  }

  async function becomeEffectiveLater(): Promise<void> {
    // A durable timer: the wait survives worker restarts and continue-as-new.
    const wait = Math.max(Date.parse(input.effectiveAt!) - Date.now(), 1);
    const ended = await condition(() => s.phase === 'FINISHED' || s.phase === 'CANCELLING', wait);
    if (ended) return;
    try {
      await untilItGoesThrough('Marking the user as leaving', () => db.markPendingDeletion({ workspaceId, deletionId, userId }), true);
    } catch (err) {
      if (isCancellation(err)) return; // cancelled while the database refused it: the user is ACTIVE again anyway
      throw err;
    }
    s = W.becameEffective(s);
  }
}

/** Automation and integration overrides in one shape: `{id, distribution}`. */
function routingOverrides(body: AutomationsStepBody | IntegrationsStepBody): { id: string; distribution: Distribution }[] {
  return body.overrides.map((o) => ({ id: 'automationId' in o ? o.automationId : o.integrationId, distribution: o.distribution }));
}
