// The worker's SDK logger (worker/logging.ts) unit by unit: what a line of
// the SDK's becomes in the process's JSON log; and the sentences of the
// embedded database, at their levels.
import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerOptions, sentenceLog } from '../../infra/logger';
import { LogTimestamp } from '@temporalio/worker';
import { runtimeLogging, sdkLogger } from '../../worker/logging';
import { runTs } from '../db/helpers';

function capture(level: 'info' | 'warn' | 'debug' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(loggerOptions(level, 'worker'), sink), lines };
}

test('a line of the SDK: its message and metadata as fields of one JSON line, an error with its message and stack, no task token', () => {
  const { logger, lines } = capture();
  sdkLogger(logger, 'INFO').warn('Activity failed', {
    sdkComponent: 'activity',
    workflowId: 'deletion-1',
    activityType: 'moveLeadsSlice',
    taskToken: 'Q2lRd01XRXlNekppTlMwM1pETXpMVGMyWkdVdE9UQXhNeTB6T0dJNA==',
    error: new Error('connection reset'),
  });
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ level: 40, name: 'worker', msg: 'Activity failed', workflowId: 'deletion-1', activityType: 'moveLeadsSlice' });
  expect(lines[0]).not.toHaveProperty('taskToken');
  expect(lines[0]!.error).toMatchObject({ type: 'Error', message: 'connection reset' });
  expect(String((lines[0]!.error as { stack: string }).stack)).toContain('connection reset');
});

test("the SDK's level filters: below it nothing is written", () => {
  const { logger, lines } = capture('debug');
  const sdk = sdkLogger(logger, 'WARN');
  sdk.info('Worker state changed', { state: 'RUNNING' });
  sdk.debug('polling');
  sdk.error('Workflow task failed', { workflowId: 'w' });
  expect(lines.map((l) => [l.level, l.msg])).toEqual([[50, 'Workflow task failed']]);
});

test('"no workflows registered" is a warning on the main queue, and a debug line on the acknowledgement queue that has none by design', () => {
  const { logger, lines } = capture('debug');
  const sdk = sdkLogger(logger, 'DEBUG');
  sdk.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: 'offboarding-acknowledgements' });
  sdk.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'worker', taskQueue: 'offboarding' });
  expect(lines.map((l) => [l.level, l.taskQueue])).toEqual([
    [20, 'offboarding-acknowledgements'],
    [40, 'offboarding'],
  ]);
});

test("the core's own lines are forwarded to the same logger, at WARN and above (ERROR when only errors are asked for)", () => {
  const { logger } = capture();
  expect(runtimeLogging(logger, 'info').logging).toEqual({ filter: { core: 'WARN', other: 'WARN' }, forward: {} });
  expect(runtimeLogging(logger, 'debug').logging.filter.core).toBe('WARN');
  expect(runtimeLogging(logger, 'error').logging.filter.core).toBe('ERROR');
  expect(runtimeLogging(logger, 'silent').logger.level).toBe('ERROR');
});

test("a task token is written nowhere: neither the activity's, nor the core's field or message, nor the task the SDK could not start", () => {
  const { logger, lines } = capture();
  const sdk = sdkLogger(logger, 'INFO');
  const token = 'CiQwMWEyMzJiNS03ZDMzLTc2ZGUtOTAxMy0zOGI4NTRmMTA2YjQSPGRlbGV0aW9u';
  sdk.warn('Activity not found on completion. This may happen if the activity has already been cancelled but completed anyway.', {
    sdkComponent: 'core',
    task_token: token,
  });
  sdk.warn(`Attempted to complete activity task ${token} but we were not tracking it`, { sdkComponent: 'core' });
  sdk.error('Error while processing ActivityTask.start', { task: JSON.stringify({ taskToken: token }), taskEncoded: Buffer.from(token).toString('base64') });
  expect(lines).toHaveLength(3);
  expect(JSON.stringify(lines)).not.toContain(token);
  expect(lines[1]!.msg).toBe('Attempted to complete activity task [redacted] but we were not tracking it');
});

test('a sentence is written at the level it was said at: INFO unless WARN', () => {
  const { logger, lines } = capture();
  const log = sentenceLog(logger);
  log('embedded PostgreSQL (PGlite in /data/pglite) listening on 127.0.0.1:54329');
  log('embedded database thread stopped unexpectedly (exit code 1); its clients are disconnected', 'warn');
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [30, 'embedded PostgreSQL (PGlite in /data/pglite) listening on 127.0.0.1:54329'],
    [40, 'embedded database thread stopped unexpectedly (exit code 1); its clients are disconnected'],
  ]);
});

test("the embedded database's failures reach the worker's log at WARN (still shown at LOG_LEVEL=warn), from its own thread", () => {
  const out = runTs('tests/db/fixtures/log-levels.ts', []);
  expect(out.status).toBe(0);
  const lines = out.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  expect(lines).toContainEqual(expect.objectContaining({ level: 40, msg: 'embedded database: refusing a connection, 1 already open' }));
  expect(lines).toContainEqual(
    expect.objectContaining({ level: 40, msg: 'embedded database: closing a connection idle in a transaction for more than 200 ms' }),
  );
  expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: expect.stringMatching(/^embedded PostgreSQL \(PGlite, in memory\) listening on/) }));
  expect(lines.filter((line) => line.level >= 40)).toHaveLength(2);
});

test('a line the SDK held back is stamped with when it was said; a line of our own, with now', () => {
  const { logger, lines } = capture();
  const said = Date.now() - 180; // the SDK sorts its lines and its core's for 0.1-0.2 s before they reach us
  sdkLogger(logger, 'INFO').info('Worker state changed', { [LogTimestamp]: BigInt(said) * 1_000_000n, state: 'RUNNING' });
  const before = Date.now();
  logger.info('worker metrics on http://127.0.0.1:9464/metrics');
  expect(lines[0]).toMatchObject({ time: said, msg: 'Worker state changed' });
  expect(lines[1]!.time).toBeGreaterThanOrEqual(before);
});
