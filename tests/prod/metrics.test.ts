// Prometheus on both processes, scraped during a real wizard and parsed with a
// Prometheus text parser: the API's /metrics (HTTP per route, wizards by
// status and step, wizards needing attention, HR offboardings by result) and
// the worker process's WORKER_METRICS_PORT (leads moved, batch durations, and
// the Temporal SDK's own metrics).
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import parse from 'parse-prometheus-text-format';
import { listenTestServer, tokenOf } from '../api/support';
import { signHookBody } from '../../api/hook-signature';
import { freePort } from '../../infra/ports';
import { spawnWorkerProcess } from '../support/worker-process';
import { asAdmin, eventually, makeWorkspace, wizardHarness, type WizardHarness } from '../support/wizard';
import { runWholeWizard } from './wizard-run';

type Families = ReturnType<typeof parse> & { text?: string };

let h: WizardHarness;
let worker: ChildProcess | undefined;
let apiUrl: string;
let workerUrl: string;
let closeApi: () => Promise<void>;

beforeAll(async () => {
  h = await wizardHarness({ worker: false, batchSize: 500 });
  const port = await freePort();
  worker = spawnWorkerProcess(h.config.TEMPORAL_TASK_QUEUE, { LEAD_MOVE_BATCH_SIZE: '500', WORKER_METRICS_PORT: String(port), HOST: '127.0.0.1' });
  workerUrl = `http://127.0.0.1:${port}/metrics`;
  // Every scrape reads the table afresh (sharing one count is tests/api/metrics-access.test.ts's).
  const { app, url } = await listenTestServer(h, { metricsMaxAgeMs: 0 });
  apiUrl = url;
  closeApi = () => app.close();
});

afterAll(async () => {
  await closeApi?.();
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker!.once('exit', resolve));
  }
  await h?.close();
});

async function scrape(url: string): Promise<Families> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await res.text();
  return Object.assign(parse(text), { text });
}

/**
 * One series of a scrape on its own (e.g. a labeled histogram's `_count`):
 * the parser merges the samples of a labeled histogram into one (prom-client
 * writes `le` before the other labels), so its counts are read from there.
 */
function series(families: Families, name: string): Families {
  const lines = families.text!.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return parse(`${lines.join('\n')}\n`);
}

function family(families: Families, name: string) {
  return families.find((f) => f.name === name);
}

/** Sum of a counter or gauge's samples whose labels include `labels`. */
function value(families: Families, name: string, labels: Record<string, string> = {}): number {
  const f = family(families, name);
  if (!f) return 0;
  return f.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0);
}

test('the worker endpoint from its start: leads moved of both kinds at 0, so an alert on them reads 0, not "no data"', async () => {
  // Found by a probe: crm_leads_moved_total{kind="SWEEP"} only appeared once a sweep moved a lead.
  await eventually(async () => (await fetch(workerUrl).then((r) => r.ok, () => false)) || undefined, 60_000, 'the worker metrics endpoint');
  const first = await scrape(workerUrl);
  // The first test of the file: nothing has moved yet on this worker.
  expect(first.text).toMatch(/^crm_leads_moved_total\{kind="MOVE"\} 0$/m);
  expect(first.text).toMatch(/^crm_leads_moved_total\{kind="SWEEP"\} 0$/m);
});

test('the worker endpoint answers HEAD as GET, without a body (the API\'s does too)', async () => {
  // Found by a probe: HEAD /metrics was 404.
  await eventually(async () => (await fetch(workerUrl).then((r) => r.ok, () => false)) || undefined, 60_000, 'the worker metrics endpoint');
  const head = await fetch(workerUrl, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-type')).toMatch(/^text\/plain/);
  // fetch drops a HEAD answer's body whatever arrives: read the bytes off the socket.
  const raw = await new Promise<string>((resolve, reject) => {
    const { hostname, port, pathname } = new URL(workerUrl);
    const socket = net.connect(Number(port), hostname, () => socket.write(`HEAD ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`));
    let got = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (got += chunk)).on('end', () => resolve(got)).on('error', reject);
  });
  expect(raw).toMatch(/^HTTP\/1\.1 200/);
  expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe('');
  expect((await fetch(workerUrl, { method: 'POST' })).status).toBe(404);
});

