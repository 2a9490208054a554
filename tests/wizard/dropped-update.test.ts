// An update Temporal drops unanswered. On a loaded machine the server lets go
// of an update it has not recorded as accepted when the workflow task
// carrying it fails or times out: the caller gets a gRPC failure at once
// (FAILED_PRECONDITION, "unexpected workflow task failure"), and the wizard
// never had the step. The wizard client sends it again while the request's
// wait limit allows: under a new update id after such an abort (the server
// keeps an aborted update aborted under its id), under the same one when the
// server may have taken it (the answer lost on the way back: UNAVAILABLE), so
// that it is answered from the server's record, never applied twice. Before, such a step answered 503
// at once and the caller had to send it again (seen as a flaky CI run: a
// cancel sent while the wizard was opening).
//
// The server and worker are real; only the failure is injected, as the
// server's answer, by a gRPC interceptor on the client's own connection.
import { temporal } from '@temporalio/proto';
import { InterceptingCall, Metadata, status, type Interceptor } from '@grpc/grpc-js';
import { acceptedUpdates, asAdmin, finished, interceptedWizard, makeWorkspace, moveDone, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
let ws: TestWorkspace;

beforeAll(async () => {
  h = await wizardHarness({ batchSize: 100 });
  ws = await makeWorkspace(h.prisma, { admin: 'ADMIN', leaver: 'MEMBER', quitter: 'MEMBER', keeper: 'MEMBER', ann: 'MEMBER' }, { leaver: 300, quitter: 300 });
});
afterAll(async () => {
  await h?.close();
});

const UPDATE = '/temporal.api.workflowservice.v1.WorkflowService/UpdateWorkflowExecution';

/** The update id of an UpdateWorkflowExecution request as the SDK serialized it. */
const updateIdOf = (message: unknown) =>
  temporal.api.workflowservice.v1.UpdateWorkflowExecutionRequest.decode(message as Uint8Array).request?.meta?.updateId ?? '';

/**
 * A connection whose next `times` update calls fail with `code`: `forward`
 * false, the server never sees them (it let go of them); true, the server
 * takes them and the answer is lost on the way back, after `beforeFailing`.
 * `sent`: the update id of every update call, in order.
 */
const TASK_FAILURE = 'Unable to perform workflow execution update due to unexpected workflow task failure.';

async function failingClient(
  code: status,
  forward: boolean,
  times = 1,
  beforeFailing: () => Promise<void> = async () => undefined,
  details = TASK_FAILURE,
) {
  let left = times;
  const sent: string[] = [];
  const failing: Interceptor = (options, nextCall) => {
    if (options.method_definition.path !== UPDATE) return new InterceptingCall(nextCall(options));
    const record = { sendMessage: (message: unknown, next: (m: unknown) => void) => (sent.push(updateIdOf(message)), next(message)) };
    if (left <= 0) return new InterceptingCall(nextCall(options), record);
    left--;
    const failure = { code, details, metadata: new Metadata() };
    if (forward) {
      return new InterceptingCall(nextCall(options), {
        ...record,
        start: (metadata, listener, next) =>
          next(metadata, {
            onReceiveMetadata: (received, nextMetadata) => nextMetadata(received),
            // Passed on (grpc-js holds the status back until a received message is); the failing status wins.
            onReceiveMessage: (message, nextMessage) => nextMessage(message),
            onReceiveStatus: (_status, nextStatus) => void beforeFailing().then(() => nextStatus(failure)),
          }),
      });
    }
    return new InterceptingCall(nextCall(options), {
      start: (_metadata, listener) => setImmediate(() => listener.onReceiveStatus(failure)),
      sendMessage: (message) => void sent.push(updateIdOf(message)),
      halfClose: () => undefined,
    });
  };
  const { wizard, close } = await interceptedWizard(h, [failing], 10_000);
  return { wizard, sent, failuresLeft: () => left, close };
}

test('a cancel the server let go of unanswered is sent again and cancels', async () => {
  const actor = asAdmin(ws);
  const quitter = ws.users.quitter!.id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: quitter, actor, source: 'ADMIN' });
  const c = await failingClient(status.FAILED_PRECONDITION, false);
  try {
    expect(await c.wizard.cancel(ws.id, deletion.id, actor, { reason: 'reactivated' })).toMatchObject({ status: 'CANCELLED' });
    expect(c.failuresLeft()).toBe(0);
    // Sent again under a new id: the server keeps an aborted update aborted under its own.
    expect(c.sent).toHaveLength(2);
    expect(c.sent[1]).not.toBe(c.sent[0]);
  } finally {
    await c.close();
  }
  expect(await acceptedUpdates(h.temporal, deletion.workflowId, 'cancel')).toHaveLength(1);
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: quitter } })).toMatchObject({ status: 'ACTIVE' });
}, 120_000);

