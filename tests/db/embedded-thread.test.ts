// The embedded database runs off the main thread: a long query does not stall
// HTTP handling (or any timer) of the process that serves it.
import { lastJson, runTs } from './helpers';

test('while the embedded database runs a long query, the same process keeps answering HTTP and firing timers', () => {
  const out = lastJson<{ started: number; ended: number; answers: number[]; ticks: number[] }>(
    runTs('tests/db/fixtures/busy.ts', ['3000000']),
  );
  const during = (t: number) => t > out.started && t < out.ended;
  expect(out.ended).toBeGreaterThan(out.started);
  // Answered and fired while the query ran, not only before or after it.
  expect(out.answers.filter(during).length).toBeGreaterThan(0);
  expect(out.ticks.filter(during).length).toBeGreaterThan(0);
});
