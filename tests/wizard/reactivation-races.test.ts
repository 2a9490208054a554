// An identity provider's reactivation (client/offboarding.ts `reinstateUser`)
// racing another cancel, or a confirm. Each race is forced: the no-op that lets
// the task accepting an update complete before the update writes
// (`acknowledgeUpdate`) waits at a gate the test holds, so the wizard sits
// between "accepted" and its first write (being cancelled, or about to
// confirm) while the other request reaches it. (The wizard waits for that no-op
// 3 s at most, then goes on: the gate is opened as soon as the race is seen.)
import type { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { offboardUser, reinstateUser } from '../../client/offboarding';
import { createWizardClient, refusalFrom } from '../../client/wizard-client';
import { StepConflict } from '../../domain/errors';
import { asAdmin, eventually, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';

/** Held, every acknowledgement waits here until it opens; open, it changes nothing. */
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

/** Every update the client sends from now on, by name, and how it ended, refusals as the client reads them (a spy on the real client: each call goes through). */
interface Sent {
  name: string;
  outcome?: 'answered' | StepConflict | Error;
}
function updatesSent(temporal: Client): Sent[] {
  const sent: Sent[] = [];
  const wf = temporal.workflow;
  const getHandle = wf.getHandle.bind(wf);
  wf.getHandle = ((...args: Parameters<typeof getHandle>) => {
    const handle = getHandle(...args);
    const executeUpdate = handle.executeUpdate.bind(handle) as (def: unknown, opts: unknown) => Promise<unknown>;
    handle.executeUpdate = ((def: unknown, opts: unknown) => {
      const entry: Sent = { name: typeof def === 'string' ? def : (def as { name: string }).name };
      sent.push(entry);
      const call = executeUpdate(def, opts);
      call.then(
        () => (entry.outcome = 'answered'),
        (err: Error) => (entry.outcome = refusalFrom(err)),
      );
      return call;
    }) as typeof handle.executeUpdate;
    return handle;
  }) as typeof wf.getHandle;
  return sent;
}

const gate = new Gate();
/** Held, the mirror of a cancelled wizard waits: its cancel is written, its row still reads IN_PROGRESS. */
const mirrorGate = new Gate();
class AcknowledgementGate implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const type = Context.current().info.activityType;
    if (type === 'acknowledgeUpdate') await gate.pass();
    if (type === 'saveDeletionState' && (input.args[0] as { view?: { status?: string } }).view?.status === 'CANCELLED') await mirrorGate.pass();
    return next(input);
  }
}

let h: WizardHarness;
let sent: Sent[];
beforeAll(async () => {
  h = await wizardHarness({ activityInterceptors: [() => ({ inbound: new AcknowledgementGate() })] });
  sent = updatesSent(h.temporal);
});
afterEach(() => {
  gate.open();
  mirrorGate.open();
});
afterAll(() => h?.close());

const idp = { type: 'IDP' as const, id: 'scim-token:test' };

/** A leaver whose wizard the identity provider opened. */
async function deactivated() {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', heir: 'MEMBER', leaver: 'MEMBER' }, { leaver: 3 });
  const leaver = ws.users.leaver!.id;
  const { deletion } = await offboardUser({ prisma: h.prisma, wizard: h.wizard }, { workspaceId: ws.id, userId: leaver, source: 'IDP', actor: idp });
  const reinstate = () => reinstateUser({ prisma: h.prisma, wizard: h.wizard }, { workspaceId: ws.id, userId: leaver, actor: idp });
  return { ws, leaver, deletion, reinstate };
}

/** Whether a call has been answered yet (either way). */
function settled(call: Promise<unknown>): () => boolean {
  let done = false;
  call.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

test("a reactivation sent while the provider's earlier one is being applied waits for it and answers with the cancelled wizard, never refused", async () => {
  const { leaver, deletion, reinstate } = await deactivated();
  gate.hold();
  const from = sent.length;
  const one = reinstate();
  await eventually(async () => (gate.waiting > 0 ? true : undefined), 60_000, 'the first cancel to be accepted');

  // The wizard is being cancelled: the second cancel is refused as such (CANCELLING) while the first waits at the gate.
  const two = reinstate();
  const [oneEnded, twoEnded] = [settled(one), settled(two)];
  const refused = await eventually(async () => {
    const second = sent.slice(from).filter((s) => s.name === 'cancel')[1];
    return second?.outcome !== undefined ? second : twoEnded() ? null : undefined;
  }, 60_000, 'the second cancel to end');
  // (The wizard waits 3 s at most for the held no-op: on a machine too slow for the second cancel to reach it
  // meanwhile, the first goes on and the race is not set; the answers below must hold all the same.)
  if (!oneEnded()) {
    expect(refused?.outcome).toBeInstanceOf(StepConflict);
    expect((refused!.outcome as StepConflict).code).toBe('CANCELLING');
  }
  gate.open();

  await expect(one).resolves.toMatchObject({ id: deletion.id, status: 'CANCELLED' });
  await expect(two).resolves.toMatchObject({ id: deletion.id, status: 'CANCELLED' });
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'ACTIVE' });
});