test('a lead step the server took, its answer lost, is answered from its record when sent again: applied once', async () => {
  const actor = asAdmin(ws);
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  const c = await failingClient(status.UNAVAILABLE, true);
  try {
    expect(await c.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: ann })).toMatchObject({ status: 'IN_PROGRESS', leads: { state: expect.stringMatching(/MOVING|DONE/) } });
    expect(c.failuresLeft()).toBe(0);
    // Sent again under the same id: answered from the server's record of the first.
    expect(c.sent).toHaveLength(2);
    expect(c.sent[1]).toBe(c.sent[0]);
  } finally {
    await c.close();
  }
  // One update in the history: the second send was the first one's record, not a second step.
  expect(await acceptedUpdates(h.temporal, deletion.workflowId, 'submitLeads')).toHaveLength(1);
  expect(await moveDone(h.wizard, ws.id, deletion.id, 60_000)).toMatchObject({ step: 'AUTOMATIONS', leads: { state: 'DONE', moved: 300 } });
  await h.wizard.cancel(ws.id, deletion.id, actor, {});
  expect(await finished(h.wizard, ws.id, deletion.id)).toMatchObject({ status: 'CANCELLED' });
}, 120_000);

test('a step the server keeps letting go of is Unavailable (503) at the wait limit, not a failure of its own', async () => {
  const actor = asAdmin(ws);
  const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  const c = await failingClient(status.FAILED_PRECONDITION, false, 1_000_000);
  try {
    await expect(c.wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: ann })).rejects.toMatchObject({ name: 'Unavailable' });
  } finally {
    await c.close();
  }
  expect(await acceptedUpdates(h.temporal, deletion.workflowId, 'submitLeads')).toHaveLength(0);
  expect(await h.wizard.cancel(ws.id, deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
}, 120_000);

test("a cancel taken, its answer lost, and the user's next wizard opened meanwhile: sent again, it is refused there, and answered 503", async () => {
  const actor = asAdmin(ws);
  const keeper = ws.users.keeper!.id;
  const { deletion: first } = await h.wizard.start({ workspaceId: ws.id, userId: keeper, actor, source: 'ADMIN' });
  let second: Awaited<ReturnType<typeof h.wizard.start>> | undefined;
  // The first wizard's cancel applies, and before its answer gets back, the first wizard has closed and HR
  // has offboarded the user again: the same workflow id's newest run is the second wizard.
  const c = await failingClient(status.UNAVAILABLE, true, 1, async () => {
    await h.temporal.workflow.getHandle(first.workflowId).result();
    second = await h.wizard.start({ workspaceId: ws.id, userId: keeper, actor: { type: 'HR', id: 'hook' }, source: 'HR' });
  });
  try {
    await expect(c.wizard.cancel(ws.id, first.id, actor, { reason: 'reactivated' })).rejects.toMatchObject({
      name: 'Unavailable',
      message: expect.stringMatching(/may have applied; read the deletion/),
    });
    expect(c.sent).toHaveLength(2);
  } finally {
    await c.close();
  }
  // The second wizard did not take the first one's cancel: HR's offboarding stands.
  expect(second!.created).toBe(true);
  expect(await h.wizard.get(ws.id, first.id)).toMatchObject({ status: 'CANCELLED' });
  expect(await h.wizard.get(ws.id, second!.deletion.id)).toMatchObject({ status: 'IN_PROGRESS' });
  expect(await acceptedUpdates(h.temporal, second!.deletion.workflowId, 'cancel')).toHaveLength(0);
  expect(await h.prisma.user.findUniqueOrThrow({ where: { id: keeper } })).toMatchObject({ status: 'PENDING_DELETION' });
  expect(await h.wizard.cancel(ws.id, second!.deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
}, 120_000);

test.each([
  ['refused at once while its workflow task keeps failing', 'Unable to perform workflow execution update due to Workflow Task in failed state.', true],
  ['refused for another reason (a limit), which sending again would not change', 'limit on number of total updates has been reached (2000)', false],
])('a FAILED_PRECONDITION %s: sent again under a new id only then', async (_what, details, sentAgain) => {
  const actor = asAdmin(ws);
  const leaver = ws.users.leaver!.id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: leaver, actor, source: 'ADMIN' });
  const c = await failingClient(status.FAILED_PRECONDITION, false, 1, undefined, details);
  try {
    const answer = c.wizard.cancel(ws.id, deletion.id, actor, {});
    if (sentAgain) {
      expect(await answer).toMatchObject({ status: 'CANCELLED' });
      expect(c.sent).toHaveLength(2);
      expect(c.sent[1]).not.toBe(c.sent[0]);
    } else {
      await expect(answer).rejects.toMatchObject({ name: 'ServiceError' });
      expect(c.sent).toHaveLength(1);
      expect(await h.wizard.cancel(ws.id, deletion.id, actor, {})).toMatchObject({ status: 'CANCELLED' });
    }
  } finally {
    await c.close();
  }
}, 120_000);
