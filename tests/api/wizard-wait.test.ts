// api.md Conventions: no request waits on a wizard for more than 10 s; past
// that it answers 503 with Retry-After, and a later GET shows whether the
// change applied. Here no worker runs (a real Temporal server, nothing to
// serve the wizard), so a wizard never answers; the limit is shortened for
// the test through the wizard client's deps.
import type { Client } from '@temporalio/client';
import { signHookBody } from '../../api/hook-signature';
import { createWizardClient } from '../../client/wizard-client';
import { Unavailable } from '../../domain/errors';
import { createWorker, type WizardWorker } from '../../worker';
import { testEnv } from '../support/env';
import { tcpProxy } from '../support/tcp-proxy';
import { asAdmin, eventually, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
let running: { worker: WizardWorker; close(): Promise<void>; done: Promise<void> } | undefined;

/** A worker on the API's task queue, started and stopped by the test. */
async function startWorker(): Promise<void> {
  const env = testEnv();
  const w = await createWorker({
    config: api.harness.config,
    databaseUrl: env.databaseUrl,
    ...(env.workflowBundlePath ? { workflowBundlePath: env.workflowBundlePath } : {}),
  });
  running = { ...w, done: w.worker.run() };
}
async function stopWorker(): Promise<void> {
  if (!running) return;
  running.worker.shutdown();
  await running.done;
  await running.close();
  running = undefined;
}

beforeAll(async () => {
  api = await startTestApi({ worker: false, wizardWaitMs: 1_000 });
  ws = await makeWorkspace(api.prisma, { admin: 'ADMIN', late: 'MEMBER', leaver: 'MEMBER', heir: 'MEMBER', fired: 'MEMBER' }, { leaver: 3 });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
});
afterAll(async () => {
  await stopWorker();
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;

function expectUnavailable(r: Awaited<ReturnType<Call>>): void {
  expectProblem(r, 503);
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
}

test('a Temporal call that never settles (a retry the SDK still waits on): the wizard client gives up at its limit all the same', async () => {
  const w = await makeWorkspace(api.prisma, { admin: 'ADMIN', stuck: 'MEMBER' });
  const never = () => new Promise<never>(() => undefined);
  // Only the unit under test is real: a Temporal client whose every call hangs, and ignores the abort and the deadline.
  const temporal = {
    withDeadline: (_at: number, fn: () => unknown) => fn(),
    withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn(),
    workflow: { executeUpdateWithStart: never, getHandle: never },
  } as unknown as Client;
  const wizard = createWizardClient({ temporal, prisma: api.prisma, config: api.harness.config, waitLimitMs: 300 });
  await expect(wizard.start({ workspaceId: w.id, userId: w.users.stuck!.id, source: 'ADMIN', actor: asAdmin(w) })).rejects.toBeInstanceOf(
    Unavailable,
  );
  // (On the code before, it waited for good: this test's own time limit says so.)
}, 10_000);

test('Temporal unreachable (every connection refused): a start is 503 within the wait, not after the SDK has retried its call for ~20 s', async () => {
  const proxy = await tcpProxy(testEnv().temporalAddress);
  const through = await startTestApi({ wizardWaitMs: 1_000, temporalAddress: proxy.address });
  try {
    const w = await makeWorkspace(through.prisma, { admin: 'ADMIN', leaver: 'MEMBER' });
    const call = client(through.url, await tokenOf(through.prisma, w, 'admin'));
    proxy.refuse();
    const sent = performance.now();
    expectUnavailable(await call('POST', `/v1/users/${w.users.leaver!.id}/deletion`, {}));
    // The wait bounds it (1 s here, 10 s in service): the SDK retries a refused call up to 10 times over ~20 s.
    // (The bound leaves room for a loaded machine; the test above pins the limit itself.)
    expect(performance.now() - sent).toBeLessThan(5_000);
  } finally {
    await through.close();
    await proxy.close();
  }
});

test('a start that no worker answers is 503 with Retry-After; once a worker runs, the wizard is there', async () => {
  expectUnavailable(await admin('POST', `/v1/users/${id('late')}/deletion`, { reason: 'no worker' }));

  await startWorker();
  // The start was accepted by Temporal: a later read shows the wizard open.
  const opened = await eventually(
    async () => {
      const r = await admin('GET', '/v1/deletions?status=IN_PROGRESS');
      return r.body.items.find((d: { user: { id: string } }) => d.user.id === id('late'));
    },
    60_000,
    'the wizard started while no worker ran',
  );
  expect(opened.reason).toBe('no worker');
  const again = await admin('POST', `/v1/users/${id('late')}/deletion`, {});
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(opened.id);
});

test('a step that no worker answers is 503 with Retry-After; the state is readable and the step can be sent again', async () => {
  if (!running) await startWorker();
  // (This API waits 1 s on a wizard: on a loaded machine the opening may take longer, and is sent again.)
  const started = await eventually(
    async () => {
      const r = await admin('POST', `/v1/users/${id('leaver')}/deletion`, {});
      return r.status === 503 ? undefined : r;
    },
    60_000,
    'the wizard to open',
  );
  expect([200, 201]).toContain(started.status);
  await stopWorker();

  const step = { targetUserId: id('heir') };
  expectUnavailable(await admin('POST', `/v1/deletions/${started.body.id}/leads`, step));
  // Retry waits on the wizard too (its refusal, 409, comes from the wizard itself).
  expectUnavailable(await admin('POST', `/v1/deletions/${started.body.id}/retry`, {}));
  // Reads do not wait on the wizard.
  const read = await admin('GET', `/v1/deletions/${started.body.id}`);
  expect(read.status).toBe(200);
  expect(read.body.status).toBe('IN_PROGRESS');

  await startWorker();
  // Sent again: it applies now, or it had applied meanwhile (then the step is past: 409).
  const retried = await eventually(
    async () => {
      const r = await admin('POST', `/v1/deletions/${started.body.id}/leads`, step);
      return r.status === 503 ? undefined : r;
    },
    60_000,
    'the step to be answered',
  );
  expect([202, 409]).toContain(retried.status);
  const moved = await eventually(
    async () => {
      const r = await admin('GET', `/v1/deletions/${started.body.id}`);
      return r.body.step === 'AUTOMATIONS' ? r.body : undefined;
    },
    60_000,
    'the lead move',
  );
  expect(moved.leads).toEqual(expect.objectContaining({ total: 3, moved: 3, state: 'DONE' }));
  expect((await admin('GET', `/v1/leads/count?ownerId=${id('heir')}`)).body).toEqual({ count: 3 });
});

test('the HR hook that no worker answers is 503 with Retry-After; sent again once a worker runs, it is accepted', async () => {
  await stopWorker();
  const { hookSecret } = await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id }, select: { hookSecret: true } });
  const hook = () => {
    const raw = JSON.stringify({ email: ws.users.fired!.email, employeeId: 'E-503' });
    return client(api.url)('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(hookSecret, raw) });
  };
  expectUnavailable(await hook());

  await startWorker();
  const accepted = await eventually(async () => {
    const r = await hook();
    return r.status === 503 ? undefined : r;
  }, 60_000, 'the hook to be answered');
  expect(accepted.status).toBe(202);
  const opened = await admin('GET', `/v1/deletions/${accepted.body.deletionId}`);
  expect(opened.body).toEqual(expect.objectContaining({ status: 'IN_PROGRESS', source: 'HR', user: expect.objectContaining({ id: id('fired') }) }));
});

test('the OpenAPI document says which routes may answer 503 with Retry-After', async () => {
  const doc = (await client(api.url)('GET', '/openapi.json')).body;
  const waiting = [
    '/v1/users/{userId}/deletion',
    '/v1/deletions/{id}/leads',
    '/v1/deletions/{id}/automations',
    '/v1/deletions/{id}/integrations',
    '/v1/deletions/{id}/labels',
    '/v1/deletions/{id}/confirm',
    '/v1/deletions/{id}/cancel',
    '/v1/deletions/{id}/retry',
    '/v1/hooks/{workspaceSlug}/offboarding',
  ];
  for (const route of waiting) {
    expect({ route, documented: Boolean(doc.paths[route].post.responses['503']) }).toEqual({ route, documented: true });
  }
  expect(doc.paths['/v1/deletions/{id}'].get.responses['503']).toBeUndefined();
});
