// Rules that count hold when two transactions run at the same moment. Each
// race is FORCED, not hoped for: a plain pg client holds, uncommitted, the
// audit row that the first opening transaction must write last (its
// idempotency key), so that transaction waits at its very end with all its
// reads and locks done; the second one is started and seen waiting too; then
// the hold is released. PGlite runs one transaction at a time, so there the
// overlap cannot be forced: the same openings are started at once and must
// end the same way (they also run on PostgreSQL, unforced).
// Also: a rule refused inside the opening transaction reaches the caller
// with its own reason.
import { Client } from 'pg';
import { createActivities } from '../../activities';
import { RuleViolation } from '../../domain/errors';
import type { WizardInput } from '../../domain/wizard-state';
import { DATABASE_KINDS } from '../db/helpers';
import { testEnv } from '../support/env';
import { addLeads, asAdmin, eventually, makeAutomation, makeLabel, makeWorkspace, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness();
});
afterAll(() => h?.close());

test('a rule refused inside the opening transaction answers with its own reason, not "could not open"', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  // Marked as leaving by something else than a wizard: the caller's check lets it through, the opening refuses.
  await prisma.user.update({ where: { id: ws.users.leaver!.id }, data: { status: 'PENDING_DELETION' } });
  const start = wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await expect(start).rejects.toBeInstanceOf(RuleViolation);
  await expect(start).rejects.toThrow(/already being deleted/);
});

const onPostgres = DATABASE_KINDS.includes('PostgreSQL');
let activities: ReturnType<typeof createActivities>;
beforeAll(() => {
  activities = createActivities(h.prisma, { min: 100, max: 1000, targetMs: 0, streams: 1 });
});

const opening = (ws: TestWorkspace, handle: string, actor: string, extra: Partial<WizardInput> = {}): WizardInput => ({
  deletionId: `del_race_${handle}_${ws.id}`,
  workspaceId: ws.id,
  userId: ws.users[handle]!.id,
  source: 'ADMIN',
  actor: { type: 'USER', id: ws.users[actor]!.id },
  reason: null,
  effectiveAt: null,
  ...extra,
});

/** Opens each wizard at once, in its own transaction; each ends 'opened' or with its refusal. */
const openAtOnce = (...inputs: WizardInput[]) =>
  Promise.all(inputs.map((input) => activities.openDeletion(input).then(() => 'opened' as const, (e: Error) => e)));

describe('openings started at once (every database; PGlite runs them one after the other)', () => {
  test('two OWNERs deleted at once (each by the other): one opens, the other is refused as the last owner', async () => {
    const ws = await makeWorkspace(h.prisma, { o1: 'OWNER', o2: 'OWNER', admin: 'ADMIN' });
    const results = await openAtOnce(opening(ws, 'o1', 'o2'), opening(ws, 'o2', 'o1'));
    expect(results.filter((r) => r === 'opened')).toHaveLength(1);
    const refused = results.find((r) => r !== 'opened') as Error;
    expect(refused).toMatchObject({ type: 'RuleViolation' });
    expect(refused.message).toMatch(/last owner/);
    expect(await h.prisma.user.count({ where: { workspaceId: ws.id, role: 'OWNER', status: 'ACTIVE' } })).toBe(1);
  });

  test('two wizards opening at once for the same user (HR, SUSPENDED until a later date): one opens, the other is refused', async () => {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
    const later = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const a = { ...opening(ws, 'leaver', 'admin', { effectiveAt: later }), deletionId: `del_race_a_${ws.id}` };
    const b = { ...opening(ws, 'leaver', 'admin', { effectiveAt: later }), deletionId: `del_race_b_${ws.id}` };
    const results = await openAtOnce(a, b);
    expect(results.filter((r) => r === 'opened')).toHaveLength(1);
    expect((results.find((r) => r !== 'opened') as Error).message).toMatch(/already being deleted/);
    expect(await h.prisma.deletion.count({ where: { workspaceId: ws.id, status: 'IN_PROGRESS' } })).toBe(1);
  });
});

