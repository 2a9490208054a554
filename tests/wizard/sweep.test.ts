// The step-1 choice, kept to the end (wizard.md, step 1 and Confirm): the
// final sweep moves what reached the user after step 1 so that each target's
// whole share of the user's book is the floor or the ceiling of its exact
// share; and when every step-1 target leaves mid-move, the rest waits with
// the user for CONFIRM, where the confirming admin takes it (or a target who
// came back). Whole wizards on a real worker, the move paced by the test.
import { MovePace } from '../support/move-pace';
import { addLeads, asAdmin, eventually, finished, leadsByOwner, makeWorkspace, moveDone, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

const pace = new MovePace();
let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness({ batchSize: 1_000, pace });
});
afterAll(() => h?.close());
afterEach(() => pace.open());

/** Steps 2-4 with nothing changed, then CONFIRM by `confirmer`. */
async function passAndConfirm(ws: TestWorkspace, deletionId: string, confirmer = 'admin') {
  const { wizard } = h;
  await wizard.submitAutomations(ws.id, deletionId, asAdmin(ws), { overrides: [] });
  await wizard.submitIntegrations(ws.id, deletionId, asAdmin(ws), { overrides: [] });
  await wizard.submitLabels(ws.id, deletionId, asAdmin(ws), { replacements: [] });
  await wizard.confirm(ws.id, deletionId, asAdmin(ws, confirmer), { confirmation: 'CONFIRM' });
  expect((await finished(wizard, ws.id, deletionId)).status).toBe('COMPLETED');
}

const auditOf = (deletionId: string, action: string) =>
  h.prisma.auditEvent.findFirstOrThrow({ where: { deletionId, action }, orderBy: [{ at: 'desc' }, { id: 'desc' }] });

test.each([
  // 5 leads at 50/50 give 3 and 2; with 3 more the book of 8 is 4 and 4, not 3+2 and 2+1.
  { weights: [50, 50], before: 5, after: 3, step1: [3, 2], whole: [4, 4] },
  // 7 at 33/33/34 give 2, 2, 3; with 5 more the book of 12 is 4, 4, 4 (the sweep alone would give 2, 1, 2).
  { weights: [33, 33, 34], before: 7, after: 5, step1: [2, 2, 3], whole: [4, 4, 4] },
])('the sweep completes the step-1 split over the whole book: $before + $after leads at $weights', async ({ weights, before, after, step1, whole }) => {
  const { prisma, wizard } = h;
  const handles = ['ann', 'bob', 'cat'].slice(0, weights.length);
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER', cat: 'MEMBER' }, { leaver: before });
  const targets = handles.map((handle) => ws.users[handle]!.id);
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { distribution: targets.map((userId, i) => ({ userId, weight: weights[i]! })) });
  await moveDone(wizard, ws.id, deletion.id);
  expect(await leadsByOwner(prisma, ws.id)).toEqual(Object.fromEntries(targets.map((id, i) => [id, step1[i]])));

  // Leads that reach the user after step 1 (the CRM writes them directly).
  await addLeads(prisma, ws.id, ws.users.leaver!.id, after);
  await passAndConfirm(ws, deletion.id);
  expect(await leadsByOwner(prisma, ws.id)).toEqual(Object.fromEntries(targets.map((id, i) => [id, whole[i]])));
  const swept = await auditOf(deletion.id, 'LEADS_SWEPT');
  expect(swept.detail).toMatchObject({ moved: after, targets: targets.map((userId, i) => ({ userId, count: whole[i]! - step1[i]! })) });
}, 120_000);

/** A wizard whose only step-1 target, Bob, starts leaving once the first 1,000 of 3,000 leads have moved. */
async function onlyTargetLeavesMidMove() {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', bob: 'MEMBER' }, { leaver: 3_000 });
  const [bob, leaver] = [ws.users.bob!.id, ws.users.leaver!.id];
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: asAdmin(ws), source: 'ADMIN' });
  pace.hold();
  pace.let(1);
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: bob });
  await eventually(async () => ((await wizard.get(ws.id, deletion.id)).leads.moved === 1_000 && pace.waiting > 0 ? true : undefined));
  // Bob's own wizard opens (PENDING_DELETION): from now on nothing more for him.
  const bobs = await wizard.start({ workspaceId: ws.id, userId: bob, actor: asAdmin(ws), source: 'ADMIN' });
  pace.open();
  const moved = await moveDone(wizard, ws.id, deletion.id);
  return { ws, deletion, bob, leaver, bobsDeletionId: bobs.deletion.id, moved };
}

test('the only target leaves mid-move: the rest stays with the user until CONFIRM, then goes to the confirming admin', async () => {
  const { prisma, wizard } = h;
  const { ws, deletion, bob, leaver, bobsDeletionId, moved } = await onlyTargetLeavesMidMove();
  // The move ends short; the wizard goes on (it never waits on a target).
  expect(moved.leads).toMatchObject({ total: 3_000, moved: 1_000, state: 'DONE' });
  expect(moved.step).toBe('AUTOMATIONS');
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [bob]: 1_000, [leaver]: 2_000 });
  expect((await auditOf(deletion.id, 'LEAD_TARGET_LEFT')).detail).toMatchObject({ leftUserId: bob, remaining: 2_000, to: [], untilConfirm: true });
  expect((await auditOf(deletion.id, 'LEADS_MOVED')).detail).toMatchObject({
    moved: 1_000,
    targetsLeft: [{ leftUserId: bob, remaining: 2_000, to: [], untilConfirm: true }],
  });

  // Not the admin who chose Bob at step 1: the owner confirms, and takes the rest.
  await passAndConfirm(ws, deletion.id, 'owner');
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [bob]: 1_000, [ws.users.owner!.id]: 2_000 });
  // The sweep's audit says why the step-1 choice was not followed.
  expect((await auditOf(deletion.id, 'LEADS_SWEPT')).detail).toMatchObject({ moved: 2_000, choiceLeft: [bob], targets: [{ userId: ws.users.owner!.id, count: 2_000 }] });
  await wizard.cancel(ws.id, bobsDeletionId, asAdmin(ws), {});
}, 120_000);

test('the only target leaves mid-move and comes back before CONFIRM: the sweep gives them the rest, as chosen at step 1', async () => {
  const { prisma, wizard } = h;
  const { ws, deletion, bob, leaver, bobsDeletionId } = await onlyTargetLeavesMidMove();
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [bob]: 1_000, [leaver]: 2_000 });
  // Bob stays after all: his wizard is cancelled, he is ACTIVE again.
  await wizard.cancel(ws.id, bobsDeletionId, asAdmin(ws), {});
  expect((await finished(wizard, ws.id, bobsDeletionId)).status).toBe('CANCELLED');
  await passAndConfirm(ws, deletion.id, 'owner');
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [bob]: 3_000 });
}, 120_000);
