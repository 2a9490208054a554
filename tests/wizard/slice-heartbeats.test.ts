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

test('a slice that reports at least once a second is never silent for longer than the heartbeat timeout', () => {
  // The activity's heartbeat timeout is 10 s (workflows/deletion-wizard.ts); a queued stream reports every 2 s.
  let now = 0;
  const sentAt: number[] = [];
  const beat = atMostEvery(HEARTBEAT_EVERY_MS, () => sentAt.push(now), () => now);
  for (now = 0; now <= 30_000; now += 2_000) beat(undefined);
  const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
  expect(sentAt).toHaveLength(16);
  expect(Math.max(...gaps)).toBe(2_000);
});
