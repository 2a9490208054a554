// What tests/global-setup.ts started for this jest run, read back from the
// environment (jest workers inherit the variables globalSetup sets).
import { type Config, loadConfig } from '../../infra/config';

export interface TestEnv {
  /** A database of its own for this run, already migrated. */
  databaseUrl: string;
  /** host:port of a headless, in-memory Temporal dev server. */
  temporalAddress: string;
  /** Namespace created on it, with our search attributes registered. */
  namespace: string;
  /** Path of workflows/index.ts bundled once (pass as `workflowBundle: { codePath }`), or null when there is no workflows/index.ts. */
  workflowBundlePath: string | null;
  /** The Temporal CLI the server runs from (for tests that start servers of their own). */
  cliPath: string;
}

export const TEST_ENV_VARS = {
  databaseUrl: 'CRM_TEST_DATABASE_URL',
  temporalAddress: 'CRM_TEST_TEMPORAL_ADDRESS',
  namespace: 'CRM_TEST_TEMPORAL_NAMESPACE',
  workflowBundlePath: 'CRM_TEST_WORKFLOW_BUNDLE',
  cliPath: 'CRM_TEST_TEMPORAL_CLI',
} as const;

export function testEnv(): TestEnv {
  const read = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run tests through jest (npm test), whose globalSetup starts the database and Temporal.`);
    return value;
  };
  return {
    databaseUrl: read(TEST_ENV_VARS.databaseUrl),
    temporalAddress: read(TEST_ENV_VARS.temporalAddress),
    namespace: read(TEST_ENV_VARS.namespace),
    workflowBundlePath: process.env[TEST_ENV_VARS.workflowBundlePath] || null,
    cliPath: read(TEST_ENV_VARS.cliPath),
  };
}

/** The service's typed config pointed at this run's database and Temporal server. */
export function testConfig(overrides: Partial<Record<keyof Config, string>> = {}): Config {
  const env = testEnv();
  return loadConfig({
    ...process.env,
    DATABASE_URL: env.databaseUrl,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: env.namespace,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...overrides,
  });
}
