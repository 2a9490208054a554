// Attempts of one activity that overlap (a retry after a timeout while the
// first attempt still runs, a worker presumed dead that was not) must end as
// one change: the attempt that loses the race on the idempotency key is
// retried (activities/db-errors.ts: that collision is transient) and then
// finds the change done; an opening that waited on the workspace lock finds
// the deletion its twin opened. On PostgreSQL the attempts really overlap;
// PGlite runs them one after the other and they must end the same way.
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import { onceKey, type AuditAction } from '../../domain/audit';
import type { WizardInput } from '../../domain/wizard-state';
import type { PrismaClient } from '../../generated/prisma/client';
import { createPrisma } from '../../infra/database';
import { testEnv } from '../support/env';
import { makeAutomation, makeWorkspace } from '../support/wizard';

let prisma: PrismaClient;
let activities: ReturnType<typeof createActivities>;
beforeAll(() => {
  prisma = createPrisma(testEnv().databaseUrl, { max: 6 });
  activities = createActivities(prisma, { min: 100, max: 1000, targetMs: 0, streams: 1 });
});
afterAll(() => prisma?.$disconnect());

/** Runs `attempt` as Temporal's retry policy would: again after a retryable failure, never after a non-retryable one. */
async function withRetries<T>(attempt: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if ((err instanceof ApplicationFailure && err.nonRetryable) || i >= attempts) throw err;
    }
  }
}

const ATTEMPTS = 3;

async function openedWizard() {
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', heir: 'MEMBER' });
  const input: WizardInput = {
    deletionId: `del_twin_${ws.id}`,
    workspaceId: ws.id,
    userId: ws.users.leaver!.id,
    source: 'ADMIN',
    actor: { type: 'USER', id: ws.users.admin!.id },
    reason: null,
    effectiveAt: null,
  };
  return { ws, input };
}

test('overlapping attempts of one routing change all succeed, and the change is applied once', async () => {
  for (let round = 0; round < 3; round++) {
    const { ws, input } = await openedWizard();
    await activities.openDeletion(input);
    const automationId = await makeAutomation(prisma, ws.id, 'Inbound', [{ userId: ws.users.leaver!.id, weight: 1 }]);
    const args = {
      workspaceId: ws.id,
      deletionId: input.deletionId,
      userId: ws.users.leaver!.id,
      kind: 'automations' as const,
      ids: [automationId],
      overrides: [{ id: automationId, distribution: [{ userId: ws.users.heir!.id, weight: 1 }] }],
      actor: input.actor,
    };
    const results = await Promise.allSettled(Array.from({ length: ATTEMPTS }, () => withRetries(() => activities.applyRouting(args))));
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(Array(ATTEMPTS).fill('ok'));
    for (const r of results) expect((r as PromiseFulfilledResult<unknown>).value).toEqual({ applied: args.overrides });
    const members = await prisma.automationMember.findMany({ where: { automationId } });
    expect(members).toEqual([expect.objectContaining({ userId: ws.users.heir!.id, weight: 1 })]);
    const events = await prisma.auditEvent.findMany({ where: { deletionId: input.deletionId, action: { not: 'DELETION_STARTED' } } });
    expect(events).toHaveLength(1);
    expect(events[0]!.idempotencyKey).toBe(onceKey(input.deletionId, events[0]!.action as AuditAction));
  }
});

test('two overlapping attempts of one opening both answer the same opened wizard', async () => {
  for (let round = 0; round < 3; round++) {
    const { input } = await openedWizard();
    const results = await Promise.allSettled([withRetries(() => activities.openDeletion(input)), withRetries(() => activities.openDeletion(input))]);
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok']);
    const [a, b] = results.map((r) => (r as PromiseFulfilledResult<{ id: string; status: string }>).value);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ id: input.deletionId, status: 'IN_PROGRESS' });
    expect(await prisma.deletion.count({ where: { userId: input.userId } })).toBe(1);
  }
});
