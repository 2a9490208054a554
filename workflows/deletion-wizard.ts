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
  metricMeter,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { AcknowledgementActivities, WizardActivities as Activities } from '../activities';
import { FAILURE_TYPES, refusalFailure, refusalOf } from '../domain/refusal';
import {
  confirmationProblem,
  labelsStepProblem,
  leadsChoice,
  leadsStepProblem,
  resolveRouting,
  routingOverrides,
  routingOverridesProblem,
  stepProblem,
  type RuleProblem,
} from '../domain/rules';
import type {
  Actor,
  AutomationsStepBody,
  CancelBody,
  ConfirmBody,
  Deletion,
  IntegrationsStepBody,
  LabelsStepBody,
  LeadsStepBody,
  Step,
} from '../domain/schemas';
import { DeletionStatus, DeletionStep, DeletionUserId, DeletionWorkspaceId } from '../domain/search-attributes';
import * as wizardState from '../domain/wizard-state';
import { stepSizeProblem } from '../domain/wizard-size';
import {
  acknowledgementTaskQueue,
  bringForward,
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
  type Target,
} from './definitions';

/** Short database transactions: retried with backoff until the database answers. */
const TRANSACTION_OPTIONS: Pick<ActivityOptions, 'startToCloseTimeout' | 'retry'> = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [FAILURE_TYPES.RuleViolation] },
};
/** As activities of their own: each a round trip through the server (histories recorded before local ones). */
const remoteTransactions = proxyActivities<Activities>(TRANSACTION_OPTIONS);
/**
 * As local activities: run by the worker inside the workflow task that asks
 * for them, with their result recorded in the history all the same. A step's
 * transaction and the mirror of its view then cost no task of their own.
 */
const localTransactions = proxyLocalActivities<Activities>({
  ...TRANSACTION_OPTIONS,
  // Retries more than a few seconds apart wait on a durable timer, not inside one long workflow task
  // (which would hold back the wizard's updates and add to its history every few seconds).
  localRetryThreshold: '5 seconds',
});

type Transactions = typeof remoteTransactions;

/**
 * The bulk move: each call moves leads in batches for up to a few seconds,
 * heartbeating its cursor; a retry (crash, timeout) resumes from the cursor
 * committed with the last batch. Cancelling waits for the current turn (at most
 * LEAD_MOVE_TURN_MS and a batch; closing the streams in the database stops it after its batch).
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

/**
 * Lets the task accepting an update complete before the update writes
 * (PATCH.acceptedByActivity): a no-op activity on a queue of its own,
 * scheduled by that very task. Once it has ended, however it ended, that task
 * is on record: so it is waited for at most 3 s (no worker polling its queue,
 * say), then the update goes on all the same, and the step still answers
 * within the API's 10 s. A worker killed while holding it costs one short
 * timeout, not a transaction's two minutes.
 */
