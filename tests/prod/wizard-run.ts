// Test support: one whole wizard (start with a reason → leads → automations →
// integrations → labels → CONFIRM) for a user whose name and email are
// distinctive, so a test can look for them in what Temporal stores.
import { randomUUID } from 'node:crypto';
import { asAdmin, finished, makeLabel, makeWorkspace, moveDone, type WizardHarness } from '../support/wizard';

export interface WizardRun {
  workspaceId: string;
  deletionId: string;
  workflowId: string;
  /** Strings of personal data the wizard carried: names, emails, the reason. */
  secrets: string[];
  /** Of those, what the wizard's own input carries: the leaver's name and email, the reason. */
  inputSecrets: string[];
}

export async function runWholeWizard(h: WizardHarness, opts: { leads?: number; onMoving?: () => Promise<void> } = {}): Promise<WizardRun> {
  const { prisma, wizard } = h;
  const tag = randomUUID().slice(0, 8);
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: opts.leads ?? 3_000 });
  const people = {
    leaver: { name: `Zelda Quartermaine ${tag}`, email: `zelda.quartermaine.${tag}@private-mail.test` },
    ann: { name: `Annika Vanterpool ${tag}`, email: `annika.vanterpool.${tag}@private-mail.test` },
    admin: { name: `Bertrand Okonkwo ${tag}`, email: `bertrand.okonkwo.${tag}@private-mail.test` },
  };
  for (const [handle, person] of Object.entries(people)) {
    await prisma.user.update({ where: { id: ws.users[handle]!.id }, data: person });
  }
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  await makeLabel(prisma, ws.id, `Zelda's deals ${tag}`, 'SHARED', leaver, [leaver, ann]);
  const reason = `Moving to Reykjavik with her cat Mittens ${tag}`;
  const admin = asAdmin(ws);

  const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN', reason });
  const id = deletion.id;
  await wizard.submitLeads(ws.id, id, admin, { distribution: [{ userId: ann, weight: 100 }] });
  await opts.onMoving?.();
  await moveDone(wizard, ws.id, id, 300_000);
  await wizard.submitAutomations(ws.id, id, admin, { overrides: [] });
  await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });
  await wizard.submitLabels(ws.id, id, admin, { replacements: [] });
  await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
  const done = await finished(wizard, ws.id, id, 300_000);
  if (done.status !== 'COMPLETED') throw new Error(`the wizard ended ${done.status}`);
  return {
    workspaceId: ws.id,
    deletionId: id,
    workflowId: deletion.workflowId,
    secrets: [...Object.values(people).flatMap((p) => [p.name, p.email]), reason],
    inputSecrets: [people.leaver.name, people.leaver.email, reason],
  };
}
