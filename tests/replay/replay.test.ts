// Wizards live for weeks across deploys: every recorded history (paused at
// each step, mid-move, finished) must replay on today's workflow code without
// a determinism error. A change that breaks one needs `patched()`.
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { dataConverter } from '../../infra/codec';
import { testEnv } from '../support/env';

const DIR = path.resolve(__dirname, '../fixtures/histories');
const fixtures = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort() : [];

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // installed already in this jest worker
  }
});

test('there are fixtures for every pause point', () => {
  const kinds = new Set(fixtures.map((f) => f.replace(/^\d{4}-\d{2}-\d{2}-/, '').replace(/\.json$/, '')));
  for (const k of ['at-leads', 'mid-move', 'at-automations', 'at-integrations', 'at-labels', 'at-confirm', 'completed', 'cancelled', 'cancelled-mid-move', 'move-needs-attention', 'attention-cleared']) {
    expect(kinds).toContain(k);
    // And recorded with the short transactions as local activities (RECORD_STAMP=…-local).
    expect(kinds).toContain(`local-${k}`);
    // And with each update recorded as accepted before it writes (RECORD_STAMP=…-accepted-first).
    expect(kinds).toContain(`accepted-first-${k}`);
    // And with that acceptance waited for by a no-op activity rather than a timer (RECORD_STAMP=…-acknowledged).
    expect(kinds).toContain(`acknowledged-${k}`);
    // And ending after that no-op rather than a timer (RECORD_STAMP=…-ended-by-activity).
    expect(kinds).toContain(`ended-by-activity-${k}`);
    // And with each update answering {id, status, step}, not the view (RECORD_STAMP=…-update-acks).
    expect(kinds).toContain(`update-acks-${k}`);
    // And with the routing steps deciding each item as it is now (ids and overrides to the step, RECORD_STAMP=…-routing-now).
    expect(kinds).toContain(`routing-now-${k}`);
    // And with a cancel's activity told who posted the lead step (moveActor, RECORD_STAMP=…-move-actor).
    expect(kinds).toContain(`move-actor-${k}`);
    // And with each update naming its wizard (deletionId), its payloads sealed for its workspace (RECORD_STAMP=…-update-target).
    expect(kinds).toContain(`update-target-${k}`);
  }
  // Wizards begun on the release before local transactions and finished on this one (record-upgrade.ts):
  // deployed after the move, and in the middle of it (the old worker's slice retried by the new one).
  expect(kinds).toContain('upgraded-after-the-move');
  expect(kinds).toContain('upgraded-mid-move');
  // Begun on the release whose updates waited with a 1 ms timer, finished on the no-op (record-upgrade.ts).
  expect(kinds).toContain('upgraded-timer-to-acknowledgement');
  // The same, finished on the release whose run also ends after the no-op (RECORD_STAMP=…-ended-by-activity).
  expect(kinds).toContain('ended-by-activity-upgraded-timer-to-acknowledgement');
  // A local transaction of the main body refused for good (attention), then retried (record.ts).
  expect(kinds).toContain('local-finish-needs-attention');
  expect(kinds).toContain('local-finish-attention-cleared');
  // A local transaction waiting on a row lock past the workflow task timeout (record.ts).
  expect(kinds).toContain('local-outlasting-its-task');
  // An opening the database refused: FAILED, the run ending in a task of its own (record.ts).
  expect(kinds).toContain('opening-refused');
  // A cancel that waited for a step being applied, and for the wizard opening, then cancelled (record.ts).
  expect(kinds).toContain('cancel-waited-for-step');
  expect(kinds).toContain('cancel-waited-for-opening');
  // An HR wizard waiting for its date, brought forward by a later offboarding (record.ts).
  expect(kinds).toContain('hr-brought-forward');
  // The same, its wait begun on the release before (record-upgrade.ts).
  expect(kinds).toContain('hr-waiting-upgraded-then-brought-forward');
});

test.each(fixtures)('%s replays on the current workflow code', async (file) => {
  const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
  const bundle = testEnv().workflowBundlePath;
  expect(bundle).not.toBeNull();
  // Through the payload codec, as the worker runs: fixtures recorded in clear
  // (before encryption) pass through it unchanged; later ones are encrypted
  // with the test key of tests/global-setup.ts.
  await Worker.runReplayHistory({ workflowBundle: { codePath: bundle! }, dataConverter: dataConverter(process.env) }, history, file);
});
