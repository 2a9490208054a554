// Records histories of wizards paused at each step (and mid-move) as JSON
// fixtures for tests/replay/replay.test.ts. Run `npm run record:histories`
// after a deliberate, patched change to the workflow; commit the new files
// beside the old ones (old histories must keep replaying).
import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Prisma } from '../../generated/prisma/client';
import { deletionWorkflowId } from '../../domain/wizard-state';
import * as defs from '../../workflows/definitions';
import { MovePace, untilMidMove } from '../support/move-pace';
import { acceptedUpdates, asAdmin, eventually, makeAutomation, makeLabel, makeWorkspace, moveDone, finished, wizardHarness, type WizardHarness } from '../support/wizard';

const OUT = path.resolve(__dirname, '../fixtures/histories');
// RECORD_STAMP names a second recording of the same day (after another patched change).
const stamp = process.env.RECORD_STAMP ?? new Date().toISOString().slice(0, 10);

let h: WizardHarness;
// The move is held at its batches, so the mid-move history is taken mid-move on any machine.
const pace = new MovePace();
beforeAll(async () => {
  h = await wizardHarness({ batchSize: 100, pace });
});
afterAll(() => h?.close());

/** Waits for the run to close (it ends a task after the wizard does), so the history is whole. */
async function closed(workflowId: string) {
  await h.temporal.workflow.getHandle(workflowId).result();
}

/**
 * Writes the history once no workflow task is open at its end: the mirror (what the recorder waits
 * for) is written by a local transaction before its task completes, and a history cut inside that
 * task would leave its last task to run live on replay, unchecked.
 */
async function save(name: string, workflowId: string) {
  const open = (events: { workflowTaskScheduledEventAttributes?: unknown; workflowTaskStartedEventAttributes?: unknown }[]) => {
    const last = events.at(-1);
    return Boolean(last?.workflowTaskScheduledEventAttributes || last?.workflowTaskStartedEventAttributes);
  };
  const history = await eventually(async () => {
    const fetched = await h.temporal.workflow.getHandle(workflowId).fetchHistory();
    return open(fetched.events ?? []) ? undefined : fetched;
  }, 30_000, `no open workflow task at the end of ${name}`);
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, `${stamp}-${name}.json`), historyToJSON(history) + '\n');
}