async function acknowledged(what: 'update' | 'end' = 'update'): Promise<void> {
  const { acknowledgeUpdate } = proxyActivities<AcknowledgementActivities>({
    taskQueue: acknowledgementTaskQueue(workflowInfo().taskQueue),
    scheduleToCloseTimeout: '3 seconds',
    startToCloseTimeout: '2 seconds',
    retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '1 second' },
  });
  try {
    await acknowledgeUpdate();
  } catch (err) {
    if (isCancellation(err)) throw err;
    if (what === 'end') {
      log.warn('The no-op before the end did not run; the run ends anyway', { error: String(err) });
      return;
    }
    log.warn('The acknowledgement of an update did not run; the update goes on', { error: String(err) });
    // Counted where the worker's metrics are scraped (the SDK core's; not on replay): each one is a
    // step answered up to 3 s late, and a run of them means nobody serves the acknowledgement queue.
    // (The SDK marks its workflow metric API experimental; a sink call, no command: no history change.)
    metricMeter
      .createCounter(
        'crm_update_acknowledgements_missed',
        undefined,
        'Updates that went on without their acknowledgement no-op (it did not end within 3 s): each answered up to 3 s late.',
      )
      .add(1);
  }
}

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
  /** The short transactions run as local activities (a layoff's hundred wizards on one small server). */
  localTransactions: 'short-transactions-as-local-activities',
  /**
   * The workflow ends in a task of its own, never in the one that answers an
   * update: the server refuses to end a workflow when an event arrived during
   * the task (a move's slice finishing after a cancel), and with that task it
   * would fail the update's answer too (temporalio/temporal#7296).
   */
  endApart: 'end-in-a-task-of-its-own',
  /**
   * An update writes nothing before the server has recorded it as accepted:
   * its handler first lets the task that accepts it complete. Otherwise its
   * local transactions run in that very task, and if the task is lost (timed
   * out under load) and the server lets go of the update, what they wrote
   * (a move begun, the view saying MOVING) stays while the workflow never
   * had the step: a wizard "moving" for good (seen at 1,000 wizards at once).
   */
  acceptedFirst: 'update-accepted-before-it-writes',
  /**
   * The same, with a no-op activity in place of the 1-ms timer, which the
   * server fired late (measured: 0.97 to 1.07 s, 100 of 100 in a layoff run;
   * 0.88 to 0.97 s for each step of one wizard): steps answered a second
   * later. An activity is handed to a worker as soon as the task that
   * accepts the update completes. A wizard whose history holds the timer
   * replays it there, and takes the no-op from its next update on.
   */
  acceptedByActivity: 'update-accepted-before-it-writes-by-activity',
  /**
   * A cancel sent while the wizard opens or while a step is being applied
   * waits for it, then is checked again, instead of being refused (409) and
   * left to the caller to send again (`wizardState.cancelWaits`). Before it,
   * the validator refused such a cancel, so no history holds one.
   */
  cancelWaits: 'cancel-waits-for-the-change-being-applied',
  /**
   * The run ends in a task of its own (PATCH.endApart) after the same no-op
   * as an update's acknowledgement, not after a 1-ms timer, which the server
   * fired about a second late: the run closed a second after the wizard
   * ended, and a new wizard of the same user (an HR offboarding right after
   * a cancel) waited for that close.
   */
  endApartByActivity: 'end-in-a-task-of-its-own-by-activity',
  /**
   * The wait for HR's `effectiveAt` ends sooner when a later offboarding
   * brings the date forward (`bringForward`): the timer is set again for the
   * new time. Before it, the wait was one timer for the first date, and a
   * wizard waited for it whoever said the user had left since.
   */
  bringForward: 'effective-date-brought-forward',
  /**
   * A search attribute is upserted only when its value changes (`upsertChanged`):
   * a view saved with the step and status the wizard already carries (a move
   * begun, `attention` set or cleared) and an opening whose workspace and user
   * the start already set upsert nothing. Each upsert is a command, an event
   * and a write to the server's visibility store, and a layoff's hundred lead
   * steps each saved one that changed nothing. Histories recorded before it
   * replay their upserts.
   */
  unchangedSearchAttributes: 'search-attributes-upserted-only-when-changed',
} as const;

/** How long one move activity runs before reporting progress to the workflow. */
const MOVE_SLICE_MS = 2_000;

function now(): string {
  return new Date().toISOString();
}

/**
 * An activity's business refusal, or the database's refusal for good of the
 * input, becomes the update's refusal (422 with the reason); anything else
 * stays a failure.
 */
function asRefusal(err: unknown): never {
  const refusal = refusalOf(err);
  if (refusal && refusal.kind !== FAILURE_TYPES.StepConflict) {
    throw refusalFailure({ kind: FAILURE_TYPES.RuleViolation, message: refusal.message });
  }
  throw err;
}

/**
 * The reason the database gave when it refused an activity's work for good
 * (with `rules`, also a business rule's refusal); null for any other failure.
 */
function refusedForGood(err: unknown, rules = false): string | null {
  const refusal = refusalOf(activityCause(err));
  if (refusal?.kind === FAILURE_TYPES.DatabaseRefused) return refusal.message;
  return rules && refusal?.kind === FAILURE_TYPES.RuleViolation ? refusal.message : null;
}