test('a reactivation once the wizard is cancelled answers with it; one while a confirm is applied is refused at once, and the confirm goes on', async () => {
  // Cancelled by another request between this one's read of the open wizard and its own cancel (the real
  // wizard refuses that cancel: already CANCELLED): what it asked for is done.
  const first = await deactivated();
  const cancelledFirst: typeof h.wizard.cancel = async (...args) => {
    await h.wizard.cancel(...args);
    return h.wizard.cancel(...args);
  };
  const late = reinstateUser({ prisma: h.prisma, wizard: { ...h.wizard, cancel: cancelledFirst } }, { workspaceId: first.ws.id, userId: first.leaver, actor: idp });
  await expect(late).resolves.toMatchObject({ id: first.deletion.id, status: 'CANCELLED' });

  // A confirm accepted, waiting at the gate before it writes; the reactivation's cancel waits for it, then is refused.
  const { ws, leaver, deletion, reinstate } = await deactivated();
  const admin = asAdmin(ws);
  await h.wizard.submitLeads(ws.id, deletion.id, admin, { targetUserId: ws.users.heir!.id });
  await moveDone(h.wizard, ws.id, deletion.id);
  await h.wizard.submitAutomations(ws.id, deletion.id, admin, { overrides: [] });
  await h.wizard.submitIntegrations(ws.id, deletion.id, admin, { overrides: [] });
  await h.wizard.submitLabels(ws.id, deletion.id, admin, { replacements: [] });
  gate.hold();
  const confirming = h.wizard.confirm(ws.id, deletion.id, admin, { confirmation: 'CONFIRM' });
  await eventually(async () => (gate.waiting > 0 ? true : undefined), 60_000, 'the confirm to be accepted');
  const from = sent.length;
  const refused = reinstate();
  refused.catch(() => undefined);
  const refusedEnded = settled(refused);
  await eventually(async () => (sent.slice(from).some((s) => s.name === 'cancel') || refusedEnded() ? true : undefined), 60_000, 'the cancel to be sent');
  gate.open();
  await expect(refused).rejects.toThrow(/being confirmed/);
  await expect(refused).rejects.toBeInstanceOf(StepConflict);
  await expect(confirming).resolves.toMatchObject({ id: deletion.id });
  await eventually(async () => ((await h.prisma.user.findUnique({ where: { id: leaver } })) === null ? true : undefined), 60_000, 'the user to be removed');
});

test('an offboarding (HR) sent once a cancel is written, before the wizard says so, waits for it and opens a new wizard: it is never lost with the cancelled one', async () => {
  const { ws, leaver, deletion } = await deactivated();
  mirrorGate.hold();
  const cancelling = h.wizard.cancel(ws.id, deletion.id, asAdmin(ws), { reason: 'not leaving after all' });
  await eventually(async () => (mirrorGate.waiting > 0 ? true : undefined), 60_000, 'the cancel to be written');
  expect(await h.prisma.deletion.findUniqueOrThrow({ where: { id: deletion.id } })).toMatchObject({ status: 'IN_PROGRESS' });

  // The offboarding's own wizard client, over a database client that tells when it looks for the cancel.
  let looked = false;
  const audit = new Proxy(h.prisma.auditEvent, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'findUnique') looked = true;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const prisma = new Proxy(h.prisma, { get: (target, name) => (name === 'auditEvent' ? audit : Reflect.get(target, name, target)) });
  const wizard = createWizardClient({ temporal: h.temporal, prisma, config: h.config, waitLimitMs: 60_000 });
  const hr = offboardUser({ prisma, wizard }, { workspaceId: ws.id, userId: leaver, source: 'HR', actor: { type: 'HR', id: 'E-7' } });
  const hrEnded = settled(hr);
  // Joined as the row reads, it is answered at once, with the wizard being cancelled; now it looks for the cancel first.
  await eventually(async () => (hrEnded() || looked ? true : undefined), 60_000, 'the offboarding to look or be answered');
  mirrorGate.open();

  expect((await cancelling).status).toBe('CANCELLED');
  const { deletion: second, joined } = await hr;
  expect({ joined, status: second.status }).toEqual({ joined: false, status: 'IN_PROGRESS' });
  expect(second.id).not.toBe(deletion.id);
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).toMatchObject({ status: 'PENDING_DELETION' });
});
