// Whose batch runs next (activities/lead-move/turns.ts), on its own: the
// limit, fewest leads left first, first come among equals, a move's age
// counted in its favour across its batches, a stopped claim giving its place
// up, and a failed batch giving its turn back.
import { getEventListeners } from 'node:events';
import { statementTurns } from '../../activities/lead-move/turns';

/** A work that runs until released, recording when it started. */
function held(name: string, started: string[]) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    work: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A clock the test moves by hand. */
function handClock() {
  let ms = 0;
  return { now: () => ms, set: (to: number) => void (ms = to) };
}

/**
 * Holds the only turn, queues `claims` behind it in order (each at its
 * `at` on `clock`, when given), lets go, and answers the order they ran in.
 */
async function orderBehindAHeldTurn(
  turns: ReturnType<typeof statementTurns>,
  claims: { move: string; leadsLeft: number; at?: number }[],
  clock?: ReturnType<typeof handClock>,
): Promise<string[]> {
  const order: string[] = [];
  const blocker = held('blocker', order);
  const blocking = turns.take({ move: 'blocker', leadsLeft: 1 }, blocker.work);
  await tick();
  const queued = claims.map(({ at, ...claim }) => {
    if (at !== undefined) clock!.set(at);
    return turns.take(claim, async () => void order.push(claim.move));
  });
  blocker.release();
  await Promise.all([blocking, ...queued]);
  return order.slice(1);
}

test('at most `limit` at once; each free turn goes to the move with the fewest leads left, first come among equals', async () => {
  const turns = statementTurns(1);
  const started: string[] = [];
  const first = held('first', started);
  const running = turns.take({ move: 'big', leadsLeft: 1_000_000 }, first.work);
  await tick();
  const waiting = [
    turns.take({ move: 'a', leadsLeft: 5_000 }, async () => void started.push('5000 (came first)')),
    turns.take({ move: 'b', leadsLeft: 900 }, async () => void started.push('900')),
    turns.take({ move: 'c', leadsLeft: 5_000 }, async () => void started.push('5000 (came second)')),
    turns.take({ move: 'd', leadsLeft: 300 }, async () => void started.push('300')),
  ];
  await tick();
  expect(started).toEqual(['first']); // one at a time: the others wait
  first.release();
  await Promise.all([running, ...waiting]);
  expect(started).toEqual(['first', '300', '900', '5000 (came first)', '5000 (came second)']);
});

test('two at once with a limit of two', async () => {
  const turns = statementTurns(2);
  const started: string[] = [];
  const [a, b, c] = [held('a', started), held('b', started), held('c', started)];
  const all = [a, b, c].map((w, i) => turns.take({ move: `m${i}`, leadsLeft: 1 }, w.work));
  await tick();
  expect(started).toEqual(['a', 'b']);
  b.release();
  await tick();
  await tick();
  expect(started).toEqual(['a', 'b', 'c']);
  a.release();
  c.release();
  expect(await Promise.all(all)).toEqual(['a', 'b', 'c']);
});

test('a move’s age counts in its favour, across its batches: a huge book is not starved by small ones that keep coming', async () => {
  const clock = handClock();
  const turns = statementTurns(1, 2, clock.now);
  // The huge book first waits at 0; half a million leads' worth of waiting later (2 a millisecond), a small book still goes first,
  expect(
    await orderBehindAHeldTurn(turns, [{ move: 'huge', leadsLeft: 1_000_000, at: 0 }, { move: 'small', leadsLeft: 100, at: 250_000 }], clock),
  ).toEqual(['small', 'huge']);
  // and once a million leads' worth has passed, the huge book's later batches (its age kept) go before new small ones.
  expect(
    await orderBehindAHeldTurn(turns, [{ move: 'huge', leadsLeft: 999_000, at: 500_100 }, { move: 'new small', leadsLeft: 100 }], clock),
  ).toEqual(['huge', 'new small']);
  // A move done is forgotten: back at its size, it waits behind the small one.
  turns.forget('huge');
  expect(await orderBehindAHeldTurn(turns, [{ move: 'huge', leadsLeft: 999_000 }, { move: 'small 3', leadsLeft: 100 }], clock)).toEqual([
    'small 3',
    'huge',
  ]);
});

test('a claim stopped while it waits gives its place up (null, its work never runs); one stopped before it came still runs', async () => {
  const turns = statementTurns(1);
  const started: string[] = [];
  const first = held('first', started);
  const running = turns.take({ move: 'a', leadsLeft: 1 }, first.work);
  await tick();
  const stop = new AbortController();
  const stopped = turns.take({ move: 'b', leadsLeft: 1, signal: stop.signal }, async () => void started.push('stopped'));
  const before = new AbortController();
  before.abort();
  const stoppedBefore = turns.take({ move: 'c', leadsLeft: 2, signal: before.signal }, async () => (started.push('stopped before'), 'ran'));
  stop.abort();
  await expect(stopped).resolves.toBeNull();
  expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  first.release();
  await expect(stoppedBefore).resolves.toBe('ran');
  await running;
  expect(started).toEqual(['first', 'stopped before']);
  // The withdrawn place took no turn with it: still one at a time.
  const [x, y] = [held('x', started), held('y', started)];
  const both = [turns.take({ move: 'x', leadsLeft: 1 }, x.work), turns.take({ move: 'y', leadsLeft: 1 }, y.work)];
  await tick();
  expect(started).toEqual(['first', 'stopped before', 'x']);
  x.release();
  y.release();
  await Promise.all(both);
});

test('a move that has waited longer than the forgetting time keeps its age while it still waits', async () => {
  const clock = handClock();
  const turns = statementTurns(1, 2, clock.now);
  // The small one comes past the 10 minutes after which moves with nothing waiting are forgotten.
  expect(
    await orderBehindAHeldTurn(turns, [{ move: 'huge', leadsLeft: 1_000_000, at: 0 }, { move: 'new small', leadsLeft: 100, at: 11 * 60_000 }], clock),
  ).toEqual(['huge', 'new small']);
});

test('a batch that fails gives its turn back', async () => {
  const turns = statementTurns(1);
  await expect(turns.take({ move: 'a', leadsLeft: 1 }, async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  await expect(turns.take({ move: 'b', leadsLeft: 1 }, () => 'next')).resolves.toBe('next');
});