/**
 * The ApplicationFailure an activity failed with: the cause of an
 * ActivityFailure, or the failure itself (a local activity's failure reaches
 * the workflow unwrapped, temporalio/sdk-rust#323); undefined otherwise.
 */
function activityCause(err: unknown): ApplicationFailure | undefined {
  if (err instanceof ActivityFailure) return err.cause instanceof ApplicationFailure ? err.cause : undefined;
  return err instanceof ApplicationFailure ? err : undefined;
}

export async function deletionWizard(input: wizardState.WizardInput, carried?: wizardState.CarriedState): Promise<Deletion> {
  const wizard = new DeletionWizard(input, wizardState.resumedState(input, carried, now()));
  setHandler(getDeletion, () => wizard.deletion());
  setHandler(waitOpened, () => wizard.waitOpened());
  // Each validator first refuses what was meant for another wizard of the user (StepInput.deletionId).
  setHandler(retry, () => wizard.retry(), { validator: (target?: Target) => (wizard.validateTarget(target), wizard.validateRetry()) });
  setHandler(bringForward, (update) => wizard.bringForward(update), {
    validator: (update) => (wizard.validateTarget(update), wizard.validateBringForward(update)),
  });
  setHandler(submitLeads, (update) => wizard.submitLeads(update), { validator: (update) => (wizard.validateTarget(update), wizard.validateLeads(update)) });
  setHandler(submitAutomations, (update) => wizard.submitRouting('automations', update), {
    validator: (update) => (wizard.validateTarget(update), wizard.validateRouting('automations', update)),
  });
  setHandler(submitIntegrations, (update) => wizard.submitRouting('integrations', update), {
    validator: (update) => (wizard.validateTarget(update), wizard.validateRouting('integrations', update)),
  });
  setHandler(submitLabels, (update) => wizard.submitLabels(update), { validator: (update) => (wizard.validateTarget(update), wizard.validateLabels(update)) });
  setHandler(confirm, (update) => wizard.confirm(update), { validator: (update) => (wizard.validateTarget(update), wizard.validateConfirm(update)) });
  // The validator declares the update's whole argument tuple (TypeScript overloads need it).
  setHandler(cancel, (update) => wizard.cancel(update), {
    validator: (update: StepInput<CancelBody>) => (wizard.validateTarget(update), wizard.validateCancel()),
  });
  return wizard.run();
}

/** One wizard: its state (one object, carried by continue-as-new), its handlers and its main body. */
class DeletionWizard {
  /** The running lead move, so a cancel can stop it (a runtime handle, never carried). */
  private moveScope: CancellationScope | undefined;
  /** The end of the line of local transactions: each starts when the one before it has ended. */
  private lane: Promise<unknown> = Promise.resolve();
  private laned: Transactions | undefined;

  constructor(
    private readonly input: wizardState.WizardInput,
    private state: wizardState.WizardState,
  ) {}

  /**
   * The short transactions, the way this wizard runs them: as local
   * activities one at a time (PATCH.localTransactions), else as activities of
   * their own. One at a time, in the order asked: a step's handler and the
   * main body never have two in flight together, so a history replays with
   * each result in the same turn as it came (two local results recorded in
   * one task would be handed back together on replay, in another order than
   * the handlers and the main body saw them live).
   */
  private transactions(): Transactions {
    if (!patched(PATCH.localTransactions)) return remoteTransactions;
    this.laned ??= new Proxy(localTransactions, {
      get: (local, name) => {
        // Only activity names are calls (not `then`, nor a symbol: the proxy is no promise).
        if (typeof name !== 'string' || name === 'then') return undefined;
        return (args: never) => {
          const result = this.lane.then(() => (local[name as keyof Transactions] as (a: never) => Promise<unknown>)(args));
          this.lane = result.catch(() => undefined);
          return result;
        };
      },
    });
    return this.laned;
  }

  // ---- queries and validators ----------------------------------------------
  /** Snapshots carried over from before `attention` existed have none: null. */
  deletion(): Deletion {
    return { ...this.state.view, attention: this.state.view.attention ?? null };
  }

