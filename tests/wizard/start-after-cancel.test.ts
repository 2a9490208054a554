// A start right after a cancel: the cancel writes the row CANCELLED (and the
// user ACTIVE) a moment before the cancelled run closes. A start in that
// moment finds no open wizard and must still open a NEW one (and freeze the
// user), never hand back the cancelled one (client/wizard-client.ts `start`).
import { asAdmin, eventually, makeWorkspace, wizardHarness, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness();
});
afterAll(() => h?.close());

test('cancel then start at once, again and again: every start opens a new wizard and freezes the user', async () => {
  const { prisma, wizard } = h;
  const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' }, { leaver: 3 });
  const start = () => wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  let current = await start();
  expect(current.created).toBe(true);
  const seen = [current.deletion.id];
  for (let round = 0; round < 6; round++) {
    const id = current.deletion.id;
    const cancelling = wizard.cancel(ws.id, id, asAdmin(ws), {});
    // Start as soon as the row reads CANCELLED (as a page polling it would), whether or not the run has closed.
    await eventually(async () => ((await prisma.deletion.findUniqueOrThrow({ where: { id } })).status === 'CANCELLED' ? true : undefined));
    current = await start();
    expect((await cancelling).status).toBe('CANCELLED');
    expect(current).toMatchObject({ created: true, deletion: { status: 'IN_PROGRESS' } });
    expect(seen).not.toContain(current.deletion.id);
    seen.push(current.deletion.id);
    expect(await prisma.user.findUniqueOrThrow({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'PENDING_DELETION' });
  }
});
