// No wizard is stuck for good: work the database refuses every time is not
// retried forever. The opening answers with the reason, a cancel ends
// CANCELLED whatever its reason, a move whose batch is refused shows
// `attention` and stays cancellable (or goes on when retried), and the mirror
// row never goes back to an older save.
import { createActivities } from '../../activities';
import { RuleViolation } from '../../domain/errors';
import { deletionWorkflowId } from '../../domain/wizard-state';
import * as defs from '../../workflows/definitions';
import { asAdmin, eventually, finished, leadsByOwner, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness({ batchSize: 100 });
});
afterAll(() => h?.close());

test('a reason the database cannot store: the start answers at once with the reason, and nothing changed', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  const start = wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN', reason: 'half an emoji \ud83d' });
  await expect(start).rejects.toBeInstanceOf(RuleViolation);
  await expect(start).rejects.toThrow(/could not open.*refused a value/);
  expect(await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'ACTIVE' });
  expect(await prisma.deletion.count({ where: { workspaceId: ws.id } })).toBe(0);
  // The run ends in a task of its own, after the one that answered the start with the refusal
  // (an event arriving during the answering task would make the server refuse both, temporalio/temporal#7296).
  const run = h.temporal.workflow.getHandle(deletionWorkflowId(ws.id, ws.users.leaver!.id));
  await run.result();
  const events = (await run.fetchHistory()).events ?? [];
  const answered = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
  const tasksAfter = events.slice(answered + 1).filter((e) => e.workflowTaskCompletedEventAttributes);
  expect(answered).toBeGreaterThan(0);
  expect(tasksAfter.length).toBeGreaterThanOrEqual(1);
  expect(events.at(-1)!.workflowExecutionCompletedEventAttributes).toBeTruthy();
  // The user can be offboarded with a reason that stores.
  const again = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN', reason: 'left' });
  expect(again.deletion).toMatchObject({ status: 'IN_PROGRESS', reason: 'left', attention: null });
}, 60_000);

test('a cancel reason the database cannot store: CANCELLED, user ACTIVE, the reason kept written out', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const cancelled = await wizard.cancel(ws.id, deletion.id, asAdmin(ws), { reason: 'oops \ud800 \u0000' });
  expect(cancelled.status).toBe('CANCELLED');
  expect(await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'ACTIVE' });
  const audit = await wizard.audit(ws.id, deletion.id, { limit: 50 });
  expect(audit.items.at(-1)).toMatchObject({ action: 'DELETION_CANCELLED', detail: { reason: 'oops \\ud800 \\u0000' } });
}, 60_000);

/** Makes the database refuse moving this workspace's lead named `poison` to `to` (a CHECK violation, 23514). */
async function poison(ws: { id: string }, to: string) {
  const name = `poison_${ws.id.replace(/\W/g, '')}`;
  await h.prisma.$executeRawUnsafe(
    `ALTER TABLE leads ADD CONSTRAINT ${name} CHECK (workspace_id <> '${ws.id}' OR name <> 'poison' OR owner_id <> '${to}') NOT VALID`,
  );
  return { cure: () => h.prisma.$executeRawUnsafe(`ALTER TABLE leads DROP CONSTRAINT IF EXISTS ${name}`) };
}

async function poisonedMove() {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 250 });
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  // The 151st lead of the book: the first batch (100) goes through, the second is refused.
  const ids = await prisma.lead.findMany({ where: { workspaceId: ws.id }, orderBy: { id: 'asc' }, select: { id: true } });
  await prisma.lead.update({ where: { id: ids[150]!.id }, data: { name: 'poison' } });
  const p = await poison(ws, ann);
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ann });
  const stuck = await eventually(async () => {
    const d = await wizard.get(ws.id, deletion.id);
    return d.attention ? d : undefined;
  }, 60_000, 'attention');
  return { ws, deletion, stuck, leaver, ann, ...p };
}

test('a batch the database refuses for good: attention with the reason, the move waits, and cancel still ends it', async () => {
  const { prisma, wizard } = h;
  const { ws, deletion, stuck, leaver, ann, cure } = await poisonedMove();
  try {
    expect(stuck).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', leads: { state: 'MOVING', moved: 100 } });
    expect(stuck.attention!.reason).toMatch(/Moving the leads: .*refused.*23514/);
    expect(Date.parse(stuck.attention!.since)).not.toBeNaN();
    // Not retried meanwhile: the move stays where the refusal left it.
    expect((await prisma.leadMove.findFirstOrThrow({ where: { deletionId: deletion.id } })).batches).toBe(1);

    const cancelled = await wizard.cancel(ws.id, deletion.id, asAdmin(ws), { reason: 'bad data' });
    expect(cancelled).toMatchObject({ status: 'CANCELLED', attention: null, leads: { moved: 100, state: 'DONE' } });
    expect(await prisma.user.findUnique({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
    expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 100, [leaver]: 150 });
  } finally {
    await cure();
  }
}, 120_000);

test('a refused batch goes on when retried after the cause is gone, and attention is cleared', async () => {
  const { prisma, wizard, temporal } = h;
  const { ws, deletion, stuck, ann, cure } = await poisonedMove();
  await cure();
  const handle = temporal.workflow.getHandle(stuck.workflowId);
  // Sent with no argument, as before `Target` existed: taken as this wizard's.
  await handle.executeUpdate(defs.retry.name);
  const done = await moveDone(wizard, ws.id, deletion.id);
  expect(done).toMatchObject({ status: 'IN_PROGRESS', step: 'AUTOMATIONS', attention: null, leads: { moved: 250, state: 'DONE' } });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 250 });
  // Nothing waits any more: a retry is refused.
  await expect(handle.executeUpdate(defs.retry.name)).rejects.toThrow();
  await wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitIntegrations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitLabels(ws.id, deletion.id, asAdmin(ws), { replacements: [] });
  await wizard.confirm(ws.id, deletion.id, asAdmin(ws), { confirmation: 'CONFIRM' });
  expect(await finished(wizard, ws.id, deletion.id)).toMatchObject({ status: 'COMPLETED', attention: null });
}, 120_000);

test('the mirror row only moves forward: an older save landing after a newer one changes nothing', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const cancelled = await wizard.cancel(ws.id, deletion.id, asAdmin(ws), {});
  const activities = createActivities(prisma, { min: 100, max: 100, targetMs: 0, streams: 1 });
  // A save of the opened wizard (version 1) retried late, after the final CANCELLED one.
  await activities.saveDeletionState({ workspaceId: ws.id, deletionId: deletion.id, view: { ...deletion, attention: null }, version: 1 });
  expect(await wizard.get(ws.id, deletion.id)).toEqual(cancelled);
  expect(await prisma.deletion.findUnique({ where: { id: deletion.id } })).toMatchObject({ status: 'CANCELLED' });
}, 60_000);
