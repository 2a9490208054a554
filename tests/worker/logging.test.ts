// The worker's SDK logger (worker/logging.ts) unit by unit: what a line of
// the SDK's becomes in the process's JSON log.
import { Writable } from 'node:stream';
import pino from 'pino';
import { loggerOptions } from '../../infra/logger';
import { runtimeLogging, sdkLogger } from '../../worker/logging';

function capture(level: 'info' | 'warn' | 'debug' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ ...loggerOptions(level), name: 'worker' }, sink), lines };
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
