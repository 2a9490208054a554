// Messages of the deletion wizard, defined once and imported by the workflow
// and by its callers (client/wizard-client.ts, tests): no name typed twice.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type {
  Actor,
  AutomationsStepBody,
  CancelBody,
  ConfirmBody,
  Deletion,
  IntegrationsStepBody,
  LabelsStepBody,
  LeadsStepBody,
} from '../domain/schemas';
import type { WizardAck } from '../domain/wizard-state';

export const WORKFLOW_TYPE = 'deletionWizard';

/**
 * The task queue of the acknowledgement each update waits for before it
 * writes (activities/index.ts): polled by every worker beside its own queue.
 */
export function acknowledgementTaskQueue(taskQueue: string): string {
  return `${taskQueue}${ACKNOWLEDGEMENTS_SUFFIX}`;
}
export const ACKNOWLEDGEMENTS_SUFFIX = '-acknowledgements';

/** Every step input carries who sends it, for the audit trail. */
export interface StepInput<B> {
  actor: Actor;
  body: B;
  /**
   * The wizard it is meant for. Updates go to the user's workflow id, whose
   * newest run may be a later wizard of the same user by the time one is sent
   * again (an answer lost, the first wizard ended, a new one opened): that
   * wizard refuses it (`Target`). Absent from inputs sent before it existed.
   */
  deletionId?: string;
}

/** What `retry` and `bringForward` carry to say which wizard they are meant for (see StepInput.deletionId). */
export interface Target {
  deletionId?: string;
}

/** The whole wizard in api.md's `Deletion` shape. */
export const getDeletion = defineQuery<Deletion>('getDeletion');

/** Waits until the wizard has opened (user marked, lists read); answers which wizard it is. */
export const waitOpened = defineUpdate<WizardAck>('waitOpened');

// Each update answers which wizard, its status and step (WizardAck); the view is read from the database.
export const submitLeads = defineUpdate<WizardAck, [StepInput<LeadsStepBody>]>('submitLeads');
export const submitAutomations = defineUpdate<WizardAck, [StepInput<AutomationsStepBody>]>('submitAutomations');
export const submitIntegrations = defineUpdate<WizardAck, [StepInput<IntegrationsStepBody>]>('submitIntegrations');
export const submitLabels = defineUpdate<WizardAck, [StepInput<LabelsStepBody>]>('submitLabels');
export const confirm = defineUpdate<WizardAck, [StepInput<ConfirmBody>]>('confirm');
export const cancel = defineUpdate<WizardAck, [StepInput<CancelBody>]>('cancel');

/**
 * A later offboarding (HR again, the identity provider) says the user leaves
 * at `effectiveAt`, or now when null: a wizard waiting for HR's date then
 * waits only until that, if it is sooner. Never later; nothing once effective.
 */
export const bringForward = defineUpdate<WizardAck, [{ actor: Actor; effectiveAt: string | null } & Target]>('bringForward');

/**
 * Tries again the work the database refused for good (the wizard shows
 * `attention`), e.g. after an operator fixed the data. Refused when nothing
 * waits. Over HTTP: `POST /v1/deletions/{id}/retry`. (Sent with no argument
 * before `Target` existed: the validator takes that as this wizard's.)
 */
export const retry = defineUpdate<WizardAck, [Target]>('retry');
