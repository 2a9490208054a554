// Starts the real parts every test talks to, once per jest run:
// - a database of this run's own: a fresh `crm_test_<pid>` on DATABASE_URL's
//   server when DATABASE_URL is set (CI's PostgreSQL), else an in-memory
//   PGlite served on a free port; migrated either way;
// - a headless, in-memory Temporal dev server on a free port;
// - workflows/index.ts bundled once (when it exists), written to a file.
// Tests read all of it with testEnv() (tests/support/env.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger } from '@temporalio/worker';
import { loadConfig } from '../infra/config';
import { startEmbeddedPostgres } from '../infra/database';
import { migrate } from '../infra/migrate';
import { findTemporalCli } from '../infra/temporal-cli';
import { startTemporalDevServer } from '../infra/temporal-server';
import { freePort } from '../infra/ports';
import { TEST_ENV_VARS } from './support/env';
import { createThrowawayDatabase } from './support/throwaway-database';

export interface GlobalTestState {
  stops: { name: string; stop: () => Promise<void> }[];
}

const TEST_NAMESPACE = 'crm-offboarding-test';
/** Test-only AES-256 key (32 bytes of 0x01..0x20): never a production key. */
export const TEST_PAYLOAD_KEYS = `test-1=${Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1)).toString('base64')}`;

const setupStarted = Date.now();
function log(message: string): void {
  process.stderr.write(`[test setup ${((Date.now() - setupStarted) / 1000).toFixed(1)} s] ${message}\n`);
}

export default async function globalSetup(): Promise<void> {
  log("setup starts");
  const state: GlobalTestState = { stops: [] };
  (globalThis as { __CRM_TEST__?: GlobalTestState }).__CRM_TEST__ = state;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-test-'));
  state.stops.push({ name: 'scratch folder', stop: async () => fs.rmSync(scratch, { recursive: true, force: true }) });

  try {
    // The three are independent: start them side by side. Each registers its
    // own stop as soon as it is up, so a failure in one still cleans up all.
    const [database, temporal, bundlePath] = await allOrNothing([
      (async () => {
        const url = await startDatabase(state);
        log(`database ${redact(url)} up`);
        await migrate(url, (message: string) => log(message));
        return url;
      })(),
      (async () => {
        const cliPath = await findTemporalCli({ TEMPORAL_CLI: process.env.TEMPORAL_CLI || undefined }, log);
        const server = await startTemporalDevServer({
          cliPath,
          port: 0,
          uiPort: null,
          dbFile: null,
          namespace: TEST_NAMESPACE,
          log: () => undefined,
        });
        state.stops.push({ name: 'Temporal dev server', stop: server.stop });
        log(`Temporal dev server on ${server.address}`);
        return { ...server, cliPath };
      })(),
      bundleWorkflows(scratch),
    ] as const);
    const databaseUrl = database;
    const cliPath = temporal.cliPath;

    process.env[TEST_ENV_VARS.databaseUrl] = databaseUrl;
    process.env[TEST_ENV_VARS.temporalAddress] = temporal.address;
    process.env[TEST_ENV_VARS.namespace] = TEST_NAMESPACE;
    process.env[TEST_ENV_VARS.workflowBundlePath] = bundlePath ?? '';
    process.env[TEST_ENV_VARS.cliPath] = cliPath;
    // So that code calling loadConfig() inside a test lands on this run's parts too.
    process.env.DATABASE_URL = databaseUrl;
    process.env.TEMPORAL_ADDRESS = temporal.address;
    process.env.TEMPORAL_NAMESPACE = TEST_NAMESPACE;
    // Worker processes the tests spawn serve no metrics unless a test asks (9464 may be taken on this machine).
    process.env.WORKER_METRICS_PORT = '0';
    // Payloads are encrypted in tests as in production, with a fixed test-only
    // key (so histories recorded by a test run replay in later runs).
    process.env.PAYLOAD_ENCRYPTION_KEYS = TEST_PAYLOAD_KEYS;

    log(`ready${bundlePath ? ' (workflows/index.ts bundled)' : ''}`);
  } catch (err) {
    await stopAll(state);
    throw err;
  }
}

/** Like Promise.all, but waits for every promise to settle before rejecting. */
async function allOrNothing<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

async function startDatabase(state: GlobalTestState): Promise<string> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    const pglite = await startEmbeddedPostgres({ port: await freePort(), log: () => undefined });
    state.stops.push({ name: 'embedded PGlite', stop: pglite.stop });
    return pglite.url;
  }
  loadConfig(); // a malformed DATABASE_URL fails here with the config's own message
  const database = await createThrowawayDatabase(serverUrl, `crm_test_${process.pid}`);
  state.stops.push({ name: `database ${database.name}`, stop: database.drop });
  return database.url;
}

async function bundleWorkflows(scratch: string): Promise<string | null> {
  const workflowsPath = path.resolve(__dirname, '..', 'workflows', 'index.ts');
  if (!fs.existsSync(workflowsPath)) return null;
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [require.resolve('../infra/tracing-workflow')],
    logger: new DefaultLogger('WARN'),
  });
  const file = path.join(scratch, 'workflow-bundle.js');
  fs.writeFileSync(file, code);
  return file;
}

export async function stopAll(state: GlobalTestState): Promise<void> {
  for (const { name, stop } of state.stops.reverse()) {
    try {
      await stop();
    } catch (err) {
      log(`stopping ${name} failed: ${(err as Error).message}`);
    }
  }
  state.stops = [];
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
