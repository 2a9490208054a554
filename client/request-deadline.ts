// api.md: no request waits on a wizard for more than 10 seconds. A request
// may wait more than once (a cancel under way, then the wizard's answer; a
// removal, then a new wizard's opening): its waits share that one limit,
// counted from its first wait on a wizard, instead of each starting afresh.
// (Not from its arrival: reading a slow client's body, or the database, is no
// wait on a wizard.) The API marks each request as it arrives (`duringRequest`);
// the wizard client starts and reads its clock wherever it waits
// (client/wizard-client.ts). Outside a request (a script, a test calling the
// client), each wait has its own limit.
import { AsyncLocalStorage } from 'node:async_hooks';

const requests = new AsyncLocalStorage<{ firstWaitAt?: number }>();

/** Runs `fn` (and all it starts) as one request. */
export function duringRequest<T>(fn: () => T): T {
  return requests.run({}, fn);
}

/**
 * When the request being answered began to wait on a wizard: now, on its
 * first wait (which starts the clock); now, each time, outside a request.
 */
export function waitingSince(): number {
  const request = requests.getStore();
  if (!request) return Date.now();
  request.firstWaitAt ??= Date.now();
  return request.firstWaitAt;
}
