// Every refusal of wizard.md, through the Temporal client: each is answered
// with the right named error and a reason, and changes nothing at all.
import { NotFound, RuleViolation, StepConflict } from '../../domain/errors';
import type { PrismaClient } from '../../generated/prisma/client';
import {
  asAdmin,
  finished,
  makeAutomation,
  makeLabel,
  makeWorkspace,
  moveDone,
  wizardHarness,
  type TestWorkspace,
  type WizardHarness,
} from '../support/wizard';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness();
});
afterAll(() => h?.close());

/** Everything a refused input could have touched. */
async function snapshot(prisma: PrismaClient, ws: TestWorkspace) {
  const where = { workspaceId: ws.id };
  return {
    users: await prisma.user.findMany({ where, orderBy: { id: 'asc' }, select: { id: true, status: true } }),
    leads: await prisma.lead.groupBy({ by: ['ownerId'], where, _count: { _all: true }, orderBy: { ownerId: 'asc' } }),
    automations: await prisma.automationMember.findMany({
      where: { automation: where },
      orderBy: [{ automationId: 'asc' }, { position: 'asc' }],
    }),
    labels: await prisma.label.findMany({ where, include: { members: { orderBy: { position: 'asc' } } }, orderBy: { id: 'asc' } }),
    deletions: await prisma.deletion.findMany({ where, orderBy: { id: 'asc' }, select: { id: true, status: true, step: true, state: true } }),
    audit: await prisma.auditEvent.count({ where }),
    moves: await prisma.leadMove.count({ where: { deletion: where } }),
  };
}

async function refusedWithoutChange(ws: TestWorkspace, kind: new (...a: never[]) => Error, message: RegExp, act: () => Promise<unknown>) {
  const before = await snapshot(h.prisma, ws);
  const err = await act().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(kind);
  expect((err as Error).message).toMatch(message);
  expect(await snapshot(h.prisma, ws)).toEqual(before);
}

test('starting is refused for yourself, the last owner and a stranger, and nothing starts', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', m: 'MEMBER' }, { m: 3 });
  const start = (userId: string, actorHandle = 'admin') =>
    wizard.start({ workspaceId: ws.id, userId, actor: asAdmin(ws, actorHandle), source: 'ADMIN' });
  await refusedWithoutChange(ws, RuleViolation, /cannot delete yourself/, () => start(ws.users.admin!.id));
  await refusedWithoutChange(ws, RuleViolation, /last owner/, () => start(ws.users.owner!.id));
  await refusedWithoutChange(ws, NotFound, /does not exist in this workspace/, () => start('no-such-user'));
  const other = await makeWorkspace(prisma, { owner: 'OWNER', x: 'MEMBER' });
  await refusedWithoutChange(ws, NotFound, /does not exist in this workspace/, () => start(other.users.x!.id));
});

