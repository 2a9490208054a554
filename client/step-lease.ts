// One large step body at a time per wizard, across every API server.
//
// Temporal's worker echoes each update's request in the answer of the
// workflow task that takes it, and a wizard can have several updates waiting
// for one task (up to 10 by default): several near-1 MB bodies taken together
// would pass the 4 MB a task may answer, and that task would fail on every try
// (domain/wizard-size.ts). So a body over LONE_STEP_BODY_BYTES goes to its
// wizard only under this wizard's lease, a row of `step_leases`:
// - taken by an INSERT that, on conflict, wins only over an expired lease, so
//   two servers (or two requests of one) never both hold it;
// - given back once the wizard has answered the update (taken or refused);
// - kept until it expires when the wizard did not answer in time: the update
//   may still be waiting for the wizard's next task, and another large body
//   must not join it there.
import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';

/**
 * How long a lease lasts: past the API's 10-s wait for the wizard, and long
 * enough for an update left waiting by a busy worker to be taken meanwhile.
 */
export const STEP_LEASE_MS = 120_000;

export interface StepLease {
  /** Gives the lease back (the update was answered). */
  release(): Promise<void>;
}

/** This wizard's lease for a large body, or null while another holds it. */
export async function takeStepLease(prisma: PrismaClient, deletionId: string, ms = STEP_LEASE_MS): Promise<StepLease | null> {
  const holder = randomUUID();
  const won = await prisma.$queryRaw<{ holder: string }[]>`
    INSERT INTO step_leases (deletion_id, holder, expires_at)
    VALUES (${deletionId}, ${holder}, now() + ${ms}::int * interval '1 millisecond')
    ON CONFLICT (deletion_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
      WHERE step_leases.expires_at <= now()
    RETURNING holder`;
  if (won[0]?.holder !== holder) return null;
  return {
    async release() {
      await prisma.$executeRaw`DELETE FROM step_leases WHERE deletion_id = ${deletionId} AND holder = ${holder}`;
    },
  };
}
