// A start right after a cancel: the cancel writes the row CANCELLED (and the
// user ACTIVE) a moment before the cancelled run closes. A start in that
// moment finds no open wizard and must still open a NEW one (and freeze the
// user), never hand back the cancelled one (client/wizard-client.ts `start`).
// And while the cancel is being applied (its row still IN_PROGRESS): an
// offboarding waits for it and opens a new wizard; a second reactivation
// waits for it and answers as the first (client/offboarding.ts).
import type { Client } from '@temporalio/client';
import { offboardUser, reinstateUser } from '../../client/offboarding';
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

/** Held, every call waits here until it opens; open, it changes nothing. */
class Gate {
  private held = false;
  private waiters: (() => void)[] = [];
  get waiting() {
    return this.waiters.length;
  }
  hold() {
    this.held = true;
  }
  open() {
    this.held = false;
    for (const wake of this.waiters.splice(0)) wake();
  }
  async pass(): Promise<void> {
    if (this.held) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/** The names of the updates the client sends from now on, in order (a spy on the real client: every call goes through). */
function updatesSent(temporal: Client): string[] {
  const names: string[] = [];
  const nameOf = (def: unknown) => (typeof def === 'string' ? def : (def as { name: string }).name);
  const wf = temporal.workflow;
  const getHandle = wf.getHandle.bind(wf);
  wf.getHandle = ((...args: Parameters<typeof getHandle>) => {
    const handle = getHandle(...args);
    const executeUpdate = handle.executeUpdate.bind(handle);
    handle.executeUpdate = ((def: unknown, opts: unknown) => {
      names.push(nameOf(def));
      return (executeUpdate as (d: unknown, o: unknown) => unknown)(def, opts);
    }) as typeof handle.executeUpdate;
    return handle;
  }) as typeof wf.getHandle;
  const withStart = wf.executeUpdateWithStart.bind(wf);
  wf.executeUpdateWithStart = ((def: unknown, opts: unknown) => {
    names.push(nameOf(def));
    return (withStart as (d: unknown, o: unknown) => unknown)(def, opts);
  }) as typeof wf.executeUpdateWithStart;
  return names;
}

/** Whether a call has been answered yet (either way). */
function answered(call: Promise<unknown>): () => boolean {
  let done = false;
  call.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

// The cancel's transaction waits at a gate: the wizard is being cancelled, while
// its row still reads IN_PROGRESS, for as long as the test likes.
describe('while a cancel is being applied', () => {
  const gate = new Gate();
  let g: WizardHarness;
  let sent: string[];
  beforeAll(async () => {
    g = await wizardHarness({
      wrapActivities: (real) => ({
        ...real,
        async cancelDeletion(args) {
          await gate.pass();
          return real.cancelDeletion(args);
        },
      }),
    });
    sent = updatesSent(g.temporal);
  });
  afterEach(() => gate.open());
  afterAll(() => g?.close());

  const idp = { type: 'IDP' as const, id: 'scim-token:test' };

  test('an offboarding then opens a new wizard once the cancel is done: it never joins the wizard being cancelled', async () => {
    const { prisma, wizard } = g;
    const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' }, { leaver: 3 });
    const leaver = ws.users.leaver!.id;
    const offboard = () => offboardUser({ prisma, wizard }, { workspaceId: ws.id, userId: leaver, source: 'HR', actor: { type: 'HR', id: 'hook' } });
    const first = await offboard();
    gate.hold();
    const cancelling = wizard.cancel(ws.id, first.deletion.id, asAdmin(ws), { reason: 'not leaving after all' });
    await eventually(async () => (gate.waiting > 0 ? true : undefined), 60_000, 'the cancel to reach its transaction');

    const before = sent.length;
    const again = offboard();
    const isAnswered = answered(again);
    // Answered at once (it joined the wizard being cancelled), or it asked the wizard: then the cancel goes on.
    await eventually(async () => (isAnswered() || sent.length > before ? true : undefined), 60_000, 'the offboarding to be answered or sent');
    gate.open();

    expect((await cancelling).status).toBe('CANCELLED');
    const second = await again;
    expect(second).toMatchObject({ joined: false, deletion: { status: 'IN_PROGRESS' } });
    expect(second.deletion.id).not.toBe(first.deletion.id);
    expect(await prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'PENDING_DELETION' });
    expect(await prisma.deletion.count({ where: { userId: leaver, status: 'IN_PROGRESS' } })).toBe(1);
  });

  test("a reactivation sent while the identity provider's earlier one is applied is answered once the wizard is cancelled, never refused", async () => {
    const { prisma, wizard } = g;
    const ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' }, { leaver: 3 });
    const leaver = ws.users.leaver!.id;
    const first = await offboardUser({ prisma, wizard }, { workspaceId: ws.id, userId: leaver, source: 'IDP', actor: idp });
    const reinstate = () => reinstateUser({ prisma, wizard }, { workspaceId: ws.id, userId: leaver, actor: idp });
    gate.hold();
    const one = reinstate();
    await eventually(async () => (gate.waiting > 0 ? true : undefined), 60_000, 'the cancel to reach its transaction');

    const before = sent.length;
    const two = reinstate();
    await eventually(async () => (sent.slice(before).includes('cancel') ? true : undefined), 60_000, 'the second cancel to be sent');
    gate.open();

    await expect(one).resolves.toMatchObject({ id: first.deletion.id, status: 'CANCELLED' });
    await expect(two).resolves.toMatchObject({ id: first.deletion.id, status: 'CANCELLED' });
    expect(await prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
  });
});
