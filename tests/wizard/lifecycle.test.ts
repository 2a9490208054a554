// Cancel, HR's effective date, and finding wizards from Temporal itself.
import {
  asAdmin,
  eventually,
  finished,
  leadsByOwner,
  makeWorkspace,
  moveDone,
  wizardHarness,
  type WizardHarness,
} from '../support/wizard';
import { StepConflict } from '../../domain/errors';
import { MovePace } from '../support/move-pace';

let h: WizardHarness;
/** Holds a move mid-way, so a cancel lands in the middle of it on any machine. */
const pace = new MovePace();
beforeAll(async () => {
  h = await wizardHarness({ batchSize: 500, pace });
});
afterEach(() => pace.open());
afterAll(() => h?.close());

/** The workflow ids Temporal's visibility lists for `query`, once it lists one. */
async function listedByTemporal(query: string): Promise<string[]> {
  return eventually(async () => {
    const found: string[] = [];
    for await (const w of h.temporal.workflow.list({ query })) found.push(w.workflowId);
    return found.length === 1 ? found : undefined;
  }, 30_000, 'visibility to catch up');
}

test('cancel after step 1 keeps what moved and gives the user back ACTIVE', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 120 });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ws.users.ann!.id });
  await moveDone(wizard, ws.id, deletion.id);
  const cancelled = await wizard.cancel(ws.id, deletion.id, asAdmin(ws), { reason: 'changed our mind' });
  expect(cancelled).toMatchObject({ status: 'CANCELLED', step: 'AUTOMATIONS' });
  expect(await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'ACTIVE' });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ws.users.ann!.id]: 120 });
  const audit = await wizard.audit(ws.id, deletion.id, { limit: 50 });
  expect(audit.items.at(-1)).toMatchObject({ action: 'DELETION_CANCELLED', detail: { reason: 'changed our mind' } });
  // A cancelled wizard is over; a new one can start for the same user.
  await expect(wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] })).rejects.toBeInstanceOf(StepConflict);
  const again = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  expect(again.created).toBe(true);
  expect(again.deletion.id).not.toBe(deletion.id);
});

test('cancel during the move stops it after the current batch; moved leads stay moved', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 60_000 });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  // Two batches of 500, then the move waits at the gate (it once finished all 60,000 before the cancel came).
  pace.hold();
  pace.let(2);
  const started = await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ws.users.ann!.id });
  await eventually(async () => ((await wizard.get(ws.id, deletion.id)).leads.moved >= 1_000 && pace.waiting > 0 ? true : undefined));
  // The batches are the wizard's latest change: updatedAt moves with them (found by the fourth audit: it stayed at the move's start).
  const [mid] = (await wizard.list(ws.id, { limit: 50 })).items.filter((d) => d.id === deletion.id);
  for (const seen of [await wizard.get(ws.id, deletion.id), mid!]) expect(Date.parse(seen.updatedAt)).toBeGreaterThan(Date.parse(started.updatedAt));
  // The owner cancels what the admin's step began.
  const owner = { type: 'USER' as const, id: ws.users.owner!.id };
  const cancelled = await wizard.cancel(ws.id, deletion.id, owner, {});
  // The batches held at the gate go on now: they find their streams closed and move nothing.
  pace.open();
  expect(cancelled.status).toBe('CANCELLED');
  expect(cancelled.leads.state).toBe('DONE');
  const owners = await leadsByOwner(prisma, ws.id);
  const moved = owners[ws.users.ann!.id] ?? 0;
  expect(moved).toBe(cancelled.leads.moved);
  expect(moved).toBe(1_000); // the two batches let through, whole
  expect(owners[ws.users.leaver!.id]).toBe(60_000 - moved);
  expect(await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'ACTIVE' });
  // Nothing moves after the cancel: once the workflow has ended and the slice it left running
  // (a cancel does not wait for it) has ended too, its later batches found the streams closed.
  const handle = h.temporal.workflow.getHandle(deletion.workflowId);
  await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), 60_000, 'the workflow to end');
  await eventually(async () => (h.activitiesInFlight() === 0 ? true : undefined), 60_000, 'the move slice to end');
  expect(await prisma.leadMoveStream.count({ where: { deletionId: deletion.id, kind: 'MOVE', done: false } })).toBe(0);
  expect((await leadsByOwner(prisma, ws.id))[ws.users.ann!.id]).toBe(moved);
  const audit = await wizard.audit(ws.id, deletion.id, { limit: 50 });
  expect(audit.items.map((e) => e.action)).toEqual(['DELETION_STARTED', 'LEADS_MOVED', 'DELETION_CANCELLED']);
  // Who received what, as a finished move says it: the audit trail keeps what moved where.
  expect(audit.items[1]!.detail).toMatchObject({ moved, stoppedByCancel: true, targets: [{ userId: ws.users.ann!.id, count: moved }] });
  // Each by whom it was done: the move by the admin who posted the step (a probe found the canceller named), the cancel by the owner.
  expect(audit.items.map((e) => e.actor)).toEqual([asAdmin(ws), asAdmin(ws), owner]);
});

