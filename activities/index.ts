// Every activity of the deletion wizard, bound to one Prisma client. The
// worker registers `createActivities(prisma, …)`; the workflow proxies
// `ReturnType<typeof createActivities>`, so names are never typed twice.
import type { PrismaClient } from '../generated/prisma/client';
import { leadMoveActivities } from './lead-move';
import { reassignmentActivities } from './reassignment';
import { wizardRecordActivities } from './wizard-records';

export function createActivities(db: PrismaClient, opts: { batchSize: number }) {
  return {
    ...wizardRecordActivities(db),
    ...leadMoveActivities(db, opts),
    ...reassignmentActivities(db),
  };
}

export type WizardActivities = ReturnType<typeof createActivities>;