  /** Refuses an update meant for another wizard of the same user (StepInput.deletionId); one that names none is this one's. */
  validateTarget(target: Target | undefined): void {
    if (target?.deletionId !== undefined && target.deletionId !== this.input.deletionId) {
      throw refusalFailure({ kind: 'StepConflict', message: 'This was meant for an earlier wizard of this user, which has ended.' });
    }
  }

  validateRetry(): void {
    if (!this.state.view.attention) throw refusalFailure({ kind: 'StepConflict', message: 'Nothing in this wizard is waiting to be tried again.' });
  }

  validateLeads({ body }: StepInput<LeadsStepBody>): void {
    this.validateStep('LEADS');
    refuseIf(leadsStepProblem(this.input.userId, body));
  }

  validateRouting(kind: RoutingKind, { body }: StepInput<AutomationsStepBody | IntegrationsStepBody>): void {
    this.validateStep(kind === 'automations' ? 'AUTOMATIONS' : 'INTEGRATIONS');
    const items = this.state.view[kind];
    const overrides = routingOverrides(body);
    // Which items require a replacement is known from them as they are when the step applies (the
    // activity refuses the step then): the list here is as they were when the wizard opened.
    refuseIf(
      routingOverridesProblem({
        deletedUserId: this.input.userId,
        items,
        overrides,
        what: kind === 'automations' ? 'automation' : 'integration',
      }),
    );
    // The view it would leave (every item applied as chosen) must fit in what the wizard carries (wizard-size.ts).
    // (Validators do not run on replay: histories of updates accepted before this replay as they ran.)
    const next = wizardState.routingApplied(this.state, kind, resolveRouting(items, overrides), this.state.view.updatedAt);
    refuseIf(stepSizeProblem(next.view, this.state.view));
  }

  validateLabels({ body }: StepInput<LabelsStepBody>): void {
    this.validateStep('LABELS');
    const items = this.state.view.labels;
    refuseIf(labelsStepProblem({ deletedUserId: this.input.userId, items, replacements: body.replacements }));
    const next = wizardState.labelsApplied(this.state, body.replacements, items.map((l) => l.id), this.state.view.updatedAt);
    refuseIf(stepSizeProblem(next.view, this.state.view));
  }

  validateBringForward({ effectiveAt }: { actor: Actor; effectiveAt: string | null }): void {
    // Never a time the handler could not read: its task would fail on every try.
    if (effectiveAt !== null && Number.isNaN(Date.parse(effectiveAt))) {
      throw refusalFailure({ kind: 'RuleViolation', message: `effectiveAt ${JSON.stringify(effectiveAt)} is not a time.` });
    }
    if (this.state.phase === 'FINISHED' || this.state.phase === 'CANCELLING') {
      throw refusalFailure({ kind: 'StepConflict', message: `This deletion is already ${this.state.view.status === 'IN_PROGRESS' ? 'being cancelled' : this.state.view.status}.` });
    }
  }

  validateConfirm({ body }: StepInput<ConfirmBody>): void {
    this.validateStep('CONFIRM');
    if (!this.state.effective) {
      throw refusalFailure({
        kind: 'StepConflict',
        message: `The user leaves on ${wizardState.leavesAt(this.state)}; the deletion can be confirmed from then on.`,
      });
    }
    refuseIf(confirmationProblem(body.confirmation));
  }

  validateCancel(): void {
    refuseIf(wizardState.cancelRefusal(this.state));
  }

  private validateStep(step: Step): void {
    refuseIf(wizardState.changeInProgressProblem(this.state));
    refuseIf(stepProblem(this.current(), step));
  }

  private current() {
    return { status: this.state.view.status, step: this.state.view.step, leadsMoving: this.state.phase === 'MOVING' };
  }

  // ---- updates ---------------------------------------------------------------
  /**
   * What an update answers: which wizard, its status and step; never the
   * whole view. Answers are payloads of the workflow task that gives them, and
   * several updates can end in one task (starts joining one opening, say):
   * whole views, each up to what the wizard carries, would add up past what
   * Temporal takes in one task, and the task would fail on every try
   * (domain/wizard-size.ts). Callers read the view from the database.
   * (Histories of updates answered with the view replay as they ran: answers
   * are not compared on replay.)
   */
  private ack(): wizardState.WizardAck {
    return wizardState.ackOf(this.state.view);
  }

