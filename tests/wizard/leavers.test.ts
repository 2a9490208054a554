// A step-1 target who leaves while the move runs (their own wizard) gets
// nothing more: their remaining share goes to the other targets, or, where
// none is left, waits with the user for CONFIRM (tests/wizard/sweep.test.ts),
// the audit says so, and the move never waits on them. The move is driven slice by slice (as the workflow would), the
// leaver's own wizard runs for real in between.
import { createActivities } from '../../activities';
import { leadMoveEngine, type MoveTuning, type SliceIo } from '../../activities/lead-move/engine';
import { handOver } from '../../activities/lead-move/sql';
import { asAdmin, plannedMove, finished, leadsByOwner, makeWorkspace, moveDone, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

/** Fixed batches of 1,000 in two streams. */
const TUNING: MoveTuning = { min: 100, max: 1_000, targetMs: 0, streams: 2 };

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness();
});
afterAll(() => h?.close());

const io = (): SliceIo => ({ heartbeat: () => {}, signal: new AbortController().signal, log: { info: () => {} } });

async function openMove(ws: TestWorkspace, distribution: { userId: string; weight: number }[]) {
  const activities = createActivities(h.prisma, TUNING);
  const input = await plannedMove(activities, ws, `del_leavers_${ws.id}`, distribution);
  const engine = leadMoveEngine(h.prisma, TUNING);
  /** One slice: one batch in each stream. */
  const slice = () => engine.moveSlice({ workspaceId: ws.id, deletionId: input.deletionId, kind: 'MOVE', budgetMs: 0, actor: asAdmin(ws) }, io());
  const rest = async () => {
    for (let i = 0; i < 100; i++) if ((await slice()).done) return;
    throw new Error('the move did not finish');
  };
  const finish = () => activities.finishLeadMove({ workspaceId: ws.id, deletionId: input.deletionId, kind: 'MOVE', actor: asAdmin(ws) });
  return { deletionId: input.deletionId, slice, rest, finish };
}

/** The user's own wizard, start to finish (their leads to `heir`). */
async function offboard(ws: TestWorkspace, handle: string, heir: string) {
  const { wizard } = h;
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users[handle]!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: heir });
  await moveDone(wizard, ws.id, deletion.id);
  await wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitIntegrations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  await wizard.submitLabels(ws.id, deletion.id, asAdmin(ws), { replacements: [] });
  await wizard.confirm(ws.id, deletion.id, asAdmin(ws), { confirmation: 'CONFIRM' });
  expect((await finished(wizard, ws.id, deletion.id)).status).toBe('COMPLETED');
}

test('a target whose own wizard completes mid-move: the rest of their share goes to the others, in proportion, audited', async () => {
  const { prisma } = h;
  const ws = await makeWorkspace(
    prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER', cat: 'MEMBER', dan: 'MEMBER' },
    { leaver: 20_000 },
  );
  const [ann, bob, cat, dan, leaver] = ['ann', 'bob', 'cat', 'dan', 'leaver'].map((k) => ws.users[k]!.id) as [string, string, string, string, string];
  // Quotas 10,000 / 6,000 / 4,000; stream 0 is Ann's segment, stream 1 starts in Bob's.
  const move = await openMove(ws, [
    { userId: ann, weight: 50 },
    { userId: bob, weight: 30 },
    { userId: cat, weight: 20 },
  ]);
  await move.slice();
  await move.slice();
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 2_000, [bob]: 2_000, [leaver]: 16_000 });

  // Bob leaves the company first: his own wizard gives his 2,000 to Dan and removes him.
  await offboard(ws, 'bob', dan);
  expect(await prisma.user.findUnique({ where: { id: bob } })).toBeNull();

  await move.rest();
  // Bob's remaining 4,000 went to Ann and Cat at 10,000 : 4,000 (largest remainder): 2,857 and 1,143.
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [ann]: 12_857, [cat]: 5_143, [dan]: 2_000 });
  await move.finish();
  const audit = await prisma.auditEvent.findMany({ where: { deletionId: move.deletionId }, orderBy: [{ at: 'asc' }, { id: 'asc' }] });
  expect(audit.map((e) => e.action)).toEqual(['DELETION_STARTED', 'LEAD_TARGET_LEFT', 'LEADS_MOVED']);
  expect(audit[1]!.detail).toMatchObject({
    leftUserId: bob,
    remaining: 4_000,
    to: [
      { userId: ann, count: 2_857 },
      { userId: cat, count: 1_143 },
    ],
  });
  expect(audit[2]!.detail).toMatchObject({
    moved: 20_000,
    targets: [
      { userId: ann, count: 12_857 },
      { userId: bob, count: 2_000 },
      { userId: cat, count: 5_143 },
    ],
    targetsLeft: [{ leftUserId: bob, remaining: 4_000 }],
  });
}, 300_000);

test('the only target starts leaving mid-move: they get nothing more, the move ends there and the rest waits with the user for CONFIRM', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', bob: 'MEMBER' }, { leaver: 3_000 });
  const [bob, leaver] = [ws.users.bob!.id, ws.users.leaver!.id];
  const move = await openMove(ws, [{ userId: bob, weight: 100 }]);
  await move.slice();
  // Bob's own wizard opens (PENDING_DELETION): from now on nothing more for him.
  const bobs = await wizard.start({ workspaceId: ws.id, userId: bob, actor: asAdmin(ws), source: 'ADMIN' });
  // The next slice finds him gone and ends the move: nobody is left to take the rest until CONFIRM.
  expect(await move.slice()).toMatchObject({ done: true, moved: 1_000, total: 3_000 });
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [bob]: 1_000, [leaver]: 2_000 });
  const left = await prisma.auditEvent.findFirstOrThrow({ where: { deletionId: move.deletionId, action: 'LEAD_TARGET_LEFT' } });
  expect(left.detail).toEqual({ kind: 'MOVE', fromUserId: leaver, leftUserId: bob, remaining: 2_000, to: [], untilConfirm: true });
  // A slice run again (a retry) finds the move ended, and moves nothing; a handover asked again
  // (a batch that found its stream closed and its target gone) finds nothing to hand over, nor to audit.
  expect(await move.slice()).toMatchObject({ done: true, moved: 1_000 });
  expect(await handOver(prisma, ws.id, move.deletionId, 'MOVE', asAdmin(ws))).toBe(false);
  expect(await leadsByOwner(prisma, ws.id)).toEqual({ [bob]: 1_000, [leaver]: 2_000 });
  expect(await prisma.auditEvent.count({ where: { deletionId: move.deletionId, action: 'LEAD_TARGET_LEFT' } })).toBe(1);
  await wizard.cancel(ws.id, bobs.deletion.id, asAdmin(ws), {});
}, 300_000);
