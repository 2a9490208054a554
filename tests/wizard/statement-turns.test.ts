// Whose batch runs next (activities/lead-move/turns.ts), on its own: the
// limit, fewest leads left first, first come among equals, waiting counted
// in a batch's favour, and a failed batch giving its turn back.
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

test('at most `limit` at once; each free turn goes to the move with the fewest leads left, first come among equals', async () => {
  const take = statementTurns(1);
  const started: string[] = [];
  const first = held('first', started);
  const running = take({ leadsLeft: 1_000_000 }, first.work);
  await tick();
  const waiting = [
    take({ leadsLeft: 5_000 }, async () => void started.push('5000 (came first)')),
    take({ leadsLeft: 900 }, async () => void started.push('900')),
    take({ leadsLeft: 5_000 }, async () => void started.push('5000 (came second)')),
    take({ leadsLeft: 300 }, async () => void started.push('300')),
  ];
  await tick();
  expect(started).toEqual(['first']); // one at a time: the others wait
  first.release();
  await Promise.all([running, ...waiting]);
  expect(started).toEqual(['first', '300', '900', '5000 (came first)', '5000 (came second)']);
});

test('two at once with a limit of two', async () => {
  const take = statementTurns(2);
  const started: string[] = [];
  const [a, b, c] = [held('a', started), held('b', started), held('c', started)];
  const all = [take({ leadsLeft: 1 }, a.work), take({ leadsLeft: 1 }, b.work), take({ leadsLeft: 1 }, c.work)];
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

test('waiting counts in a batch’s favour: a huge book is not starved by small ones that keep coming', async () => {
  let clock = 0;
  const take = statementTurns(1, 10, () => clock);
  const started: string[] = [];
  const first = held('first', started);
  const running = take({ leadsLeft: 1 }, first.work);
  await tick();
  const huge = take({ leadsLeft: 1_000_000 }, async () => void started.push('huge'));
  clock = 100_000; // 100 s later: 1,000,000 leads' worth of waiting at 10 a millisecond, and a little more
  clock += 1;
  const small = take({ leadsLeft: 100 }, async () => void started.push('small'));
  first.release();
  await Promise.all([running, huge, small]);
  expect(started).toEqual(['first', 'huge', 'small']);
});

test('a batch that fails gives its turn back', async () => {
  const take = statementTurns(1);
  await expect(take({ leadsLeft: 1 }, async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  await expect(take({ leadsLeft: 1 }, () => 'next')).resolves.toBe('next');
});