test('both endpoints move with a wizard: wizards by status and step, leads moved, batch durations, HTTP and SDK metrics', async () => {
  await eventually(async () => (await fetch(workerUrl).then((r) => r.ok, () => false)) || undefined, 60_000, 'the worker metrics endpoint');
  const apiBefore = await scrape(`${apiUrl}/metrics`);
  const workerBefore = await scrape(workerUrl);
  const movedBefore = value(workerBefore, 'crm_leads_moved_total', { kind: 'MOVE' });
  const completedBefore = value(apiBefore, 'crm_wizards', { status: 'COMPLETED' });
  expect(family(apiBefore, 'crm_wizards')?.type).toBe('GAUGE');
  expect(family(workerBefore, 'crm_lead_move_batch_seconds')?.type).toBe('HISTOGRAM');

  let during: { api: Families; worker: Families } | undefined;
  const run = await runWholeWizard(h, {
    leads: 5_000,
    onMoving: async () => {
      during = { api: await scrape(`${apiUrl}/metrics`), worker: await scrape(workerUrl) };
    },
  });
  // While it ran: our wizard was in progress (the gauge reads the deletions table on each scrape).
  expect(value(during!.api, 'crm_wizards', { status: 'IN_PROGRESS' })).toBeGreaterThanOrEqual(1);

  const apiAfter = await scrape(`${apiUrl}/metrics`);
  const workerAfter = await scrape(workerUrl);
  expect(value(apiAfter, 'crm_wizards', { status: 'COMPLETED', step: 'DONE' }) + value(apiAfter, 'crm_wizards', { status: 'COMPLETED' })).toBeGreaterThan(0);
  expect(value(apiAfter, 'crm_wizards', { status: 'COMPLETED' })).toBeGreaterThanOrEqual(completedBefore + 1);
  expect(value(workerAfter, 'crm_leads_moved_total', { kind: 'MOVE' }) - movedBefore).toBeGreaterThanOrEqual(5_000);
  const [batches] = family(workerAfter, 'crm_lead_move_batch_seconds')!.metrics;
  expect(Number(batches?.count)).toBeGreaterThanOrEqual(10); // 5,000 leads in batches of 500
  expect(Number(batches?.sum)).toBeGreaterThan(0);
  // The Temporal SDK's own metrics come through the same scrape.
  expect(workerAfter.some((f) => f.name.startsWith('temporal_') && f.name.includes('activity'))).toBe(true);
  expect(value(workerAfter, 'crm_worker_process_cpu_seconds_total')).toBeGreaterThan(0);

  // HTTP metrics per route, by the route's pattern (no ids in labels).
  const http = family(apiAfter, 'http_request_duration_seconds');
  expect(http?.type).toBe('HISTOGRAM');
  const countOf = (f: Families, labels: Record<string, string>) => value(series(f, 'http_request_duration_seconds_count'), 'http_request_duration_seconds_count', labels);
  const refused = { route: '/v1/deletions/:id', method: 'GET', status_code: '401' };
  const refusedBefore = countOf(apiAfter, refused);
  expect((await fetch(`${apiUrl}/v1/deletions/${run.deletionId}`)).status).toBe(401);
  expect((await fetch(`${apiUrl}/v1/deletions/${run.deletionId}`)).status).toBe(401);
  const afterRequests = await scrape(`${apiUrl}/metrics`);
  expect(countOf(afterRequests, refused) - refusedBefore).toBe(2);
  const httpCounts = series(afterRequests, 'http_request_duration_seconds_count');
  for (const m of httpCounts[0]!.metrics) expect(m.labels?.route).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}/);

  // Attention: a wizard whose state carries `attention` is counted.
  const attentionBefore = value(apiAfter, 'crm_wizards_attention');
  await h.prisma.$executeRaw`
    UPDATE deletions SET state = state || jsonb_build_object('attention', jsonb_build_object('reason', 'test'))
    WHERE id = ${run.deletionId}`;
  const withAttention = await scrape(`${apiUrl}/metrics`);
  expect(value(withAttention, 'crm_wizards_attention', { status: 'COMPLETED' })).toBeGreaterThanOrEqual(1);
  expect(value(withAttention, 'crm_wizards_attention')).toBeGreaterThanOrEqual(attentionBefore + 1);
});

