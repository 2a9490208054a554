// One run shared by the calls that come while it runs; a new one after.
import { singleFlight } from '../../infra/single-flight';

function gate<T>() {
  let open!: (v: T) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((open = res), (fail = rej)));
  return { promise, open, fail };
}

test('calls made while a run is under way share it, and its value', async () => {
  const g = gate<number>();
  let runs = 0;
  const once = singleFlight(() => (runs++, g.promise));
  const answers = [once(), once()];
  // A call in a later turn of the event loop, the run started and still under way, joins it too.
  await new Promise((r) => setImmediate(r));
  expect(runs).toBe(1);
  answers.push(once());
  g.open(7);
  expect(await Promise.all(answers)).toEqual([7, 7, 7]);
  expect(runs).toBe(1);
});

test('the first call after a run settles starts a new run', async () => {
  let runs = 0;
  const once = singleFlight(async () => ++runs);
  expect(await once()).toBe(1);
  expect(await once()).toBe(2);
  expect(await Promise.all([once(), once()])).toEqual([3, 3]);
});

test('a failure is shared by the calls that waited on it, and the next call runs again', async () => {
  const g = gate<string>();
  let runs = 0;
  const once = singleFlight(() => (++runs === 1 ? g.promise : Promise.resolve('second')));
  const both = Promise.allSettled([once(), once()]);
  g.fail(new Error('down'));
  expect((await both).map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).toEqual(['down', 'down']);
  expect(await once()).toBe('second');
  expect(runs).toBe(2);
});

test('a run that throws at once fails its callers without wedging the next run', async () => {
  let runs = 0;
  const once = singleFlight((): Promise<string> => {
    if (++runs === 1) throw new Error('synchronous');
    return Promise.resolve('ok');
  });
  await expect(once()).rejects.toThrow('synchronous');
  await expect(once()).resolves.toBe('ok');
});
