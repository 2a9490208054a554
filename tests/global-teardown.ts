// Stops what tests/global-setup.ts started, newest first.
import { type GlobalTestState, stopAll } from './global-setup';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as { __CRM_TEST__?: GlobalTestState }).__CRM_TEST__;
  if (state) await stopAll(state);
}
