// What a slice hands Temporal as heartbeats (activities/lead-move/activities.ts):
// the engine reports after every batch, tens of times a second; the SDK
// encodes and encrypts each report before its core drops all but one a
// second. The activity passes on at most one a second, the newest at that moment.
import { atMostEvery, HEARTBEAT_EVERY_MS } from '../../activities/lead-move/activities';

test('reports closer than a second apart are dropped; the first after it goes through with its own details', () => {
  let now = 0;
  const sent: number[] = [];
  const beat = atMostEvery(HEARTBEAT_EVERY_MS, (moved: number) => sent.push(moved), () => now);

  // Forty batches of 20 ms, then one more a second after the first.
  for (let i = 0; i < 40; i++) {
    now = i * 20;
    beat(i * 1_000);
  }
  expect(sent).toEqual([0]);
  now = 1_000;
  beat(41_000);
  expect(sent).toEqual([0, 41_000]);
  now = 1_999;
  beat(42_000);
  expect(sent).toEqual([0, 41_000]);
});

test('whatever the pace of the reports, a second after the last one passed the next goes through: never silent longer than the gap between reports', () => {
  // Reports at irregular gaps (batches of different lengths, a queued stream every 2 s).
  let now = 0;
  const sentAt: number[] = [];
  const beat = atMostEvery(HEARTBEAT_EVERY_MS, () => sentAt.push(now), () => now);
  const gaps = [5, 30, 400, 700, 20, 2_000, 999, 1, 1_500, 10, 10, 10, 990, 3, 2_000];
  const calledAt: number[] = [];
  for (const gap of gaps) {
    now += gap;
    calledAt.push(now);
    beat(undefined);
  }
  // Each report that passed came at least a second after the one before it...
  for (let k = 1; k < sentAt.length; k++) expect(sentAt[k]! - sentAt[k - 1]!).toBeGreaterThanOrEqual(HEARTBEAT_EVERY_MS);
  // ...and each report dropped came within a second of the last one that passed.
  for (const t of calledAt.filter((t) => !sentAt.includes(t))) {
    const lastSent = Math.max(...sentAt.filter((s) => s <= t));
    expect(t - lastSent).toBeLessThan(HEARTBEAT_EVERY_MS);
  }
});

test('the default clock is the monotonic one (performance.now): a wall clock set back cannot silence the slice', () => {
  let t = 10_000;
  const clock = jest.spyOn(performance, 'now').mockImplementation(() => t);
  try {
    const sent: number[] = [];
    const beat = atMostEvery(HEARTBEAT_EVERY_MS, (n: number) => sent.push(n));
    beat(1);
    t += 500;
    beat(2);
    t += 500;
    beat(3);
    expect(sent).toEqual([1, 3]);
  } finally {
    clock.mockRestore();
  }
});
