// api.md: no request waits on a wizard for more than 10 seconds. A request
// may wait more than once (a cancel under way, then the wizard's answer; a
// removal, then a new wizard's opening): its waits share that one limit,
// counted from when the request arrived, instead of each starting afresh. The
// API marks each request as it arrives (`duringRequest`); the wizard client
// reads the mark wherever it waits (client/wizard-client.ts). Outside a request
// (a script, a test calling the client), each wait has its own limit.
import { AsyncLocalStorage } from 'node:async_hooks';

const requests = new AsyncLocalStorage<{ startedAt: number }>();

/** Runs `fn` (and all it starts) as part of a request that arrived at `startedAt`. */
export function duringRequest<T>(startedAt: number, fn: () => T): T {
  return requests.run({ startedAt }, fn);
}

/** When the request being answered arrived; undefined outside one. */
export function requestStartedAt(): number | undefined {
  return requests.getStore()?.startedAt;
}
