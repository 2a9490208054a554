// Every activity of the deletion wizard, bound to one Prisma client. The
// worker registers `createActivities(prisma, …)`; the workflow proxies
// `ReturnType<typeof createActivities>`, so names are never typed twice.
import type { PrismaClient } from '../generated/prisma/client';
import { classifyingDbErrors } from './db-errors';
import { leadMoveActivities } from './lead-move/activities';
import type { MoveTuning } from './lead-move/engine';
import { reassignmentActivities } from './reassignment';
import { wizardRecordActivities } from './wizard-records';

export function createActivities(prisma: PrismaClient, tuning: MoveTuning) {
  // A permanent database refusal is thrown as a non-retryable DatabaseRefused; a transient one is retried.
  return classifyingDbErrors({
    ...wizardRecordActivities(prisma),
    ...leadMoveActivities(prisma, tuning),
    ...reassignmentActivities(prisma),
  });
}

export type WizardActivities = ReturnType<typeof createActivities>;

/**
 * The activities of the acknowledgement queue (workflows/definitions.ts,
 * `acknowledgementTaskQueue`), a queue of their own so that a layoff's move
 * slices, which hold the main queue's activity slots while they wait for
 * their turn, never hold them up.
 */
export const acknowledgementActivities = {
  /**
   * Does nothing. The wizard schedules it in the workflow task that accepts
   * an update, and writes nothing for the update before it is done: by then
   * the server has that task, and the update's acceptance, on record
   * (workflows/deletion-wizard.ts, PATCH.acceptedByActivity).
   */
  async acknowledgeUpdate(): Promise<void> {},
};

export type AcknowledgementActivities = typeof acknowledgementActivities;
