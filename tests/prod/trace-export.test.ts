// A collector that refuses or is away is said in the log: spans are dropped,
// and an operator must learn it from somewhere (found by a probe: nothing was
// logged at all). Once a minute at most, naming the endpoint, never its credentials.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { setupTracing, type Tracing } from '../../infra/tracing';
import { diagToLog } from '../../infra/tracing-diag';

let tracing: Tracing | null = null;
let collector: http.Server;
let endpoint: string;
let exports = 0;

beforeAll(async () => {
  // Export every 50 ms rather than every 5 s (the SDK's own setting, read from the environment).
  process.env.OTEL_BSP_SCHEDULE_DELAY = '50';
  collector = http.createServer((req, res) => {
    req.resume();
    exports++;
    res.writeHead(401, { 'content-type': 'text/plain' }).end('no such tenant');
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  endpoint = `http://otel-user:s3cret-pass@127.0.0.1:${(collector.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await tracing?.shutdown().catch(() => {});
  await new Promise((resolve) => collector.close(resolve));
  delete process.env.OTEL_BSP_SCHEDULE_DELAY;
});

test('failed exports are a WARN line naming the endpoint and the error, once a minute at most, without credentials', async () => {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const logger = { warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ fields, msg }) };
  tracing = setupTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'crm-offboarding-test' }, { logger });
  for (let round = 0; round < 3; round++) {
    trace.getTracer('test').startSpan(`span ${round}`).end();
    const seen = exports;
    for (let waited = 0; exports === seen && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(exports).toBeGreaterThan(seen);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(lines).toHaveLength(1);
  const [line] = lines;
  expect(line!.msg).toMatch(/trace export failed/i);
  const text = JSON.stringify(line);
  expect(text).toContain(`127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`);
  expect(text).toMatch(/Unauthorized|401/);
  expect(text).not.toContain('s3cret-pass');
  expect(text).not.toContain('otel-user');
});

test('after a quiet minute the next failure is logged again, saying how many were left out', () => {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  let now = 0;
  const log = diagToLog({ warn: (fields, msg) => void lines.push({ fields, msg }) }, 'https://u:p@collector.test:4318/v1/traces?k=v', { now: () => now });
  const failure = JSON.stringify({ name: 'OTLPExporterError', message: 'Service Unavailable', code: 503, data: 'body', stack: 'at …' });
  for (const at of [0, 1_000, 30_000, 61_000]) {
    now = at;
    log.error(failure);
  }
  expect(lines).toEqual([
    { fields: { endpoint: 'https://collector.test:4318/v1/traces', error: 'OTLPExporterError: Service Unavailable', code: 503 }, msg: 'Trace export failed: its spans are dropped' },
    { fields: { endpoint: 'https://collector.test:4318/v1/traces', error: 'OTLPExporterError: Service Unavailable', code: 503, leftOut: 2 }, msg: 'Trace export failed: its spans are dropped' },
  ]);
});

test("the SDK's own warnings are throttled by kind, whatever numbers they carry, and never show an endpoint's credentials", () => {
  // Found by review: "Dropped 12 spans because maxQueueSize reached" changes its number each time, so it was never
  // throttled (and each one was remembered for good); a message quoting a URL printed its credentials.
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = diagToLog({ warn: (fields, msg) => void lines.push({ fields, msg }) }, 'http://collector.test:4318', { now: () => 0 });
  for (let n = 1; n <= 50; n++) log.warn(`Dropped ${n} spans because maxQueueSize reached`);
  log.warn("Could not parse export URL: 'https://otel-user:s3cret@collector.test:4318/v1/traces?token=abc'");
  expect(lines.map((l) => l.msg)).toEqual([
    'OpenTelemetry: Dropped 1 spans because maxQueueSize reached',
    "OpenTelemetry: Could not parse export URL: 'https://collector.test:4318/v1/traces'",
  ]);
  expect(JSON.stringify(lines)).not.toMatch(/s3cret|otel-user|token=abc/);
});
