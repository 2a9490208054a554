// One durable workflow per deletion wizard (wizard.md). It waits at each step
// for the admin's input (Workflow Updates, refused at once by validators),
// runs the bulk lead move in the background with live progress, and removes
// the user only after CONFIRM. All I/O is in activities; all rules are the
// pure functions of domain/.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
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

/** How long one move activity runs before reporting progress to the workflow. */
const MOVE_SLICE_MS = 2_000;

function refuse(problem: RuleProblem): never {
  throw ApplicationFailure.create({ type: problem.kind, message: problem.message, nonRetryable: true });
}

function now(): string {
  return new Date().toISOString();
}

/** An activity's business refusal becomes the update's refusal; anything else stays a failure. */
function asRefusal(err: unknown): never {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type === FAILURE_TYPES.RuleViolation) {
    throw ApplicationFailure.create({ type: FAILURE_TYPES.RuleViolation, message: cause.message, nonRetryable: true });
  }
  throw err;
}

export async function deletionWizard(input: W.WizardInput, carried?: W.WizardSnapshot): Promise<Deletion> {
  let s: W.WizardSnapshot = carried ?? W.initialSnapshot(input, now());
  /** An update handler is between validation and its last write. */
  let busy = false;
  let moveScope: CancellationScope | undefined;
  /** Who submitted step 1 (the move runs after that update has returned). */
  let leadsActor = input.actor;
  const { workspaceId, userId, deletionId } = input;

  const publish = async (next: W.WizardSnapshot) => {
    s = next;
    upsertSearchAttributes([
      { key: DeletionStep, value: s.view.step },
      { key: DeletionStatus, value: s.view.status },
    ]);
    await db.saveDeletionState({ workspaceId, deletionId, view: s.view });
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
  setHandler(getDeletion, () => s.view);

  setHandler(waitOpened, async () => {
    await condition(() => s.phase !== 'OPENING');
    if (s.view.status === 'FAILED') refuse({ kind: 'RuleViolation', message: 'The wizard could not open.' });
    return s.view;
  });

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
      const result = await db.cancelDeletion({ workspaceId, deletionId, userId, actor, reason: body.reason ?? null });
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
      // A rule said no after the caller's own check (a race): nothing was written.
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
    for (;;) {
      const r = await mover.moveLeadsSlice({ workspaceId, deletionId, kind, budgetMs: MOVE_SLICE_MS, batchSize });
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
      const { moved } = await db.finishLeadMove({ workspaceId, deletionId, kind: 'MOVE', actor: leadsActor });
      await publish(W.moveFinished(s, moved, now()));
    } catch (err) {
      if (!isCancellation(err)) throw err;
      // Cancelled: the cancel handler records how far it got.
    } finally {
      moveScope = undefined;
    }
  }

  async function runConfirm(): Promise<void> {
    const actor = confirmedBy ?? input.actor;
    const distribution = W.leadChoice(s);
    await db.startLeadMove({ workspaceId, deletionId, userId, kind: 'SWEEP', distribution, actor });
    await moveAll('SWEEP', (swept) => (s = W.sweepProgressed(s, swept, now())));
    const { moved: swept } = await db.finishLeadMove({ workspaceId, deletionId, kind: 'SWEEP', actor });
    const removal = await db.removeUser({ workspaceId, deletionId, userId, actor, fallback: distribution });
    await publish(W.completed(s, swept + removal.leadsMovedAtRemoval, now()));
  }

  async function becomeEffectiveLater(): Promise<void> {
    // A durable timer: the wait survives worker restarts and continue-as-new.
    const wait = Math.max(Date.parse(input.effectiveAt!) - Date.now(), 1);
    const ended = await condition(() => s.phase === 'FINISHED' || s.phase === 'CANCELLING', wait);
    if (ended) return;
    await db.markPendingDeletion({ workspaceId, deletionId, userId });
    s = W.becameEffective(s);
  }
}

/** Automation and integration overrides in one shape: `{id, distribution}`. */
function routingOverrides(body: AutomationsStepBody | IntegrationsStepBody): { id: string; distribution: Distribution }[] {
  return body.overrides.map((o) => ({ id: 'automationId' in o ? o.automationId : o.integrationId, distribution: o.distribution }));
}
