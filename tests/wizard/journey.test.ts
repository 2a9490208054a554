// The whole wizard through the Temporal client alone, on a real dev server and
// a real database: start → leads → automations → integrations → labels →
// CONFIRM, then nothing in the workspace points at the user.
import {
  addLeads,
  asAdmin,
  finished,
  leadsByOwner,
  makeAutomation,
  makeIntegration,
  makeLabel,
  makeWorkspace,
  moveDone,
  wizardHarness,
  type WizardHarness,
} from '../support/wizard';
import { hashToken } from '../../infra/tokens';
import { acknowledgementTaskQueue } from '../../workflows/definitions';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness({ batchSize: 1_000 });
});
afterAll(() => h?.close());

test('a user with leads, automations, an integration and labels is fully reassigned, then deleted', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(
    prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' },
    { leaver: 30_001, ann: 10, bob: 5 },
  );
  const [leaver, ann, bob, admin] = [ws.users.leaver!.id, ws.users.ann!.id, ws.users.bob!.id, ws.users.admin!.id];
  const shared = await makeAutomation(prisma, ws.id, 'Round robin', [
    { userId: leaver, weight: 50 },
    { userId: ann, weight: 30 },
    { userId: bob, weight: 20 },
  ]);
  const sole = await makeAutomation(prisma, ws.id, 'Only the leaver', [{ userId: leaver, weight: 100 }]);
  const untouched = await makeAutomation(prisma, ws.id, 'Not theirs', [{ userId: ann, weight: 100 }]);
  const source = await makeIntegration(prisma, ws.id, 'Web form', [
    { userId: leaver, weight: 60 },
    { userId: bob, weight: 40 },
  ]);
  const sharedLabel = await makeLabel(prisma, ws.id, 'Hot', 'SHARED', leaver, [leaver, ann]);
  const publicLabel = await makeLabel(prisma, ws.id, 'VIP', 'PUBLIC', ann, [leaver, bob]);
  const privateLabel = await makeLabel(prisma, ws.id, 'Mine', 'PRIVATE', leaver, [leaver]);
  await prisma.apiToken.create({ data: { workspaceId: ws.id, userId: leaver, tokenHash: hashToken(`t-${ws.id}`) } });
  const totalBefore = await prisma.lead.count({ where: { workspaceId: ws.id } });

  // Start, twice: the same wizard.
  const started = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN', reason: 'left' });
  expect(started.created).toBe(true);
  const again = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  expect(again.created).toBe(false);
  expect(again.deletion.id).toBe(started.deletion.id);
  const d0 = started.deletion;
  expect(d0).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', source: 'ADMIN', reason: 'left' });
  expect(d0.leads).toEqual({ total: 30_001, moved: 0, swept: 0, state: 'PENDING', distribution: null });
  expect(await prisma.user.findUnique({ where: { id: leaver } })).toMatchObject({ status: 'PENDING_DELETION' });

  // Step 2/3 suggestions are there from the start.
  expect(d0.automations.map((a) => a.id).sort()).toEqual([shared, sole].sort());
  expect(d0.automations.find((a) => a.id === shared)).toMatchObject({
    suggested: [
      { userId: ann, weight: 60 },
      { userId: bob, weight: 40 },
    ],
    requiresReplacement: false,
    applied: null,
  });
  expect(d0.automations.find((a) => a.id === sole)).toMatchObject({ suggested: null, requiresReplacement: true });
  expect(d0.integrations).toEqual([
    expect.objectContaining({ id: source, suggested: [{ userId: bob, weight: 100 }], requiresReplacement: false }),
  ]);
  expect(d0.labels.map((l) => l.id).sort()).toEqual([sharedLabel, publicLabel].sort());

  // Step 1: half and half, exactly.
  const moving = await wizard.submitLeads(ws.id, d0.id, asAdmin(ws), {
    distribution: [
      { userId: ann, weight: 50 },
      { userId: bob, weight: 50 },
    ],
  });
  expect(moving.step).toBe('LEADS');
  expect(moving.leads.total).toBe(30_001);
  const afterMove = await moveDone(wizard, ws.id, d0.id);
  expect(afterMove.step).toBe('AUTOMATIONS');
  expect(afterMove.leads).toMatchObject({ total: 30_001, moved: 30_001, state: 'DONE' });
  const owners = await leadsByOwner(prisma, ws.id);
  expect(owners[leaver]).toBeUndefined();
  // 30,001 at 50/50: 15,001 and 15,000 (largest remainder, tie to the earlier member), plus what they had.
  expect(owners[ann]).toBe(15_001 + 10);
  expect(owners[bob]).toBe(15_000 + 5);

  // Step 2: keep the suggestion for one, name a replacement for the sole-member one.
  const d2 = await wizard.submitAutomations(ws.id, d0.id, asAdmin(ws), {
    overrides: [{ automationId: sole, distribution: [{ userId: admin, weight: 100 }] }],
  });
  expect(d2.step).toBe('INTEGRATIONS');
  expect(d2.automations.find((a) => a.id === sole)!.applied).toEqual([{ userId: admin, weight: 100 }]);
  expect(d2.automations.find((a) => a.id === shared)!.applied).toEqual([
    { userId: ann, weight: 60 },
    { userId: bob, weight: 40 },
  ]);

  // Step 3: accept every suggestion.
  const d3 = await wizard.submitIntegrations(ws.id, d0.id, asAdmin(ws), { overrides: [] });
  expect(d3.step).toBe('LABELS');

  // Step 4: a replacement on the shared label (which the leaver owned); none on the public one.
  const d4 = await wizard.submitLabels(ws.id, d0.id, asAdmin(ws), {
    replacements: [{ labelId: sharedLabel, replacementUserId: bob }],
  });
  expect(d4.step).toBe('CONFIRM');
  expect(d4.labels.every((l) => l.applied)).toBe(true);

  // Leads that reach the user after step 1 are swept at confirm.
  await addLeads(prisma, ws.id, leaver, 7);

  await wizard.confirm(ws.id, d0.id, asAdmin(ws), { confirmation: 'CONFIRM' });
  const done = await finished(wizard, ws.id, d0.id);
  expect(done).toMatchObject({ status: 'COMPLETED', step: 'DONE' });
  expect(done.leads.swept).toBe(7);

  // Nothing points at the user any more; nothing was lost.
  expect(await prisma.user.findUnique({ where: { id: leaver } })).toBeNull();
  expect(await prisma.lead.count({ where: { workspaceId: ws.id } })).toBe(totalBefore + 7);
  expect(await prisma.lead.count({ where: { ownerId: leaver } })).toBe(0);
  expect(await prisma.automationMember.count({ where: { userId: leaver } })).toBe(0);
  expect(await prisma.integrationMember.count({ where: { userId: leaver } })).toBe(0);
  expect(await prisma.labelMember.count({ where: { userId: leaver } })).toBe(0);
  expect(await prisma.label.count({ where: { ownerId: leaver } })).toBe(0);
  expect(await prisma.apiToken.count({ where: { userId: leaver } })).toBe(0);
  expect(await prisma.label.findUnique({ where: { id: privateLabel } })).toBeNull();
  expect(await prisma.label.findUnique({ where: { id: sharedLabel } })).toMatchObject({ ownerId: bob });
  const members = await prisma.automationMember.findMany({ where: { automationId: untouched } });
  expect(members.map((m) => m.userId)).toEqual([ann]);
  const integration = await prisma.integrationMember.findMany({ where: { integrationId: source } });
  expect(integration.map((m) => [m.userId, m.weight])).toEqual([[bob, 100]]);

  // The email is free for reuse.
  await expect(
    prisma.user.create({ data: { workspaceId: ws.id, name: 'new', email: ws.users.leaver!.email, role: 'MEMBER' } }),
  ).resolves.toBeDefined();

  // The audit trail says who, by whom, what moved where.
  const audit = await wizard.audit(ws.id, d0.id, { limit: 500 });
  const actions = audit.items.map((e) => e.action);
  expect(actions).toEqual([
    'DELETION_STARTED',
    'LEADS_MOVED',
    'AUTOMATIONS_APPLIED',
    'INTEGRATIONS_APPLIED',
    'LABELS_APPLIED',
    'LEADS_SWEPT',
    'USER_DELETED',
  ]);
  for (const e of audit.items) expect(e.actor).toEqual({ type: 'USER', id: admin });
  const moved = audit.items.find((e) => e.action === 'LEADS_MOVED')!.detail;
  expect(moved).toMatchObject({
    fromUserId: leaver,
    moved: 30_001,
    // Moved in two concurrent streams; the second crossed from ann's share to bob's.
    streams: 2,
    targets: [
      { userId: ann, count: 15_001 },
      { userId: bob, count: 15_000 },
    ],
  });
  expect(audit.items.find((e) => e.action === 'LEADS_SWEPT')!.detail).toMatchObject({ moved: 7 });
  expect(audit.items.find((e) => e.action === 'USER_DELETED')!.detail).toMatchObject({
    userId: leaver,
    email: ws.users.leaver!.email,
    tokensRevoked: 1,
    privateLabelsDeleted: [privateLabel],
  });

  // Listing finds it as COMPLETED, not IN_PROGRESS.
  const inProgress = await wizard.list(ws.id, { status: 'IN_PROGRESS', limit: 50 });
  expect(inProgress.items).toHaveLength(0);
  const completed = await wizard.list(ws.id, { status: 'COMPLETED', limit: 50 });
  expect(completed.items.map((d) => d.id)).toEqual([d0.id]);

  // Each step waited for its acceptance to be on record with the no-op on the acknowledgement queue,
  // never with a timer (which the server fires up to a second late: every step would answer late).
  await h.temporal.workflow.getHandle(d0.workflowId).result(); // the run has closed: its history is whole
  const events = (await h.temporal.workflow.getHandle(d0.workflowId).fetchHistory()).events ?? [];
  const accepted = events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  const updates = accepted.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.name);
  expect(updates).toEqual(['waitOpened', 'submitLeads', 'submitAutomations', 'submitIntegrations', 'submitLabels', 'confirm']);
  for (const event of accepted.slice(1)) {
    const after = events.slice(events.indexOf(event) + 1);
    const scheduled = after.findIndex((e) => e.activityTaskScheduledEventAttributes);
    expect(after[scheduled]!.activityTaskScheduledEventAttributes).toMatchObject({
      activityType: { name: 'acknowledgeUpdate' },
      taskQueue: { name: acknowledgementTaskQueue(h.config.TEMPORAL_TASK_QUEUE) },
    });
    // Nothing written before it (no local transaction's marker), and no timer.
    const before = after.slice(0, scheduled);
    expect(before.filter((e) => e.timerStartedEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
  }
  // No timer at all: the run ends in a task of its own after the last answer (endApart), also
  // after the no-op, not after a timer the server would fire a second late (the run would close
  // that much later, and a new wizard of the same user waits for it to close).
  expect(events.filter((e) => e.timerStartedEventAttributes)).toEqual([]);
  const lastScheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).pop()!;
  expect(lastScheduled.activityTaskScheduledEventAttributes).toMatchObject({ activityType: { name: 'acknowledgeUpdate' } });
  expect(Number(lastScheduled.eventId)).toBeGreaterThan(Number(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).pop()!.eventId));
  expect(events.at(-1)!.workflowExecutionCompletedEventAttributes).toBeTruthy();
});

test('a user with nothing at all passes every empty step with empty inputs', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', idle: 'MEMBER' });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.idle!.id, actor: asAdmin(ws), source: 'ADMIN' });
  expect(deletion).toMatchObject({ automations: [], integrations: [], labels: [] });
  expect(deletion.leads.total).toBe(0);
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ws.users.owner!.id });
  await moveDone(wizard, ws.id, deletion.id);
  await wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitIntegrations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitLabels(ws.id, deletion.id, asAdmin(ws), { replacements: [] });
  await wizard.confirm(ws.id, deletion.id, asAdmin(ws), { confirmation: 'CONFIRM' });
  const done = await finished(wizard, ws.id, deletion.id);
  expect(done.status).toBe('COMPLETED');
  expect(done.leads).toMatchObject({ total: 0, moved: 0, swept: 0 });
  expect(await prisma.user.findUnique({ where: { id: ws.users.idle!.id } })).toBeNull();
});
