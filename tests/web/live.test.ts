// The admin page follows the lead move over the wizard's event stream
// (GET /v1/deletions/{id}/events), in Debian's Chromium (playwright-core)
// against the real API, worker, Temporal dev server and database of this run.
//
// - With polling made impossible (every GET /v1/deletions/{id} the page sends
//   during the move fails), the progress bar still moves and step 2 opens: the
//   progress came from the stream, and the page never even tried to poll.
// - With the stream refused, the page falls back to polling, and the bar moves
//   all the same.
//
// Every wait is for something to appear or hold in the page, never for a time.
// Needs /usr/bin/chromium and web/dist (npm test builds it; built here too when missing).
import type { Page, Route } from 'playwright-core';
import { createApiToken } from '../../infra/tokens';
import { browserRig } from '../support/browser';
import { MovePace } from '../support/move-pace';
import { asAdmin, makeWorkspace, type TestWorkspace, type WizardHarness } from '../support/wizard';

/** Generous: a wait ends as soon as its condition holds; this only bounds a broken run. */
const WAIT = { timeout: 60_000 };
/** Many leads in small batches; the move is held at its gate (`pace`) until the page has shown it mid-way. */
const BOOK = 20_000;
const BATCH = 100;

const pace = new MovePace();
const rig = browserRig({ batchSize: BATCH, pace });
let h: WizardHarness;
let base: string;
beforeAll(() => {
  ({ h, base } = rig);
});

/** Records each value the lead-move <progress> shows (as wizard.test.ts does). Plain JS: it runs in the browser. */
const PROGRESS_RECORDER = `
  window.__progressSeen = [];
  window.__updatesSeen = [];
  const record = (bar) => window.__progressSeen.push({ value: bar.value, max: bar.max });
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === 'attributes') {
        if (c.target instanceof HTMLProgressElement) record(c.target);
        if (c.attributeName === 'data-updates') window.__updatesSeen.push(c.target.getAttribute('data-updates'));
        continue;
      }
      for (const node of c.addedNodes) {
        if (!(node instanceof Element)) continue;
        if (node instanceof HTMLProgressElement) record(node);
        node.querySelectorAll('progress').forEach(record);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'data-updates'] });
`;

interface ProgressSample {
  value: number;
  max: number;
}

/**
 * A signed-in tab on the wizard of `ws`'s leaver, at step 1, with ann picked as the new owner.
 * `prepare` runs before the wizard opens (the page follows it from the first step on).
 */
async function atStepOne(ws: TestWorkspace, prepare?: (page: Page, deletionId: string) => Promise<void>): Promise<{ page: Page; deletionId: string }> {
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const token = await createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users.admin!.id, label: 'browser test' });
  const context = await rig.newContext();
  await context.addInitScript({ content: PROGRESS_RECORDER });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('users-table').waitFor(WAIT);
  await prepare?.(page, deletion.id);
  await page.goto(`${base}/#/deletions/${deletion.id}`);
  await page.getByTestId('lead-target').selectOption(ws.users.ann!.id);
  return { page, deletionId: deletion.id };
}

/**
 * Clicks Next with the move held at its gate: two batches, then once the bar
 * has shown them two more, then once it has shown a second value strictly
 * between 0 and the book, the rest; then waits for step 2.
 */
async function barMovesToStepTwo(page: Page): Promise<ProgressSample[]> {
  pace.hold();
  pace.let(2);
  await page.getByTestId('next').click();
  await page.getByTestId('progress').waitFor(WAIT);
  for (const shown of [1, 2]) {
    await page.waitForFunction(
      ([book, n]) => {
        const seen = (globalThis as unknown as { __progressSeen: ProgressSample[] }).__progressSeen;
        return new Set(seen.filter((s) => s.value > 0 && s.value < book).map((s) => s.value)).size >= n;
      },
      [BOOK, shown] as const,
      WAIT,
    );
    if (shown === 1) pace.let(2);
  }
  pace.open();
  await page.locator('[data-testid="stepper-AUTOMATIONS"][aria-current="step"]').waitFor(WAIT);
  const seen = await page.evaluate(() => (globalThis as unknown as { __progressSeen: ProgressSample[] }).__progressSeen);
  const values = seen.map((s) => s.value);
  expect(values).toEqual([...values].sort((a, b) => a - b)); // never goes back
  expect(seen.every((s) => s.max === BOOK)).toBe(true);
  return seen;
}

const updatesSeen = (page: Page) => page.evaluate(() => (globalThis as unknown as { __updatesSeen: string[] }).__updatesSeen);

test('with polling impossible, the progress bar moves and step 2 opens: the page follows the event stream', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  // Once the move starts, every read of the wizard the page might poll fails; the stream is left alone.
  const polled: string[] = [];
  const streams: string[] = [];
  let moving = false;
  const { page } = await atStepOne(ws, async (tab, deletionId) => {
    await tab.route(
      (url) => url.pathname === `/v1/deletions/${deletionId}`,
      (route: Route) => {
        if (!moving || route.request().method() !== 'GET') return route.continue();
        polled.push(route.request().url());
        return route.abort('failed');
      },
    );
    tab.on('request', (r) => r.url().endsWith(`/v1/deletions/${deletionId}/events`) && streams.push(r.headers().authorization ?? ''));
  });
  moving = true;
  await barMovesToStepTwo(page);
  expect(polled).toEqual([]);
  expect(streams.length).toBeGreaterThanOrEqual(1);
  // The token travels in the Authorization header, never in the URL.
  expect(streams.every((auth) => auth.startsWith('Bearer '))).toBe(true);
  expect(await updatesSeen(page)).toContain('stream');
  expect(await updatesSeen(page)).not.toContain('poll');
  // At step 2 the page keeps following over the stream (another tab or admin may move the wizard on), never by polling.
  expect(await page.getByTestId('wizard').getAttribute('data-updates')).toBe('stream');
}, 180_000);

test('with the event stream refused, the page falls back to polling and the bar moves all the same', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: BOOK });
  let refused = 0;
  const { page } = await atStepOne(ws, async (tab, deletionId) => {
    await tab.route(
      (url) => url.pathname === `/v1/deletions/${deletionId}/events`,
      (route: Route) => {
        refused += 1;
        return route.abort('failed');
      },
    );
  });
  await barMovesToStepTwo(page);
  expect(refused).toBeGreaterThanOrEqual(1);
  expect(await updatesSeen(page)).toContain('poll');
}, 180_000);
