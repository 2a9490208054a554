// The real worker (worker/main.ts) as a process of its own, on this test run's
// database, Temporal server and workflow bundle: for tests that kill it, or
// scrape it. Batches of a fixed size (no adapting) and no metrics endpoint
// unless asked: two such workers in parallel test files must not both want
// the default port.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { testEnv } from './env';

const ROOT = path.resolve(__dirname, '..', '..');

/** `output: 'pipe'` to read what the worker writes (its log on stdout); else stdout is dropped and stderr is the test's. */
export function spawnWorkerProcess(taskQueue: string, env: Record<string, string> = {}, output: 'inherit' | 'pipe' = 'inherit'): ChildProcess {
  const run = testEnv();
  return spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: run.databaseUrl,
      TEMPORAL_ADDRESS: run.temporalAddress,
      TEMPORAL_NAMESPACE: run.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKFLOW_BUNDLE_PATH: run.workflowBundlePath ?? '',
      LEAD_MOVE_BATCH_TARGET_MS: '0',
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'error',
      ...env,
    },
    stdio: output === 'pipe' ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'ignore', 'inherit'],
  });
}