test('each step refuses bad input with a reason and changes nothing', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(
    prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', sus: 'MEMBER', going: 'MEMBER' },
    { leaver: 50 },
  );
  const u = Object.fromEntries(Object.entries(ws.users).map(([k, v]) => [k, v.id])) as Record<string, string>;
  await prisma.user.update({ where: { id: u.sus! }, data: { status: 'SUSPENDED' } });
  await prisma.user.update({ where: { id: u.going! }, data: { status: 'PENDING_DELETION' } });
  const sole = await makeAutomation(prisma, ws.id, 'Sole', [{ userId: u.leaver!, weight: 100 }]);
  const label = await makeLabel(prisma, ws.id, 'Team', 'SHARED', u.ann!, [u.leaver!]);
  const stranger = (await makeWorkspace(prisma, { owner: 'OWNER', s: 'MEMBER' })).users.s!.id;

  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: u.leaver!, actor: asAdmin(ws), source: 'ADMIN' });
  const id = deletion.id;
  const admin = asAdmin(ws);

  // Step 1 (LEADS)
  await refusedWithoutChange(ws, StepConflict, /at step LEADS/, () => wizard.submitAutomations(ws.id, id, admin, { overrides: [] }));
  await refusedWithoutChange(ws, StepConflict, /at step LEADS/, () => wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' }));
  await refusedWithoutChange(ws, RuleViolation, /suspended/, () => wizard.submitLeads(ws.id, id, admin, { targetUserId: u.sus! }));
  await refusedWithoutChange(ws, RuleViolation, /being deleted/, () => wizard.submitLeads(ws.id, id, admin, { targetUserId: u.going! }));
  await refusedWithoutChange(ws, RuleViolation, /being deleted/, () => wizard.submitLeads(ws.id, id, admin, { targetUserId: u.leaver! }));
  await refusedWithoutChange(ws, RuleViolation, /not in this workspace/, () => wizard.submitLeads(ws.id, id, admin, { targetUserId: stranger }));
  await refusedWithoutChange(ws, RuleViolation, /add up to 90/, () =>
    wizard.submitLeads(ws.id, id, admin, {
      distribution: [
        { userId: u.ann!, weight: 50 },
        { userId: u.owner!, weight: 40 },
      ],
    }),
  );
  await refusedWithoutChange(ws, RuleViolation, /being deleted/, () =>
    wizard.submitLeads(ws.id, id, admin, {
      distribution: [
        { userId: u.ann!, weight: 50 },
        { userId: u.leaver!, weight: 50 },
      ],
    }),
  );
  await refusedWithoutChange(ws, NotFound, /does not exist in this workspace/, () => wizard.submitLeads(ws.id, 'del_nope', admin, { targetUserId: u.ann! }));
  await wizard.submitLeads(ws.id, id, admin, { targetUserId: u.ann! });
  await moveDone(wizard, ws.id, id);

  // Step 2 (AUTOMATIONS): the sole-member automation needs a replacement.
  await refusedWithoutChange(ws, RuleViolation, new RegExp(sole), () => wizard.submitAutomations(ws.id, id, admin, { overrides: [] }));
  await refusedWithoutChange(ws, RuleViolation, /not-in-step/, () =>
    wizard.submitAutomations(ws.id, id, admin, {
      overrides: [
        { automationId: sole, distribution: [{ userId: u.ann!, weight: 100 }] },
        { automationId: 'not-in-step', distribution: [{ userId: u.ann!, weight: 100 }] },
      ],
    }),
  );
  await refusedWithoutChange(ws, RuleViolation, /suspended/, () =>
    wizard.submitAutomations(ws.id, id, admin, { overrides: [{ automationId: sole, distribution: [{ userId: u.sus!, weight: 100 }] }] }),
  );
  await refusedWithoutChange(ws, StepConflict, /at step AUTOMATIONS/, () => wizard.submitLeads(ws.id, id, admin, { targetUserId: u.ann! }));
  await wizard.submitAutomations(ws.id, id, admin, { overrides: [{ automationId: sole, distribution: [{ userId: u.owner!, weight: 100 }] }] });
  await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });

  // Step 4 (LABELS)
  await refusedWithoutChange(ws, RuleViolation, /other-label/, () =>
    wizard.submitLabels(ws.id, id, admin, { replacements: [{ labelId: 'other-label', replacementUserId: null }] }),
  );
  await refusedWithoutChange(ws, RuleViolation, /being deleted/, () =>
    wizard.submitLabels(ws.id, id, admin, { replacements: [{ labelId: label, replacementUserId: u.going! }] }),
  );
  await wizard.submitLabels(ws.id, id, admin, { replacements: [{ labelId: label, replacementUserId: u.owner! }] });

  // Confirm: exactly CONFIRM.
  for (const wrong of ['confirm', 'CONFIRM ', ' CONFIRM', 'Confirm', '']) {
    await refusedWithoutChange(ws, RuleViolation, /CONFIRM exactly/, () => wizard.confirm(ws.id, id, admin, { confirmation: wrong }));
  }
  await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
  await finished(wizard, ws.id, id);

  // A finished wizard refuses everything.
  await refusedWithoutChange(ws, StepConflict, /COMPLETED/, () => wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' }));
  await refusedWithoutChange(ws, StepConflict, /COMPLETED/, () => wizard.cancel(ws.id, id, admin, {}));
  await refusedWithoutChange(ws, NotFound, /does not exist in this workspace/, () =>
    wizard.start({ workspaceId: ws.id, userId: u.leaver!, actor: admin, source: 'ADMIN' }),
  );
});

test('another workspace cannot see or touch the wizard', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  const other = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN' });
  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  await expect(wizard.get(other.id, deletion.id)).rejects.toBeInstanceOf(NotFound);
  await expect(wizard.audit(other.id, deletion.id, { limit: 10 })).rejects.toBeInstanceOf(NotFound);
  await refusedWithoutChange(ws, NotFound, /does not exist in this workspace/, () =>
    wizard.submitLeads(other.id, deletion.id, asAdmin(other), { targetUserId: other.users.owner!.id }),
  );
  await refusedWithoutChange(ws, NotFound, /does not exist in this workspace/, () => wizard.cancel(other.id, deletion.id, asAdmin(other), {}));
  expect((await wizard.list(other.id, { limit: 50 })).items).toHaveLength(0);
});
