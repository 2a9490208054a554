// The probe the bench preloads into the worker (p99BatchMs comes from it):
// it must see each batch's lock_ms however pg is called, and nothing else.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { batchTimesSince, parseBatchTimes } from '../../scripts/bench/batch-times';
import { testEnv } from '../support/env';

const ROOT = path.resolve(__dirname, '..', '..');
// Asynchronous: the embedded test database may be served by this very process.
const run = promisify(execFile);

test('records lock_ms from Prisma, a pg pool and a pg client, one line per batch of an array, with its leads where given; ignores other results', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
  const file = path.join(dir, 'batches.log');
  try {
    const before = Date.now();
    await run(
      process.execPath,
      ['--require', path.join(ROOT, 'scripts/bench/batch-probe.cjs'), '--import', 'tsx', path.join(__dirname, 'fixtures/probe-queries.ts'), testEnv().databaseUrl],
      { cwd: ROOT, env: { ...process.env, BENCH_BATCH_LOG: file } },
    );
    const times = parseBatchTimes(fs.readFileSync(file, 'utf8'));
    expect(times.map((t) => t.ms)).toEqual([12.5, 3.5, 4, 30, 7, 8]);
    expect(times.map((t) => t.leads)).toEqual([undefined, 500, 625, undefined, undefined, undefined]);
    expect(times.every((t) => t.at >= before && t.at <= Date.now())).toBe(true);
    // Whole ms, rounded up like maxBatchMs; nothing before the window.
    expect(batchTimesSince(file, before)).toEqual([13, 4, 4, 30, 7, 8]);
    expect(batchTimesSince(file, Date.now() + 1_000)).toEqual([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('without BENCH_BATCH_LOG the probe changes nothing', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--require', path.join(ROOT, 'scripts/bench/batch-probe.cjs'), '-e', "console.log(String(require('pg').Client.prototype.query.benchProbe))"],
    { cwd: ROOT, env: { ...process.env, BENCH_BATCH_LOG: '' } },
  );
  expect(stdout.trim()).toBe('undefined');
});