// Registered where the overlap can be forced (a second connection holds a row); PGlite has one.
if (onPostgres) describe('forced overlaps on PostgreSQL', () => {
  let hold: Client;
  let holdPid: number;
  beforeEach(async () => {
    hold = new Client({ connectionString: testEnv().databaseUrl });
    await hold.connect();
    holdPid = (await hold.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  });
  afterEach(async () => {
    await hold.query('ROLLBACK').catch(() => undefined);
    await hold.end();
  });

  /** Holds, uncommitted, the audit rows these deletions will write: their transactions wait there at the end. */
  async function holdAuditKeys(ws: TestWorkspace, keys: string[]) {
    await hold.query('BEGIN');
    for (const key of keys) {
      await hold.query(
        `INSERT INTO audit_events (id, workspace_id, actor_type, actor_id, action, detail, idempotency_key)
         VALUES ($1, $2, 'SYSTEM', 'test', 'HOLD', '{}', $3)`,
        [`hold-${key}`, ws.id, key],
      );
    }
  }

  /** Waits until `n` backends are waiting, directly or through each other, on the holding client. */
  async function waitersOnHold(n: number) {
    const probe = new Client({ connectionString: testEnv().databaseUrl });
    await probe.connect();
    try {
      await eventually(async () => {
        const { rows } = await probe.query<{ pid: number; blockers: number[] }>(
          `SELECT pid, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity WHERE wait_event_type = 'Lock'`,
        );
        const blocked = new Set<number>([holdPid]);
        for (let grew = true; grew; ) {
          grew = false;
          for (const r of rows) {
            if (!blocked.has(r.pid) && r.blockers.some((b) => blocked.has(b))) {
              blocked.add(r.pid);
              grew = true;
            }
          }
        }
        return blocked.size - 1 >= n ? true : undefined;
      }, 30_000, `${n} transaction(s) waiting`);
    } finally {
      await probe.end();
    }
  }

  test('two OWNERs deleted at the same moment (each by the other): one opens, the other is refused as the last owner', async () => {
    const ws = await makeWorkspace(h.prisma, { o1: 'OWNER', o2: 'OWNER', admin: 'ADMIN' });
    const a = opening(ws, 'o1', 'o2');
    const b = opening(ws, 'o2', 'o1');
    await holdAuditKeys(ws, [`${a.deletionId}:DELETION_STARTED`, `${b.deletionId}:DELETION_STARTED`]);
    const first = activities.openDeletion(a).then(
      () => 'opened',
      (e: Error) => e,
    );
    await waitersOnHold(1);
    const second = activities.openDeletion(b).then(
      () => 'opened',
      (e: Error) => e,
    );
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    const results = await Promise.all([first, second]);
    expect(results.filter((r) => r === 'opened')).toHaveLength(1);
    const refused = results.find((r) => r !== 'opened') as Error;
    expect(refused).toMatchObject({ type: 'RuleViolation' });
    expect(refused.message).toMatch(/last owner/);
    expect(await h.prisma.user.count({ where: { workspaceId: ws.id, role: 'OWNER', status: 'ACTIVE' } })).toBe(1);
  });

  test('two wizards opening for the same user (HR, user SUSPENDED until a later date): one opens, the other is refused', async () => {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
    const later = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const a = { ...opening(ws, 'leaver', 'admin', { effectiveAt: later }), deletionId: `del_race_a_${ws.id}` };
    const b = { ...opening(ws, 'leaver', 'admin', { effectiveAt: later }), deletionId: `del_race_b_${ws.id}` };
    await holdAuditKeys(ws, [`${a.deletionId}:DELETION_STARTED`, `${b.deletionId}:DELETION_STARTED`]);
    const first = activities.openDeletion(a).then(() => 'opened', (e: Error) => e);
    await waitersOnHold(1);
    const second = activities.openDeletion(b).then(() => 'opened', (e: Error) => e);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    const results = await Promise.all([first, second]);
    expect(results.filter((r) => r === 'opened')).toHaveLength(1);
    expect((results.find((r) => r !== 'opened') as Error).message).toMatch(/already being deleted/);
    expect(await h.prisma.deletion.count({ where: { workspaceId: ws.id, status: 'IN_PROGRESS' } })).toBe(1);
  });

  test("a lead step's plan run twice at once (a workflow task replayed while its first attempt still runs): one plan, both attempts answer it", async () => {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 10 });
    const leaving = opening(ws, 'leaver', 'admin');
    await activities.openDeletion(leaving);
    // The target's row held: each attempt waits there, after it has looked for a plan and found none.
    await holdUsers([ws.users.ann!.id]);
    const first = planToAnn(ws, leaving);
    await waitersOnHold(1);
    const second = planToAnn(ws, leaving);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    const results = await Promise.all([first, second]);
    // Not "the database refused the change" (a duplicate plan) for one of them: the same plan for both.
    expect(results).toEqual([
      { total: 10, targets: [{ userId: ws.users.ann!.id, quota: 10 }] },
      { total: 10, targets: [{ userId: ws.users.ann!.id, quota: 10 }] },
    ]);
    expect(await h.prisma.leadMove.count({ where: { deletionId: leaving.deletionId } })).toBe(1);
  });

  /** Leavers a and b (wizards open) of one automation with c; d beside them. */
  async function twoLeaversOfOneAutomation() {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', a: 'MEMBER', b: 'MEMBER', c: 'MEMBER', d: 'MEMBER' });
    const [a, b, c, d] = [ws.users.a!.id, ws.users.b!.id, ws.users.c!.id, ws.users.d!.id];
    const shared = await makeAutomation(h.prisma, ws.id, 'Round robin', [a, b, c].map((userId) => ({ userId, weight: 1 })));
    const [leavingA, leavingB] = [opening(ws, 'a', 'admin'), opening(ws, 'b', 'admin')];
    await activities.openDeletion(leavingA);
    await activities.openDeletion(leavingB);
    return { ws, a, c, d, shared, leavingA, leavingB };
  }

  /** Step 1's plan for `leaving`: all of the leaver's leads to Ann. Its answer, or its refusal. */
  const planToAnn = (ws: TestWorkspace, leaving: WizardInput) =>
    activities
      .startLeadMove({
        workspaceId: ws.id,
        deletionId: leaving.deletionId,
        userId: ws.users.leaver!.id,
        kind: 'MOVE',
        distribution: [{ userId: ws.users.ann!.id, weight: 100 }],
        actor: leaving.actor,
      })
      .then((planned) => planned, (e: Error) => e);

  /** The confirm's last transaction for `leaving` (removing `userId`): 'removed', or its refusal. */
  const removal = (ws: TestWorkspace, leaving: WizardInput, userId: string) =>
    activities
      .removeUser({ workspaceId: ws.id, deletionId: leaving.deletionId, userId, actor: leaving.actor, fallback: null })
      .then(() => 'removed', (e: Error) => e);

  /**
   * B's confirm started while a test connection holds a row it needs (`held`, a query locking it), then A's once
   * B's waits; both let go once A's waits too (on B's, or on the held row): their answers, A's first.
   */
  async function confirmsWhileBWaits(ws: TestWorkspace, [leavingB, b]: [WizardInput, string], [leavingA, a]: [WizardInput, string], held: [string, string[]]) {
    await hold.query('BEGIN');
    await hold.query(...held);
    const second = removal(ws, leavingB, b);
    await waitersOnHold(1);
    const first = removal(ws, leavingA, a);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    return Promise.all([first, second]);
  }

  /** Holds, uncommitted, the rows of these users: a step naming one of them as a target waits in its first check. */
  async function holdUsers(ids: string[]) {
    await hold.query('BEGIN');
    await hold.query('SELECT id FROM users WHERE id = ANY($1) FOR UPDATE', [ids]);
  }

  test('two leavers of one automation, their steps applied at the same moment (a layoff): both apply, the automation ends with one of their distributions', async () => {
    const { c, d, shared, leavingA, leavingB } = await twoLeaversOfOneAutomation();
    const apply = (leaving: WizardInput, distribution: { userId: string; weight: number }[]) =>
      activities
        .applyRouting({ ...leaving, kind: 'automations', ids: [shared], overrides: [{ id: shared, distribution }], actor: leaving.actor })
        .then(() => 'applied', (e: Error) => e);
    await holdUsers([c]);
    const first = apply(leavingA, [{ userId: c, weight: 50 }, { userId: d, weight: 50 }]);
    await waitersOnHold(1);
    const second = apply(leavingB, [{ userId: c, weight: 100 }]);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    // Not "the database refused the change" (a duplicate member) for the second.
    expect(await Promise.all([first, second])).toEqual(['applied', 'applied']);
    const members = await h.prisma.automationMember.findMany({ where: { automationId: shared }, orderBy: { position: 'asc' } });
    expect([[`${c}:50`, `${d}:50`].join(), `${c}:100`]).toContain(members.map((m) => `${m.userId}:${m.weight}`).join());
  });

  test("a leaver's confirm while another leaver's step replaces the automation they share (a layoff): the confirm sees that step's members, no refusal", async () => {
    const { ws, a, c, d, shared, leavingA, leavingB } = await twoLeaversOfOneAutomation();
    // B's step holds at its very end: its members written (c and d), not committed.
    await holdAuditKeys(ws, [`${leavingB.deletionId}:AUTOMATIONS_APPLIED`]);
    const step = activities
      .applyRouting({ ...leavingB, kind: 'automations', ids: [shared], overrides: [{ id: shared, distribution: [{ userId: c, weight: 50 }, { userId: d, weight: 50 }] }], actor: leavingB.actor })
      .then(() => 'applied', (e: Error) => e);
    await waitersOnHold(1);
    // A's confirm removes A meanwhile: it must not rebuild the automation from the members it saw before B's commit.
    const removed = removal(ws, leavingA, a);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    expect(await Promise.all([step, removed])).toEqual(['applied', 'removed']);
    const members = await h.prisma.automationMember.findMany({ where: { automationId: shared }, orderBy: { position: 'asc' } });
    // B's choice stands (not overwritten with a list that puts B back in).
    expect(members.map((m) => `${m.userId}:${m.weight}`)).toEqual([`${c}:50`, `${d}:50`]);
  });

  test('two leavers of one automation confirmed at the same moment (a layoff): both are removed, neither is put back by the other', async () => {
    const { ws, a, c, shared, leavingA, leavingB } = await twoLeaversOfOneAutomation();
    // A's confirm holds at its very end: the automation rewritten without A, not committed.
    await holdAuditKeys(ws, [`${leavingA.deletionId}:USER_DELETED`]);
    const first = removal(ws, leavingA, a);
    await waitersOnHold(1);
    // B's confirm meanwhile: it must wait for A's rows, not rebuild the automation from the members it saw before.
    const second = removal(ws, leavingB, ws.users.b!.id);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    expect(await Promise.all([first, second])).toEqual(['removed', 'removed']);
    const members = await h.prisma.automationMember.findMany({ where: { automationId: shared }, orderBy: { position: 'asc' } });
    expect(members.map((m) => m.userId)).toEqual([c]);
    expect(await h.prisma.user.count({ where: { id: { in: [a, ws.users.b!.id] }, status: 'ACTIVE' } })).toBe(0);
  });

  test("two leavers of one automation confirmed at the same moment, the one whose user is kept by the other's new members locked first: no deadlock, both removed", async () => {
    const { ws, a, c, shared, leavingA, leavingB } = await twoLeaversOfOneAutomation();
    const b = ws.users.b!.id;
    await addLeads(h.prisma, ws.id, b, 1);
    // B's confirm holds after locking B's user row, at B's last lead; A's rewrites the automation to B and C,
    // so on the code before its new member row waited for B's user row while B's confirm waited for the automation.
    // Not a deadlock for one of them (40P01, which Prisma reports as P2034; the activity's policy would retry it a second later).
    expect(await confirmsWhileBWaits(ws, [leavingB, b], [leavingA, a], ['SELECT id FROM leads WHERE owner_id = $1 FOR UPDATE', [b]])).toEqual([
      'removed',
      'removed',
    ]);
    const members = await h.prisma.automationMember.findMany({ where: { automationId: shared }, orderBy: { position: 'asc' } });
    expect(members.map((m) => m.userId)).toEqual([c]);
  });

  test("a leaver's private labels, another leaver a member of two of them, both confirmed at the same moment: no deadlock, both removed", async () => {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', a: 'MEMBER', b: 'MEMBER' });
    const [a, b] = [ws.users.a!.id, ws.users.b!.id];
    const [leavingA, leavingB] = [opening(ws, 'a', 'admin'), opening(ws, 'b', 'admin')];
    await activities.openDeletion(leavingA);
    await activities.openDeletion(leavingB);
    // A's private labels L and M, in that order; B's memberships written M first: B's confirm removes them in
    // the other order than A's confirm does when it deletes the labels (and their members with them).
    const [l, m] = [await makeLabel(h.prisma, ws.id, 'L', 'PRIVATE', a, []), await makeLabel(h.prisma, ws.id, 'M', 'PRIVATE', a, [])];
    await h.prisma.labelMember.create({ data: { labelId: m, userId: b, position: 0 } });
    await h.prisma.labelMember.create({ data: { labelId: l, userId: b, position: 0 } });
    // B's confirm holds at its first membership (M's); A's comes to the same rows meanwhile (on the code before,
    // it deleted L's member, then waited for M's, while B's went on to L's: a deadlock).
    const held: [string, string[]] = ['SELECT 1 FROM label_members WHERE label_id = $1 AND user_id = $2 FOR UPDATE', [m, b]];
    expect(await confirmsWhileBWaits(ws, [leavingB, b], [leavingA, a], held)).toEqual(['removed', 'removed']);
    expect(await h.prisma.label.count({ where: { id: { in: [l, m] } } })).toBe(0);
  });

  test('two leavers of one shared label, each replaced by the same colleague at the same moment: both apply, the colleague is a member once', async () => {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', a: 'MEMBER', b: 'MEMBER', c: 'MEMBER' });
    const [a, b, c] = [ws.users.a!.id, ws.users.b!.id, ws.users.c!.id];
    const label = await makeLabel(h.prisma, ws.id, 'Key accounts', 'SHARED', ws.users.owner!.id, [a, b]);
    const [leavingA, leavingB] = [opening(ws, 'a', 'admin'), opening(ws, 'b', 'admin')];
    await activities.openDeletion(leavingA);
    await activities.openDeletion(leavingB);
    const apply = (leaving: WizardInput) =>
      activities
        .applyLabels({ ...leaving, labelIds: [label], replacements: [{ labelId: label, replacementUserId: c }], actor: leaving.actor })
        .then(() => 'applied', (e: Error) => e);
    await holdUsers([c]);
    const first = apply(leavingA);
    await waitersOnHold(1);
    const second = apply(leavingB);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    expect(await Promise.all([first, second])).toEqual(['applied', 'applied']);
    const members = await h.prisma.labelMember.findMany({ where: { labelId: label } });
    expect(members.map((m) => m.userId)).toEqual([c]);
  });

  test('a step-1 target whose own wizard is opening at that moment: the step waits for it, then is refused', async () => {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 10 });
    const leaving = opening(ws, 'leaver', 'admin');
    await activities.openDeletion(leaving);
    const annLeaving = opening(ws, 'ann', 'admin');
    await holdAuditKeys(ws, [`${annLeaving.deletionId}:DELETION_STARTED`]);
    const annOpened = activities.openDeletion(annLeaving);
    await waitersOnHold(1);
    // Ann's opening holds her row; step 1 of the other wizard names her as the target.
    const step = planToAnn(ws, leaving);
    await waitersOnHold(2);
    await hold.query('ROLLBACK');
    await annOpened;
    const refused = (await step) as Error;
    expect(refused).toMatchObject({ type: 'RuleViolation' });
    expect(refused.message).toMatch(/being deleted/);
    expect(await h.prisma.leadMove.count({ where: { deletionId: leaving.deletionId } })).toBe(0);
  });
});

