// One trace per request: an in-memory exporter sees the API's HTTP span, the
// Temporal client's span, the activity the workflow ran for it and that
// activity's database queries, all in one trace. And the tracing interceptor
// in the workflow bundle never changes a history: a wizard whose worker keeps
// no cache (every task replays from history), with update validators refusing
// input and queries in between, completes and replays.
import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { listenTestServer } from '../api/support';
import { createWizardClient } from '../../client/wizard-client';
import { getDeletion } from '../../workflows/definitions';
import { dataConverter } from '../../infra/codec';
import { createApiToken } from '../../infra/tokens';
import { clientInterceptors, setupTracing, type Tracing } from '../../infra/tracing';
import { createWorker } from '../../worker';
import { testEnv } from '../support/env';
import { asAdmin, eventually, finished, makeWorkspace, moveDone, wizardHarness, type WizardHarness } from '../support/wizard';
import { client } from '../api/support';
import { finishThroughApi } from '../api/wizard-steps';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let h: WizardHarness;

beforeAll(async () => {
  tracing = setupTracing({ OTEL_SERVICE_NAME: 'crm-offboarding-test', OTEL_EXPORTER_OTLP_ENDPOINT: undefined }, { exporter })!;
  h = await wizardHarness({ worker: true, batchSize: 1_000 });
});
afterAll(async () => {
  await h?.close();
  await tracing?.shutdown();
});

function ancestors(span: ReadableSpan, all: ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(all.map((s) => [s.spanContext().spanId, s]));
  const chain: ReadableSpan[] = [];
  for (let parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; parent; parent = parent.parentSpanId ? byId.get(parent.parentSpanId) : undefined) {
    chain.push(parent);
  }
  return chain;
}

test('one trace from the HTTP request through the Temporal client and an activity down to its database queries', async () => {
  const temporal = new Client({
    connection: h.temporal.connection,
    namespace: testEnv().namespace,
    dataConverter: dataConverter(h.config),
    interceptors: clientInterceptors(),
  });
  const { app, url } = await listenTestServer({ ...h, wizard: createWizardClient({ temporal, prisma: h.prisma, config: h.config }) });
  try {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 10 });
    const token = await createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users.admin!.id, label: 'trace' });
    const res = await fetch(`${url}/v1/users/${ws.users.leaver!.id}/deletion`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'traced' }),
    });
    expect(res.status).toBe(201);

    const found = await eventually(async () => {
      const spans = exporter.getFinishedSpans();
      const server = spans.find((s) => s.name === 'POST /v1/users/:userId/deletion' && s.attributes['url.path'] === `/v1/users/${ws.users.leaver!.id}/deletion`);
      if (!server) return undefined;
      const inTrace = spans.filter((s) => s.spanContext().traceId === server.spanContext().traceId);
      const query = inTrace.find((s) => s.name === 'prisma:client:db_query' && ancestors(s, inTrace).some((a) => a.name.startsWith('RunActivity')));
      return query ? { server, inTrace, query } : undefined;
    }, 60_000, 'a database span of an activity in the request trace');

    const chain = ancestors(found.query, found.inTrace);
    const names = chain.map((s) => s.name);
    // query → … → activity → client call → HTTP request, the root.
    expect(names.some((n) => n.startsWith('RunActivity'))).toBe(true);
    expect(names.some((n) => n.startsWith('UpdateWithStartWorkflow:'))).toBe(true);
    expect(chain[chain.length - 1]).toBe(found.server);
    expect(found.server.parentSpanId).toBeUndefined();
    expect(found.server.attributes['http.response.status_code']).toBe(201);
  } finally {
    await app.close();
  }
});

