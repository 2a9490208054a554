// Steps over many items, grown since the wizard opened (a scale probe).
// - A routing step whose items gained thousands of members while the wizard
//   waited: its result would have passed the 2 MB Temporal records, and
//   Temporal ended the workflow for good (the wizard at LABELS, cancel 409,
//   the user PENDING_DELETION forever). Now the step is refused (422) before it
//   writes, and the wizard waits at the step, cancellable.
// - A confirm that finds 40,000 automations naming only the user (they came
//   after the steps): the removal rewrote them one round trip each, past the
//   transaction's 60 s on every try, retried forever with no `attention`.
//   Now they are rewritten in two statements.
import { randomUUID } from 'node:crypto';
import { RuleViolation } from '../../domain/errors';
import { asAdmin, finished, makeWorkspace, moveDone, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
let ws: TestWorkspace;

/** Colleagues who join every grown integration. */
const CROWD = 50;

beforeAll(async () => {
  h = await wizardHarness();
  const crowd = Object.fromEntries(Array.from({ length: CROWD }, (_, i) => [`crowd${i}`, 'MEMBER' as const]));
  ws = await makeWorkspace(h.prisma, { admin: 'ADMIN', leaver: 'MEMBER', late: 'MEMBER', heir: 'MEMBER', ...crowd });
});
afterAll(async () => {
  await h?.close();
});

/** `count` integrations (or automations) of the workspace, each shared by `members` in that order (equal weights). */
async function routedTo(kind: 'integrations' | 'automations', count: number, members: string[]): Promise<string> {
  const tag = `big_${randomUUID().slice(0, 8)}`;
  const [table, memberTable, column] =
    kind === 'integrations' ? ['integrations', 'integration_members', 'integration_id'] : ['automations', 'automation_members', 'automation_id'];
  const extra = kind === 'integrations' ? `, source` : '';
  const extraValue = kind === 'integrations' ? `, 'web-form'` : '';
  await h.prisma.$executeRawUnsafe(
    `INSERT INTO ${table} (id, workspace_id, name${extra}) SELECT '${tag}_' || i, $1, 'Item ' || i${extraValue} FROM generate_series(1, ${count}) i`,
    ws.id,
  );
  await addMembers(memberTable, column, tag, count, members, 0);
  return tag;
}

async function addMembers(memberTable: string, column: string, tag: string, count: number, members: string[], from: number): Promise<void> {
  const weight = Math.floor(100 / (from + members.length));
  await h.prisma.$executeRawUnsafe(
    `INSERT INTO ${memberTable} (${column}, user_id, weight, position)
     SELECT '${tag}_' || i, m.user_id, ${weight}, ${from} + m.n - 1
     FROM generate_series(1, ${count}) i, unnest($1::text[]) WITH ORDINALITY AS m(user_id, n)`,
    members,
  );
}

test('a routing step whose items grew past what a wizard carries is refused before it writes; the wizard waits, cancellable', async () => {
  const actor = asAdmin(ws);
  const [leaver, late] = [ws.users.leaver!.id, ws.users.late!.id];
  const tag = await routedTo('integrations', 1_000, [leaver, late]);
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  expect(deletion.integrations).toHaveLength(1_000);
  await h.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: late });
  await moveDone(h.wizard, ws.id, deletion.id, 60_000);
  await h.wizard.submitAutomations(ws.id, deletion.id, actor, { overrides: [] });
  // While it waits at INTEGRATIONS, 50 more colleagues join each one: the suggestion for each is now 51 members.
  const crowd = Array.from({ length: CROWD }, (_, i) => ws.users[`crowd${i}`]!.id);
  await addMembers('integration_members', 'integration_id', tag, 1_000, crowd, 2);

  const refused = await h.wizard.submitIntegrations(ws.id, deletion.id, actor, { overrides: [] }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(RuleViolation);
  expect((refused as Error).message).toMatch(/would make the wizard weigh .* MB: more than one wizard can carry/);
  // Nothing written: the leaver is still in every one of them, and the wizard waits at the step.
  expect(await h.prisma.integrationMember.count({ where: { userId: leaver, integrationId: { startsWith: tag } } })).toBe(1_000);
  expect(await h.wizard.get(ws.id, deletion.id)).toMatchObject({ status: 'IN_PROGRESS', step: 'INTEGRATIONS', attention: null });
  // Cancellable, as every wizard before CONFIRM.
  expect(await h.wizard.cancel(ws.id, deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
  expect(await finished(h.wizard, ws.id, deletion.id)).toMatchObject({ status: 'CANCELLED' });
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
  await h.prisma.integration.deleteMany({ where: { id: { startsWith: tag } } });
}, 180_000);

test('a confirm that finds 40,000 automations naming only the user gives them all to the heir', async () => {
  const actor = asAdmin(ws);
  const [leaver, heir] = [ws.users.leaver!.id, ws.users.heir!.id];
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  await h.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: heir });
  await moveDone(h.wizard, ws.id, deletion.id, 60_000);
  await h.wizard.submitAutomations(ws.id, deletion.id, actor, { overrides: [] });
  await h.wizard.submitIntegrations(ws.id, deletion.id, actor, { overrides: [] });
  await h.wizard.submitLabels(ws.id, deletion.id, actor, { replacements: [] });
  // After the steps, the CRM put the user alone in 40,000 automations.
  const tag = await routedTo('automations', 40_000, [leaver]);
  await h.wizard.confirm(ws.id, deletion.id, actor, { confirmation: 'CONFIRM' });
  expect(await finished(h.wizard, ws.id, deletion.id, 150_000)).toMatchObject({ status: 'COMPLETED', attention: null });
  expect(await h.prisma.automationMember.count({ where: { automationId: { startsWith: tag } } })).toBe(40_000);
  expect(await h.prisma.automationMember.count({ where: { automationId: { startsWith: tag }, userId: heir, weight: 100, position: 0 } })).toBe(40_000);
}, 180_000);