test('record wizard histories at every pause point', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 20_000 });
  const [leaver, ann, owner] = [ws.users.leaver!.id, ws.users.ann!.id, ws.users.owner!.id];
  const sole = await makeAutomation(prisma, ws.id, 'Sole', [{ userId: leaver, weight: 100 }]);
  await makeLabel(prisma, ws.id, 'Team', 'SHARED', leaver, [leaver, ann]);
  const admin = asAdmin(ws);

  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN' });
  const id = deletion.id;
  await save('at-leads', deletion.workflowId);
  pace.hold();
  await wizard.submitLeads(ws.id, id, admin, {
    distribution: [
      { userId: ann, weight: 70 },
      { userId: owner, weight: 30 },
    ],
  });
  // Mid-move: a slice reported, the next one running.
  await untilMidMove(pace, h.temporal, deletion.workflowId);
  await save('mid-move', deletion.workflowId);
  pace.open();
  await moveDone(wizard, ws.id, id, 600_000);
  await save('at-automations', deletion.workflowId);
  await wizard.submitAutomations(ws.id, id, admin, { overrides: [{ automationId: sole, distribution: [{ userId: ann, weight: 100 }] }] });
  await save('at-integrations', deletion.workflowId);
  await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });
  await save('at-labels', deletion.workflowId);
  await wizard.submitLabels(ws.id, id, admin, { replacements: [] });
  await save('at-confirm', deletion.workflowId);
  await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
  await finished(wizard, ws.id, id);
  await closed(deletion.workflowId);
  await save('completed', deletion.workflowId);

  // A cancelled one, and an HR one waiting for its effective date.
  const other = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', a: 'MEMBER', b: 'MEMBER' });
  const c = await wizard.start({ workspaceId: other.id, userId: other.users.a!.id, actor: asAdmin(other), source: 'ADMIN' });
  await wizard.cancel(other.id, c.deletion.id, asAdmin(other), { reason: 'recording' });
  await closed(c.deletion.workflowId);
  await save('cancelled', c.deletion.workflowId);
  const hr = await wizard.start({
    workspaceId: other.id,
    userId: other.users.b!.id,
    actor: { type: 'HR', id: 'E-1' },
    source: 'HR',
    effectiveAt: new Date(Date.now() + 30 * 86_400_000),
  });
  await save('hr-waiting-for-effective-date', hr.deletion.workflowId);
  // Its date brought forward by a later offboarding (the identity provider): the wait ends, the user is being deleted.
  await wizard.bringForward(other.id, hr.deletion.id, { type: 'IDP', id: 'recording' }, null);
  await eventually(async () => ((await prisma.user.findUniqueOrThrow({ where: { id: other.users.b!.id } })).status === 'PENDING_DELETION' ? true : undefined));
  await save('hr-brought-forward', hr.deletion.workflowId);

  // A move cancelled while its slices run.
  const third = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 20_000 });
  const m = await wizard.start({ workspaceId: third.id, userId: third.users.leaver!.id, actor: asAdmin(third), source: 'ADMIN' });
  await wizard.submitLeads(third.id, m.deletion.id, asAdmin(third), { targetUserId: third.users.ann!.id });
  await eventually(async () => ((await wizard.get(third.id, m.deletion.id)).leads.moved >= 1_000 ? true : undefined));
  await wizard.cancel(third.id, m.deletion.id, asAdmin(third), {});
  await closed(m.deletion.workflowId);
  await save('cancelled-mid-move', m.deletion.workflowId);

  // A move whose batch the database refuses for good: attention; then retried once the cause is gone.
  const fourth = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 300 });
  const [firstLead] = await prisma.lead.findMany({ where: { workspaceId: fourth.id }, orderBy: { id: 'desc' }, take: 1 });
  await prisma.lead.update({ where: { id: firstLead!.id }, data: { name: 'poison' } });
  const check = `poison_${fourth.id.replace(/\W/g, '')}`;
  await prisma.$executeRawUnsafe(
    `ALTER TABLE leads ADD CONSTRAINT ${check} CHECK (workspace_id <> '${fourth.id}' OR name <> 'poison' OR owner_id <> '${fourth.users.ann!.id}') NOT VALID`,
  );
  try {
    const a = await wizard.start({ workspaceId: fourth.id, userId: fourth.users.leaver!.id, actor: asAdmin(fourth), source: 'ADMIN' });
    await wizard.submitLeads(fourth.id, a.deletion.id, asAdmin(fourth), { targetUserId: fourth.users.ann!.id });
    await eventually(async () => ((await wizard.get(fourth.id, a.deletion.id)).attention ? true : undefined));
    await save('move-needs-attention', a.deletion.workflowId);
    await prisma.$executeRawUnsafe(`ALTER TABLE leads DROP CONSTRAINT ${check}`);
    await h.temporal.workflow.getHandle(a.deletion.workflowId).executeUpdate(defs.retry, { args: [{}] });
    await moveDone(wizard, fourth.id, a.deletion.id);
    await save('attention-cleared', a.deletion.workflowId);
  } finally {
    await prisma.$executeRawUnsafe(`ALTER TABLE leads DROP CONSTRAINT IF EXISTS ${check}`);
  }
}, 900_000);