test('a whole wizard over HTTP: every span belongs to a request\'s trace, each request\'s token and role lookups in its own', async () => {
  // Found by a probe: the token lookup (and a step's deletion and role lookups) ran in hooks outside the
  // request's span, each exported as a trace of its own; reads batched into one statement belong to one request.
  const temporal = new Client({ connection: h.temporal.connection, namespace: testEnv().namespace, dataConverter: dataConverter(h.config), interceptors: clientInterceptors() });
  const { app, url } = await listenTestServer({ ...h, wizard: createWizardClient({ temporal, prisma: h.prisma, config: h.config }) });
  try {
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 50 });
    const tokens = await Promise.all(['admin', 'owner'].map((u) => createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users[u]!.id, label: 'trace' })));
    const [admin, owner] = tokens.map((t) => client(url, t));
    const since = Date.now();
    const started = await admin!('POST', `/v1/users/${ws.users.leaver!.id}/deletion`, { reason: 'traced' });
    expect(started.status).toBe(201);
    const id = started.body.id as string;
    // Reads that share one statement (client/deletion-reads.ts): each request's trace still has its read.
    const reads = await Promise.all([admin, owner, admin, owner].map((c) => c!('GET', `/v1/deletions/${id}`)));
    expect(reads.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await finishThroughApi(admin!, id, ws.users.ann!.id)).status).toBe('COMPLETED');

    const ours = await eventually(async () => {
      const spans = exporter.getFinishedSpans().filter((s) => s.startTime[0] * 1000 + s.startTime[1] / 1e6 >= since);
      // Every request answered and the wizard's last activity exported.
      return spans.some((s) => s.name.startsWith('RunActivity:removeUser')) ? spans : undefined;
    }, 60_000, 'the wizard\'s spans');
    const servers = ours.filter((s) => s.kind === SpanKind.SERVER);
    expect(servers.length).toBeGreaterThan(10);
    const roots = ours.filter((s) => s.parentSpanId === undefined);
    expect(roots.filter((s) => s.kind !== SpanKind.SERVER).map((s) => `${s.name} ${JSON.stringify(s.attributes).slice(0, 200)}`)).toEqual([]);
    for (const server of servers) {
      const inTrace = ours.filter((s) => s.spanContext().traceId === server.spanContext().traceId && s !== server);
      // The token lookup: a query of the request's own (or its place in a shared statement's batch).
      expect([server.name, inTrace.some((s) => s.name.startsWith('prisma:') || s.name === 'deletion read')]).toEqual([server.name, true]);
    }
  } finally {
    await app.close();
  }
});

test('a caller\'s traceparent is continued, and no span is left active after a request', async () => {
  const { app, url } = await listenTestServer(h);
  try {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${url}/v1/health`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    expect(res.status).toBe(200);
    const span = await eventually(async () => exporter.getFinishedSpans().find((s) => s.name === 'GET /v1/health' && s.spanContext().traceId === traceId));
    expect(span.parentSpanId).toBe('00f067aa0ba902b7');
    expect(trace.getSpan(context.active())).toBeUndefined();
  } finally {
    await app.close();
  }
});

test('with no workflow cache (every task replays), validators refusing and queries between steps, a wizard completes and its history replays', async () => {
  const queue = `${h.config.TEMPORAL_TASK_QUEUE}-nocache`;
  const config = { ...h.config, TEMPORAL_TASK_QUEUE: queue };
  const { worker, close } = await createWorker({
    config,
    databaseUrl: testEnv().databaseUrl,
    workflowBundlePath: testEnv().workflowBundlePath!,
    options: { maxCachedWorkflows: 0 },
  });
  const running = worker.run();
  try {
    const temporal = new Client({ connection: h.temporal.connection, namespace: testEnv().namespace, dataConverter: dataConverter(config), interceptors: clientInterceptors() });
    const wizard = createWizardClient({ temporal, prisma: h.prisma, config });
    const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 2_500 });
    const [leaver, ann] = [ws.users.leaver!.id, ws.users.ann!.id];
    const admin = asAdmin(ws);
    const { deletion } = await wizard.start({ workspaceId: ws.id, userId: leaver, actor: admin, source: 'ADMIN', reason: 'no cache' });
    const handle = temporal.workflow.getHandle(deletion.workflowId);
    const id = deletion.id;
    // A validator refuses (the user themself as a target): nothing reaches history, the sequence must not shift.
    await expect(wizard.submitLeads(ws.id, id, admin, { distribution: [{ userId: leaver, weight: 100 }] })).rejects.toThrow();
    await handle.query(getDeletion);
    await wizard.submitLeads(ws.id, id, admin, { distribution: [{ userId: ann, weight: 100 }] });
    await handle.query(getDeletion);
    await moveDone(wizard, ws.id, id, 300_000);
    await expect(wizard.submitLabels(ws.id, id, admin, { replacements: [] })).rejects.toThrow();
    await wizard.submitAutomations(ws.id, id, admin, { overrides: [] });
    await handle.query(getDeletion);
    await wizard.submitIntegrations(ws.id, id, admin, { overrides: [] });
    await wizard.submitLabels(ws.id, id, admin, { replacements: [] });
    await handle.query(getDeletion);
    await wizard.confirm(ws.id, id, admin, { confirmation: 'CONFIRM' });
    expect((await finished(wizard, ws.id, id, 300_000)).status).toBe('COMPLETED');

    const history = await handle.fetchHistory();
    const failedTasks = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
    expect(failedTasks).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: { codePath: testEnv().workflowBundlePath! }, dataConverter: dataConverter(config) }, history, deletion.workflowId);
  } finally {
    worker.shutdown();
    await running;
    await close();
  }
});