test('HR offboardings are counted by result', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER' });
  const { hookSecret } = await h.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } });
  const before = await scrape(`${apiUrl}/metrics`);
  const send = (body: string, signature: string) =>
    fetch(`${apiUrl}/v1/hooks/${ws.slug}/offboarding`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': signature }, body });
  const unknown = JSON.stringify({ email: 'nobody@nowhere.test' });
  expect((await send(unknown, 't=1,v1=00')).status).toBe(401);
  expect((await send(unknown, signHookBody(hookSecret, unknown))).status).toBe(404);
  const after = await scrape(`${apiUrl}/metrics`);
  const delta = (result: string) =>
    value(after, 'crm_hr_offboardings_received_total', { source: 'hook', result }) - value(before, 'crm_hr_offboardings_received_total', { source: 'hook', result });
  expect(delta('unauthorized')).toBe(1);
  expect(delta('unknown_user')).toBe(1);
  expect(delta('accepted')).toBe(0);
});

test('an event stream is counted when it ends, the client closing it as well as the server ending it', async () => {
  // Found by a review: a stream the client closed (the page leaving a wizard) was never counted: only
  // streams the server ended reached the histogram.
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
  const token = await tokenOf(h.prisma, ws, 'admin');
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: { type: 'USER', id: ws.users.admin!.id }, source: 'ADMIN' });
  const stream = { route: '/v1/deletions/:id/events', method: 'GET', status_code: '200' };
  const countOf = (f: Families) => value(series(f, 'http_request_duration_seconds_count'), 'http_request_duration_seconds_count', stream);
  const before = countOf(await scrape(`${apiUrl}/metrics`));
  const closing = new AbortController();
  const res = await fetch(`${apiUrl}/v1/deletions/${deletion.id}/events`, { headers: { authorization: `Bearer ${token}` }, signal: closing.signal });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^data: /);
  closing.abort();
  await reader.closed.catch(() => undefined);
  await eventually(async () => (countOf(await scrape(`${apiUrl}/metrics`)) - before === 1 ? true : undefined), 10_000, 'the closed stream counted');
  // The server ends the stream of a finished wizard after its final state: counted once too.
  await h.wizard.cancel(ws.id, deletion.id, { type: 'USER', id: ws.users.admin!.id }, {});
  const ended = await fetch(`${apiUrl}/v1/deletions/${deletion.id}/events`, { headers: { authorization: `Bearer ${token}` } });
  expect(await ended.text()).toMatch(/"status":"CANCELLED"/);
  await eventually(async () => (countOf(await scrape(`${apiUrl}/metrics`)) - before === 2 ? true : undefined), 10_000, 'the ended stream counted');
  expect(countOf(await scrape(`${apiUrl}/metrics`)) - before).toBe(2);
});

test("a rule's refusal inside a step's activity is an answer, not a failure: the SDK's failed-activity counters stay where they were", async () => {
  // Found by a probe: each 422 from a step's local activity raised temporal_local_activity_execution_failed.
  const failed = (families: Families) =>
    value(families, 'temporal_local_activity_execution_failed') + value(families, 'temporal_local_activity_execution_failed_total') +
    value(families, 'temporal_activity_execution_failed') + value(families, 'temporal_activity_execution_failed_total');
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', leaver: 'MEMBER' });
  // About 1.6 MB of view: more than one wizard can carry (refused inside the opening's activity).
  await h.prisma.label.createMany({
    data: Array.from({ length: 6_000 }, (_, i) => ({ workspaceId: ws.id, name: `${i} `.padEnd(190, 'x'), visibility: 'SHARED' as const, ownerId: ws.users.leaver!.id })),
  });
  const before = failed(await scrape(workerUrl));
  for (let i = 0; i < 3; i++) {
    const refused = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws, 'owner'), source: 'ADMIN' }).then(
      () => null,
      (err: Error) => err,
    );
    expect(refused?.message).toMatch(/more than one wizard can carry/);
  }
  expect(failed(await scrape(workerUrl))).toBe(before);
}, 120_000);