// Run alone (`-t 'refuses for good'`) to add these two without re-recording the others.
test('record a wizard whose local transaction in the main body the database refuses for good', async () => {
  const { prisma, wizard } = h;
  pace.open();
  // Finishing the move writes its audit (LEADS_MOVED) in a local transaction; a check the database
  // enforces for this workspace refuses it: attention, then a retry once the check is gone.
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 300 });
  const check = `refuse_${ws.id.replace(/\W/g, '')}`;
  await prisma.$executeRawUnsafe(
    `ALTER TABLE audit_events ADD CONSTRAINT ${check} CHECK (workspace_id <> '${ws.id}' OR action <> 'LEADS_MOVED') NOT VALID`,
  );
  try {
    const a = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
    await wizard.submitLeads(ws.id, a.deletion.id, asAdmin(ws), { targetUserId: ws.users.ann!.id });
    const attention = await eventually(async () => (await wizard.get(ws.id, a.deletion.id)).attention ?? undefined);
    expect(attention.reason).toMatch(/^Finishing the lead move/);
    await save('local-finish-needs-attention', a.deletion.workflowId);
    await prisma.$executeRawUnsafe(`ALTER TABLE audit_events DROP CONSTRAINT ${check}`);
    await h.temporal.workflow.getHandle(a.deletion.workflowId).executeUpdate(defs.retry, { args: [{}] });
    await moveDone(wizard, ws.id, a.deletion.id);
    expect((await wizard.get(ws.id, a.deletion.id)).attention).toBeNull();
    await save('local-finish-attention-cleared', a.deletion.workflowId);
    const events = (await h.temporal.workflow.getHandle(a.deletion.workflowId).fetchHistory()).events ?? [];
    expect(events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'finishLeadMove')).toBe(false);
  } finally {
    await prisma.$executeRawUnsafe(`ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS ${check}`);
  }
}, 300_000);

/** A wizard of its own workspace whose lead move is done: it waits at AUTOMATIONS. */
async function wizardPastTheMove() {
  pace.open();
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 300 });
  const a = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await h.wizard.submitLeads(ws.id, a.deletion.id, asAdmin(ws), { targetUserId: ws.users.ann!.id });
  await moveDone(h.wizard, ws.id, a.deletion.id);
  return { ws, a };
}

/** Holds one row (`FOR UPDATE`) until `release()` (at most `maxMs`); `held` resolves once it is locked. */
function holdRow(sql: Prisma.Sql, maxMs = 120_000): { held: Promise<void>; release(): Promise<unknown> } {
  let locked!: () => void;
  let release!: () => void;
  const held = new Promise<void>((r) => (locked = r));
  const released = new Promise<void>((r) => (release = r));
  const done = h.prisma.$transaction(
    async (tx) => {
      await tx.$queryRaw(sql);
      locked();
      await Promise.race([released, new Promise((r) => setTimeout(r, maxMs))]);
    },
    { timeout: maxMs + 30_000 },
  );
  return {
    held,
    release: () => {
      release();
      return done;
    },
  };
}

/** The ids of the updates of that name the server recorded as accepted, in order. */
const accepted = (workflowId: string, name: string) => acceptedUpdates(h.temporal, workflowId, name);