  async waitOpened(): Promise<wizardState.WizardAck> {
    await condition(() => this.state.phase !== 'OPENING');
    if (this.state.view.status === 'FAILED') {
      const message = this.state.openRefusal ?? 'The wizard could not open.';
      const code = this.state.openRefusalCode;
      throw refusalFailure({ kind: 'RuleViolation', message, ...(code ? { code } : {}) });
    }
    return this.ack();
  }

  retry(): wizardState.WizardAck | Promise<wizardState.WizardAck> {
    // Only once it is recorded: the main body goes on (and writes) as soon as it sees the request.
    const requested = () => {
      this.state = { ...this.state, retryRequested: true };
      return this.ack();
    };
    const recorded = this.acceptedFirst();
    return recorded ? recorded.then(requested) : requested();
  }

  /** Writes nothing itself: the wait for HR's date (`becomeEffectiveLater`) ends sooner, and marks the user. */
  bringForward({ effectiveAt }: { actor: Actor; effectiveAt: string | null }): wizardState.WizardAck {
    this.state = wizardState.broughtForward(this.state, effectiveAt ?? now());
    return this.ack();
  }

  submitLeads({ actor, body }: StepInput<LeadsStepBody>): Promise<wizardState.WizardAck> {
    return this.exclusive(async () => {
      const distribution = leadsChoice(body);
      this.state = { ...this.state, leadsActor: actor };
      const { total } = await this.transactions().startLeadMove({ ...this.ids(), userId: this.input.userId, kind: 'MOVE', distribution, actor });
      await this.publish(wizardState.moveStarted(this.state, distribution, total, now()));
      return this.ack();
    });
  }

  submitRouting(kind: RoutingKind, { actor, body }: StepInput<AutomationsStepBody | IntegrationsStepBody>): Promise<wizardState.WizardAck> {
    return this.exclusive(async () => {
      // What each item gets is decided as it is when the step applies (activities `applyRouting`).
      const ids = this.state.view[kind].map((item) => item.id);
      const overrides = routingOverrides(body);
      const { applied, shown } = await this.transactions().applyRouting({ ...this.ids(), userId: this.input.userId, kind, ids, overrides, actor });
      await this.publish(wizardState.routingApplied(this.state, kind, applied, now(), shown));
      return this.ack();
    });
  }

  submitLabels({ actor, body }: StepInput<LabelsStepBody>): Promise<wizardState.WizardAck> {
    return this.exclusive(async () => {
      const labelIds = this.state.view.labels.map((label) => label.id);
      const { applied } = await this.transactions().applyLabels({
        ...this.ids(),
        userId: this.input.userId,
        labelIds,
        replacements: body.replacements,
        actor,
      });
      await this.publish(wizardState.labelsApplied(this.state, body.replacements, applied, now()));
      return this.ack();
    });
  }

  confirm({ actor }: StepInput<ConfirmBody>): Promise<wizardState.WizardAck> {
    return this.exclusive(async () => {
      this.state = { ...this.state, confirmedBy: actor };
      await this.publish(wizardState.confirmAccepted(this.state, now()));
      return this.ack();
    });
  }

