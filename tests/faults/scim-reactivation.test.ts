// An identity provider reactivates a user while an admin's step of that user's
// wizard is being applied (api/scim → client/offboarding.ts reinstateUser →
// the wizard's cancel). A SCIM 400 is an answer the provider does not retry
// (Okta marks the push failed until someone retries it by hand), so the
// reactivation must not be refused for a step that is merely in flight: the
// cancel waits for the step, then cancels (workflows/deletion-wizard.ts,
// PATCH.cancelWaits). On the code before, it was 400 mutability ("being
// applied; try again") and the user stayed in the wizard.
import { createScimToken } from '../../api/scim/auth';
import { SCIM } from '../../domain/scim';
import { client, startTestApi, tokenOf, type Call, type TestApi } from '../api/support';
import { startFaultWorker, type FaultWorker } from '../support/faults';
import { acceptedUpdates, acceptedWhilePending, makeWorkspace, moveDone } from '../support/wizard';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BOOK = 200;

let api: TestApi;
let w: FaultWorker | undefined;
beforeAll(async () => {
  // The API waits on a wizard longer than its 10 s here: a cancel reaches a workflow whose step is
  // held inside its transaction only when that task checks in (within the task's 10 s timeout).
  api = await startTestApi({ worker: false, wizardWaitMs: 60_000 });
});
afterAll(async () => {
  await w?.kill();
  await api?.close();
});

test('a SCIM reactivation while an admin applies a step waits for the step, then cancels the wizard', async () => {
  // The automations step's transaction held before it runs (every run of it: a replay of a workflow
  // task lost on a loaded machine runs it again): the step is being applied for as long as the test wants.
  w = await startFaultWorker({ taskQueue: api.harness.config.TEMPORAL_TASK_QUEUE, batchSize: 100, trap: { activity: 'applyRouting', at: 'before', every: true } });
  const ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', heir: 'MEMBER' }, { leaver: BOOK });
  const [leaver, heir] = [ws.users.leaver!.id, ws.users.heir!.id];
  const admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  const scimCall = client(api.url, await createScimToken(api.prisma, ws.id));
  const scim: Call = (method, path, body) => scimCall(method, `/scim/v2${path}`, body, { 'content-type': 'application/scim+json' });

  // Okta deactivates the user: the wizard opens; an admin moves the leads and posts the next step.
  const off = await scim('PATCH', `/Users/${leaver}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] });
  expect(off.status).toBe(200);
  const wizard = await api.prisma.deletion.findFirstOrThrow({ where: { userId: leaver, status: 'IN_PROGRESS' } });
  expect((await admin('POST', `/v1/deletions/${wizard.id}/leads`, { targetUserId: heir })).status).toBe(202);
  await moveDone(api.wizard, ws.id, wizard.id, 60_000);
  const step = admin('POST', `/v1/deletions/${wizard.id}/automations`, { overrides: [] });
  expect((await w.paused()).activity).toBe('applyRouting');

  // The provider reactivates the user meanwhile. The cancel is taken (on record) while the step is
  // still held, rather than refused.
  const on = scim('PATCH', `/Users/${leaver}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
  await acceptedWhilePending(
    on,
    async () => (await acceptedUpdates(api.harness.temporal, wizard.workflowId, 'cancel')).length === 1,
    'the cancel recorded as accepted, the step still held',
  );
  w.release();
  // The step applies first, then the cancel: the reactivation answers 200.
  expect((await step).status).toBe(200);
  const reactivated = await on;
  expect(reactivated.status).toBe(200);
  expect(reactivated.body).toMatchObject({ schemas: [SCIM.User], id: leaver, active: true });
  expect((await admin('GET', `/v1/deletions/${wizard.id}`)).body.status).toBe('CANCELLED');
  expect((await admin('GET', `/v1/users/${leaver}`)).body.status).toBe('ACTIVE');
  const actions = (await admin('GET', `/v1/deletions/${wizard.id}/audit`)).body.items.map((e: { action: string }) => e.action);
  expect(actions).toEqual(expect.arrayContaining(['AUTOMATIONS_APPLIED', 'DELETION_CANCELLED']));
}, 180_000);
