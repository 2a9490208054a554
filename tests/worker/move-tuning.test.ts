// How a worker's bulk moves run, from its configuration: a turn of 200 ms on
// PostgreSQL, one batch a turn on the embedded PGlite (one backend serves
// every client in turn), LEAD_MOVE_TURN_MS over both.
import { loadConfig } from '../../infra/config';
import { moveTuning } from '../../worker';

const config = (env: Record<string, string> = {}) => loadConfig({ TEMPORAL_ADDRESS: '127.0.0.1:7233', ...env });

test('a turn runs 200 ms of batches, or one batch on the embedded database, unless LEAD_MOVE_TURN_MS says', () => {
  expect(moveTuning(config()).turnMs).toBe(200);
  expect(moveTuning(config(), true).turnMs).toBe(0);
  expect(moveTuning(config({ LEAD_MOVE_TURN_MS: '50' }), true).turnMs).toBe(50);
  expect(moveTuning(config({ LEAD_MOVE_TURN_MS: '0' })).turnMs).toBe(0);
  expect(moveTuning(config({ LEAD_MOVE_BATCH_SIZE: '2000', LEAD_MOVE_STREAMS: '3', LEAD_MOVE_WORKER_STATEMENTS: '4' }))).toMatchObject({
    min: 100,
    max: 2_000,
    streams: 3,
    statements: 4,
  });
  expect(() => config({ LEAD_MOVE_TURN_MS: '-1' })).toThrow(/LEAD_MOVE_TURN_MS/);
});