  async cancel({ actor, body }: StepInput<CancelBody>): Promise<wizardState.WizardAck> {
    if (wizardState.cancelWaits(this.state) && patched(PATCH.cancelWaits)) {
      // Sent while the wizard opens or a step is applied: it goes on once that is done, checked
      // again then (a confirm applied meanwhile wins; so does a failed opening).
      this.state = { ...this.state, cancelWaiting: true };
      try {
        await condition(() => !wizardState.cancelWaits(this.state));
      } finally {
        this.state = { ...this.state, cancelWaiting: false };
      }
      refuseIf(wizardState.cancelRefusal(this.state));
    }
    this.state = wizardState.cancelRequested(this.state, now());
    this.moveScope?.cancel();
    const recorded = this.acceptedFirst();
    if (recorded) await recorded;
    await condition(() => this.moveScope === undefined);
    const args = { ...this.ids(), userId: this.input.userId, actor, moveActor: this.state.leadsActor, reason: body.reason ?? null };
    let result: { moved: number | null };
    try {
      result = await this.transactions().cancelDeletion(args);
    } catch (err) {
      if (refusedForGood(err) === null || !patched(PATCH.cancelReason)) throw err;
      // The database refused the reason as sent (a lone surrogate, a NUL): keep it, written out escaped.
      result = await this.untilItGoesThrough('Cancelling', () =>
        this.transactions().cancelDeletion({ ...args, reason: wizardState.storableText(args.reason) }),
      );
    }
    const stopped = result.moved === null ? this.state : wizardState.moveProgressed(this.state, result.moved, now());
    await this.publish(wizardState.cancelled(stopped, now()));
    return this.ack();
  }

  /** Runs an update's writes one at a time, turning activity refusals into update refusals. */
  private async exclusive<T>(apply: () => Promise<T>): Promise<T> {
    this.state = { ...this.state, applying: true };
    try {
      const recorded = this.acceptedFirst();
      if (recorded) await recorded;
      return await apply();
    } catch (err) {
      asRefusal(err);
    } finally {
      this.state = { ...this.state, applying: false };
    }
  }

  // ---- main body -----------------------------------------------------------
  async run(): Promise<Deletion> {
    const { workspaceId, userId } = this.input;
    if (this.state.phase === 'OPENING') {
      try {
        const view = await this.transactions().openDeletion(this.input);
        upsertChanged([
          { key: DeletionWorkspaceId, value: workspaceId },
          { key: DeletionUserId, value: userId },
        ]);
        await this.publish(wizardState.opened(this.state, view));
      } catch (err) {
        // A rule said no after the caller's own check (a race), or the database refused the input for good:
        // nothing was written; the caller is told why.
        const cause = activityCause(err);
        if (cause) {
          const openRefusal =
            cause.type === FAILURE_TYPES.DatabaseRefused ? `The wizard could not open. ${cause.message}` : cause.message;
          const refusal = refusalOf(cause);
          const openRefusalCode = refusal?.kind === FAILURE_TYPES.RuleViolation ? refusal.code : undefined;
          this.state = { ...this.state, openRefusal, ...(openRefusalCode ? { openRefusalCode } : {}) };
        }
        this.state = wizardState.failed(this.state, now());
        await condition(allHandlersFinished);
        // Not in the task that answers `waitOpened` (the refusal): in one of its own, as every end.
        // Histories of openings refused before this replay without it (neither patch is on record).
        await this.endApart();
        if (cause) return this.state.view;
        throw err;
      }
    }

    if (!this.state.effective) void this.becomeEffectiveLater();

    while (this.state.phase !== 'FINISHED') {
      await condition(
        () =>
          this.state.phase === 'MOVING' ||
          this.state.phase === 'CONFIRMING' ||
          this.state.phase === 'FINISHED' ||
          (workflowInfo().continueAsNewSuggested && !this.state.applying && this.state.phase === 'WAITING'),
      );
      if (this.state.phase === 'MOVING') await this.runLeadMove();
      else if (this.state.phase === 'CONFIRMING') await this.runConfirm();
      else if (this.state.phase === 'WAITING') {
        // History is long (a wizard left open for months): start afresh with the same state.
        await condition(allHandlersFinished);
        if (this.state.phase === 'WAITING' && !this.state.applying) {
          return continueAsNew<typeof deletionWizard>(this.input, this.state);
        }
      }
    }
    await condition(allHandlersFinished);
    await this.endApart();
    return this.state.view;
  }

  /**
   * Lets the task that accepts an update complete before the update writes
   * anything: a no-op activity (PATCH.acceptedByActivity); in a history's
   * updates recorded with the 1-ms timer, that timer (PATCH.acceptedFirst);
   * in those recorded before both, nothing: their handlers go on in the same
   * turn, exactly as they ran. Every update taken live waits for the no-op.
   */
  private acceptedFirst(): Promise<void> | undefined {
    if (patched(PATCH.acceptedByActivity)) return acknowledged();
    return patched(PATCH.acceptedFirst) ? sleep(1) : undefined;
  }

