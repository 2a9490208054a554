// The CPU accounting the bench reports per component (coresUsed): read from
// /proc, so it is checked against work this test does itself.
import { coresUsed, cpuSnapshot, descendantNamed } from '../../scripts/bench/cpu';

test('a busy half second of this process shows as CPU time of its component, nothing of a missing one', () => {
  const components = { pids: { me: process.pid, gone: 2 ** 22 + 1 }, postgres: false };
  const before = cpuSnapshot(components);
  const t = Date.now();
  while (Date.now() - t < 500) Math.sqrt(Math.random());
  const after = cpuSnapshot(components);
  expect(Object.keys(after)).toEqual(['me']);
  expect(after.me! - before.me!).toBeGreaterThanOrEqual(0.1);
  const cores = coresUsed(before, after, Date.now() - t);
  expect(cores.me).toBeGreaterThan(0);
  expect(cores.me).toBeLessThanOrEqual(1.5); // one thread, plus the odd GC helper
});

test('cores are CPU seconds over wall seconds, per component present in both snapshots', () => {
  expect(coresUsed({ a: 1, b: 5 }, { a: 4, b: 6, c: 9 }, 2_000)).toEqual({ a: 1.5, b: 0.5 });
  expect(coresUsed({ a: 1 }, { a: 2 }, 0)).toEqual({});
});

test('finds a named descendant process, and none under a process without children', () => {
  expect(descendantNamed(1, 'node')).not.toBeNull(); // this very jest process, somewhere under init
  expect(descendantNamed(process.pid, 'no-such-command')).toBeNull();
});
