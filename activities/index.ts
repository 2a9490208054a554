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