  /**
   * Lets the task that answered the last update complete before the workflow
   * ends: a no-op activity (PATCH.endApartByActivity); in a history that
   * ended with the 1-ms timer, that timer (PATCH.endApart).
   */
  private async endApart(): Promise<void> {
    if (patched(PATCH.endApartByActivity)) return acknowledged('end');
    if (patched(PATCH.endApart)) await sleep(1);
  }

  // ---- the long parts --------------------------------------------------------
  private async moveAll(kind: 'MOVE' | 'SWEEP', onProgress: (moved: number) => void): Promise<number> {
    let batchSize: number | undefined;
    const slices = patched(PATCH.cancelNoWait) ? moverNoWait : mover;
    const what = kind === 'MOVE' ? 'Moving the leads' : 'Sweeping the leads';
    // Who takes a leaver's share of the sweep when no target is left (step 1's move ends there instead).
    const sliceActor = kind === 'MOVE' ? this.state.leadsActor : (this.state.confirmedBy ?? this.input.actor);
    for (;;) {
      const slice = await this.untilItGoesThrough(
        what,
        () => slices.moveLeadsSlice({ ...this.ids(), kind, budgetMs: MOVE_SLICE_MS, batchSize, actor: sliceActor }),
        kind === 'MOVE',
      );
      onProgress(slice.moved);
      if (slice.done) return slice.moved;
      batchSize = slice.batchSize;
    }
  }

  private async runLeadMove(): Promise<void> {
    if (this.state.phase !== 'MOVING') return;
    const scope = new CancellationScope();
    this.moveScope = scope;
    try {
      await scope.run(() => this.moveAll('MOVE', (moved) => (this.state = wizardState.moveProgressed(this.state, moved, now()))));
      const { moved } = await this.untilItGoesThrough(
        'Finishing the lead move',
        () => this.transactions().finishLeadMove({ ...this.ids(), kind: 'MOVE', actor: this.state.leadsActor }),
        true,
      );
      await this.publish(wizardState.moveFinished(this.state, moved, now()));
    } catch (err) {
      // Cancelled: the cancel handler records how far it got. A cancel also wins over whatever the
      // slice did meanwhile (failed, timed out because its worker was killed).
      if (!isCancellation(err) && !((this.state.phase as wizardState.Phase) === 'CANCELLING' && patched(PATCH.cancelWins))) throw err;
    } finally {
      this.moveScope = undefined;
    }
  }

  private async runConfirm(): Promise<void> {
    const actor = this.state.confirmedBy ?? this.input.actor;
    const { userId } = this.input;
    const distribution = wizardState.leadChoice(this.state);
    await this.untilItGoesThrough('Starting the final sweep', () =>
      this.transactions().startLeadMove({ ...this.ids(), userId, kind: 'SWEEP', distribution, actor }),
    );
    await this.moveAll('SWEEP', (swept) => (this.state = wizardState.sweepProgressed(this.state, swept, now())));
    const { moved: swept } = await this.untilItGoesThrough('Finishing the final sweep', () =>
      this.transactions().finishLeadMove({ ...this.ids(), kind: 'SWEEP', actor }),
    );
    const removal = await this.untilItGoesThrough('Removing the user', () =>
      this.transactions().removeUser({ ...this.ids(), userId, actor, fallback: distribution }),
    );
    await this.publish(wizardState.completed(this.state, swept + removal.leadsMovedAtRemoval, now()));
  }