test('the admin who confirmed is gone or no longer an admin by the removal: the labels the step gave for want of a replacement stay where they are, and the user is removed', async () => {
  // Found by a review: the removal gave such a label to the confirming admin unchecked, so an admin removed
  // meanwhile failed the removal's foreign key at every retry (the wizard stuck after CONFIRM), and one
  // demoted or suspended still got the label.
  for (const gone of ['removed', 'suspended', 'demoted'] as const) {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', confirmer: 'ADMIN', leaver: 'MEMBER' });
    const label = await makeLabel(h.prisma, ws.id, 'Leaver owns', 'PUBLIC', ws.users.leaver!.id, []);
    const leaving = opening(ws, 'leaver', 'admin');
    await activities.openDeletion(leaving);
    await activities.applyLabels({ ...leaving, labelIds: [label], replacements: [{ labelId: label, replacementUserId: null }], actor: leaving.actor });
    const confirmer = ws.users.confirmer!.id;
    if (gone === 'removed') await h.prisma.user.delete({ where: { id: confirmer } });
    if (gone === 'suspended') await h.prisma.user.update({ where: { id: confirmer }, data: { status: 'SUSPENDED' } });
    if (gone === 'demoted') await h.prisma.user.update({ where: { id: confirmer }, data: { role: 'MEMBER' } });
    const removed = await activities
      .removeUser({ workspaceId: ws.id, deletionId: leaving.deletionId, userId: ws.users.leaver!.id, actor: { type: 'USER', id: confirmer }, fallback: null })
      .then(() => 'removed', (e: Error) => e.message);
    expect({ gone, removed }).toEqual({ gone, removed: 'removed' });
    expect({ gone, owner: (await h.prisma.label.findUniqueOrThrow({ where: { id: label } })).ownerId }).toEqual({ gone, owner: ws.users.admin!.id });
    expect(await h.prisma.user.count({ where: { id: ws.users.leaver!.id } })).toBe(0);
  }
});