test('HR effectiveAt in the future: SUSPENDED at once, PENDING_DELETION when the durable timer fires', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  // Far enough ahead that the steps below are done well before it (they take ~2 s).
  const effectiveAt = new Date(Date.now() + 15_000);
  const { deletion } = await wizard.start({
    workspaceId: ws.id,
    userId: ws.users.leaver!.id,
    actor: { type: 'HR', id: 'E-42' },
    source: 'HR',
    effectiveAt,
  });
  expect(deletion.source).toBe('HR');
  expect(await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'SUSPENDED' });
  // The steps can be prepared meanwhile, but the user cannot be deleted before leaving.
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ws.users.owner!.id });
  await moveDone(wizard, ws.id, deletion.id);
  await wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitIntegrations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitLabels(ws.id, deletion.id, asAdmin(ws), { replacements: [] });
  expect(Date.now()).toBeLessThan(effectiveAt.getTime() - 1_000);
  await expect(wizard.confirm(ws.id, deletion.id, asAdmin(ws), { confirmation: 'CONFIRM' })).rejects.toThrow(/leaves on/);
  await eventually(async () => {
    const u = await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } });
    return u?.status === 'PENDING_DELETION' ? u : undefined;
  }, 30_000, 'the effective date');
  // The user row changes in the timer's activity; the workflow learns it when that activity's
  // completion reaches it (a moment later, longer on a loaded machine): until then confirm is 409.
  await eventually(
    () =>
      wizard.confirm(ws.id, deletion.id, asAdmin(ws), { confirmation: 'CONFIRM' }).catch((err: Error) => {
        if (/leaves on/.test(err.message)) return undefined;
        throw err;
      }),
    30_000,
    'the workflow to see the effective date',
  );
  expect((await finished(wizard, ws.id, deletion.id)).status).toBe('COMPLETED');
  const actions = (await wizard.audit(ws.id, deletion.id, { limit: 50 })).items.map((e) => [e.action, e.actor.type]);
  expect(actions[0]).toEqual(['DELETION_STARTED', 'HR']);
  expect(actions).toContainEqual(['USER_PENDING_DELETION', 'SYSTEM']);
});

test('wizards in progress can be listed from Temporal by search attributes', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', a: 'MEMBER', b: 'MEMBER' });
  const a = await wizard.start({ workspaceId: ws.id, userId: ws.users.a!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const b = await wizard.start({ workspaceId: ws.id, userId: ws.users.b!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.cancel(ws.id, b.deletion.id, asAdmin(ws), {});
  const query = `DeletionWorkspaceId = "${ws.id}" AND DeletionStatus = "IN_PROGRESS" AND DeletionStep = "LEADS"`;
  const ids = await listedByTemporal(query);
  expect(ids).toEqual([a.deletion.workflowId]);
  // And from the database mirror, newest first.
  const listed = await wizard.list(ws.id, { limit: 50 });
  expect(listed.items.map((d) => [d.id, d.status])).toEqual([
    [b.deletion.id, 'CANCELLED'],
    [a.deletion.id, 'IN_PROGRESS'],
  ]);
});

test('a wizard upserts its search attributes only when its step or status changes', async () => {
  const { prisma, wizard, temporal } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 30 });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  // The lead step saves the view twice (the move begun, the move done): only the second changes the step.
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ws.users.ann!.id });
  await moveDone(wizard, ws.id, deletion.id);
  await wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  const events = (await temporal.workflow.getHandle(deletion.workflowId).fetchHistory()).events ?? [];
  // Keyword values are strings; the SDK's own TemporalChangeVersion is a list.
  const carried = new Map<string, unknown>();
  const upserts: Record<string, unknown>[] = [];
  for (const event of events) {
    // Those the wizard was started with, then each upsert.
    const fields = (event.workflowExecutionStartedEventAttributes ?? event.upsertWorkflowSearchAttributesEventAttributes)?.searchAttributes
      ?.indexedFields;
    if (!fields) continue;
    const values = Object.fromEntries(
      Object.entries(fields).map(([name, payload]) => [name, JSON.parse(Buffer.from(payload.data!).toString('utf8')) as unknown]),
    );
    // Each says only what the wizard did not carry yet.
    expect(Object.entries(values).every(([name, value]) => carried.get(name) !== value)).toBe(true);
    for (const [name, value] of Object.entries(values)) carried.set(name, value);
    upserts.push(values);
  }
  expect(upserts.filter((u) => 'DeletionStep' in u).map((u) => u.DeletionStep)).toEqual(['LEADS', 'AUTOMATIONS', 'INTEGRATIONS']);
  // And the wizard is found under the step it is at.
  const query = `DeletionWorkspaceId = "${ws.id}" AND DeletionStep = "INTEGRATIONS" AND DeletionStatus = "IN_PROGRESS"`;
  const ids = await listedByTemporal(query);
  expect(ids).toEqual([deletion.workflowId]);
});