/** Whether the update `waited` was accepted before the update `first` completed (it waited for it). */
async function acceptedBeforeCompleted(workflowId: string, waited: string, first: string): Promise<boolean> {
  const events = (await h.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const at = (found: (e: (typeof events)[number]) => boolean) => events.findIndex(found);
  const acceptedAt = at((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.protocolInstanceId === waited);
  const completedAt = at((e) => e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId === first);
  return acceptedAt >= 0 && completedAt >= 0 && acceptedAt < completedAt;
}

// Run alone (`-t 'outlasts'`) to add it without re-recording the others.
test('record a wizard whose local transaction outlasts its workflow task', async () => {
  const { wizard } = h;
  const { ws, a } = await wizardPastTheMove();
  // Someone holds the wizard's row past the workflow task timeout (10 s): the step's local
  // transactions wait for it, and the worker keeps the task alive meanwhile.
  const lock = holdRow(Prisma.sql`SELECT id FROM deletions WHERE id = ${a.deletion.id} FOR UPDATE`, 15_000);
  await lock.held;
  await wizard.submitAutomations(ws.id, a.deletion.id, asAdmin(ws), { overrides: [] });
  await lock.release();
  const events = (await h.temporal.workflow.getHandle(a.deletion.workflowId).fetchHistory()).events ?? [];
  // The long wait shows as a task the worker completed before its timeout, the transaction still running.
  const at = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const startedAt = new Map(events.filter((e) => e.workflowTaskStartedEventAttributes).map((e) => [Number(e.eventId), at(e)]));
  const longest = Math.max(
    ...events
      .filter((e) => e.workflowTaskCompletedEventAttributes)
      .map((e) => at(e) - (startedAt.get(Number(e.workflowTaskCompletedEventAttributes!.startedEventId)) ?? at(e))),
  );
  expect(longest).toBeGreaterThan(5_000);
  expect(events.filter((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes)).toEqual([]);
  await save('local-outlasting-its-task', a.deletion.workflowId);
}, 300_000);

// Run alone (`-t 'waited'`) to add these two without re-recording the others.
test('record cancels that waited for a step being applied, and for the wizard opening', async () => {
  const { prisma, wizard } = h;

  // A step held by a lock on the wizard's row (its transaction waits for it); a cancel sent meanwhile.
  const { ws, a } = await wizardPastTheMove();
  const handle = h.temporal.workflow.getHandle(a.deletion.workflowId);
  const lock = holdRow(Prisma.sql`SELECT id FROM deletions WHERE id = ${a.deletion.id} FOR UPDATE`);
  await lock.held;
  const step = handle.executeUpdate(defs.submitAutomations, { args: [{ actor: asAdmin(ws), body: { overrides: [] } }], updateId: 'step' });
  await eventually(async () => ((await accepted(a.deletion.workflowId, 'submitAutomations')).length === 1 ? true : undefined));
  const cancelling = handle.executeUpdate(defs.cancel, { args: [{ actor: asAdmin(ws), body: { reason: 'recording' } }], updateId: 'cancel' });
  // Released only once the cancel is on record, the step still waiting on the lock.
  await eventually(async () => ((await accepted(a.deletion.workflowId, 'cancel')).length === 1 ? true : undefined), 60_000);
  await lock.release();
  expect(await step).toMatchObject({ step: 'INTEGRATIONS' });
  expect(await cancelling).toMatchObject({ status: 'CANCELLED' });
  await closed(a.deletion.workflowId);
  expect(await acceptedBeforeCompleted(a.deletion.workflowId, 'cancel', 'step')).toBe(true);
  await save('cancel-waited-for-step', a.deletion.workflowId);

  // The user's row held while the wizard opens; a cancel sent to the opening workflow.
  const other = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' }, { leaver: 50 });
  const userLock = holdRow(Prisma.sql`SELECT id FROM users WHERE id = ${other.users.leaver!.id} FOR UPDATE`);
  await userLock.held;
  const starting = wizard.start({ workspaceId: other.id, userId: other.users.leaver!.id, actor: asAdmin(other), source: 'ADMIN' });
  starting.catch(() => undefined); // it answers 503 after 10 s: the opening waits for the lock
  const workflowId = deletionWorkflowId(other.id, other.users.leaver!.id);
  await eventually(async () => ((await accepted(workflowId, 'waitOpened').catch(() => [])).length === 1 ? true : undefined));
  const opening = h.temporal.workflow.getHandle(workflowId);
  const early = opening.executeUpdate(defs.cancel, { args: [{ actor: asAdmin(other), body: {} }], updateId: 'cancel' });
  await eventually(async () => ((await accepted(workflowId, 'cancel')).length === 1 ? true : undefined), 60_000);
  await userLock.release();
  expect(await early).toMatchObject({ status: 'CANCELLED' });
  await closed(workflowId);
  const [opened] = await accepted(workflowId, 'waitOpened');
  expect(await acceptedBeforeCompleted(workflowId, 'cancel', opened!)).toBe(true);
  await save('cancel-waited-for-opening', workflowId);
}, 300_000);

// Run alone (`-t 'opening the database refuses'`) to add it without re-recording the others.
test('record a wizard whose opening the database refuses', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  // A reason PostgreSQL cannot store (half an emoji): the API refuses it first; the client does not.
  await expect(wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN', reason: 'half \ud83d' })).rejects.toThrow(
    /could not open/,
  );
  const workflowId = deletionWorkflowId(ws.id, ws.users.leaver!.id);
  await closed(workflowId);
  await save('opening-refused', workflowId);
}, 120_000);