  private async becomeEffectiveLater(): Promise<void> {
    // A durable timer: the wait survives worker restarts and continue-as-new.
    const ending = () => this.state.phase === 'FINISHED' || this.state.phase === 'CANCELLING';
    if (patched(PATCH.bringForward)) {
      if (!(await this.untilLeavesAt(ending))) return;
    } else {
      // A wait begun before PATCH.bringForward. No history of such a wait holds a `bringForward` (the update
      // did not exist), so waking on one replays exactly as they ran; once woken, it waits as the patched loop.
      const first = this.input.effectiveAt!;
      const wait = Math.max(Date.parse(first) - Date.now(), 1);
      const woken = await condition(() => ending() || wizardState.leavesAt(this.state) !== first, wait);
      if (woken && (ending() || !(await this.untilLeavesAt(ending)))) return;
    }
    try {
      await this.untilItGoesThrough(
        'Marking the user as leaving',
        () => this.transactions().markPendingDeletion({ ...this.ids(), userId: this.input.userId }),
        true,
      );
    } catch (err) {
      if (isCancellation(err)) return; // cancelled while the database refused it: the user is ACTIVE again anyway
      throw err;
    }
    this.state = wizardState.becameEffective(this.state);
  }

  /** Waits until the user leaves, the timer set again each time that is brought forward; false when the wizard ends first. */
  private async untilLeavesAt(ending: () => boolean): Promise<boolean> {
    for (;;) {
      const at = wizardState.leavesAt(this.state)!;
      const wait = Math.max(Date.parse(at) - Date.now(), 1);
      const woken = await condition(() => ending() || wizardState.leavesAt(this.state) !== at, wait);
      if (ending()) return false;
      if (!woken) return true;
    }
  }

  /**
   * Background work that must go through. A transient failure is retried by
   * the activity's policy; a permanent refusal sets `attention` with the
   * reason and waits for a `retry`, or, when `cancellable`, a cancel (which
   * ends the wait with a CancelledFailure; inside the move's scope the scope's
   * cancellation does the same); `attention` is cleared once the work goes through.
   */
  private async untilItGoesThrough<T>(what: string, work: () => Promise<T>, cancellable = false): Promise<T> {
    for (;;) {
      try {
        const result = await work();
        if (this.state.view.attention) await this.publish(wizardState.attentionCleared(this.state, now()));
        return result;
      } catch (err) {
        const reason = refusedForGood(err, true);
        if (reason === null || !patched(PATCH.attention)) throw err;
        log.warn('wizard needs attention', { deletionId: this.input.deletionId, what, reason });
        this.state = { ...this.state, retryRequested: false };
        await this.publish(wizardState.attentionNeeded(this.state, `${what}: ${reason}`, now()));
        await condition(() => this.state.retryRequested || (cancellable && this.state.phase === 'CANCELLING'));
        if (!this.state.retryRequested) throw new CancelledFailure(`${what}: cancelled while waiting for a retry`);
      }
    }
  }

  /** Mirrors the view to the database; each save carries a higher version than the one before: the row keeps the newest. */
  private async publish(next: wizardState.WizardState): Promise<void> {
    this.state = { ...next, version: (this.state.version ?? 0) + 1 };
    upsertChanged([
      { key: DeletionStep, value: this.state.view.step },
      { key: DeletionStatus, value: this.state.view.status },
    ]);
    await this.transactions().saveDeletionState({ ...this.ids(), view: this.state.view, version: this.state.version! });
  }

  private ids(): { workspaceId: string; deletionId: string } {
    return { workspaceId: this.input.workspaceId, deletionId: this.input.deletionId };
  }
}

type RoutingKind = 'automations' | 'integrations';

type Keyword = typeof DeletionStep;

/**
 * Sets the wizard's search attributes to these values: only those it does not
 * carry yet (from its start, an earlier upsert, the run before a
 * continue-as-new), none when it carries them all (PATCH.unchangedSearchAttributes).
 */
function upsertChanged(pairs: { key: Keyword; value: string }[]): void {
  const carried = workflowInfo().typedSearchAttributes;
  const changed = pairs.filter(({ key, value }) => carried.get(key) !== value);
  if (changed.length === pairs.length || !patched(PATCH.unchangedSearchAttributes)) {
    upsertSearchAttributes(pairs);
  } else if (changed.length > 0) {
    upsertSearchAttributes(changed);
  }
}

function refuseIf(problem: RuleProblem | null): void {
  if (problem) throw refusalFailure(problem);
}
