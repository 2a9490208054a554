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
import { makeWorkspace, moveDone } from '../support/wizard';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const BOOK = 200;

let api: TestApi;
let w: FaultWorker | undefined;
beforeAll(async () => {
  api = await startTestApi({ worker: false });
});
afterAll(async () => {
  await w?.kill();
  await api?.close();
});

test('a SCIM reactivation while an admin applies a step waits for the step, then cancels the wizard', async () => {
  // Each update waits for its acknowledgement no-op before it writes: the second is the automations
  // step's. Held, that step is being applied for the no-op's 3 s, then goes on without it.
  w = await startFaultWorker({
    taskQueue: api.harness.config.TEMPORAL_TASK_QUEUE,
    batchSize: 100,
    trap: { activity: 'acknowledgeUpdate', at: 'before', nth: 2 },
  });
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
  expect((await w.paused()).activity).toBe('acknowledgeUpdate');

  // The provider reactivates the user meanwhile: not refused; the step applies first, then the cancel.
  const on = await scim('PATCH', `/Users/${leaver}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] });
  expect(on.status).toBe(200);
  expect(on.body).toMatchObject({ schemas: [SCIM.User], id: leaver, active: true });
  expect((await step).status).toBe(200);
  const after = await admin('GET', `/v1/deletions/${wizard.id}`);
  expect(after.body).toMatchObject({ status: 'CANCELLED', automations: [], leads: { state: 'DONE', moved: BOOK } });
  expect((await admin('GET', `/v1/users/${leaver}`)).body.status).toBe('ACTIVE');
}, 180_000);
