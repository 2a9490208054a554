// The admin page in a real browser (Debian's Chromium driven by playwright-core)
// against the real API, worker, Temporal dev server and database of this jest
// run: a full wizard with the lead move's progress bar seen moving, the
// sole-member rule holding Next, a wrong confirmation refused, a reload landing
// on the same step, a wizard HR started through the signed hook resumed
// from the list, and wizards whose move the database refuses (one an identity
// provider started) showing attention, tried again and cancelled.
//
// The page is driven only through the data-testids documented at the top of
// web/src/main.ts. Every wait is for something to appear or hold in the page
// (locator.waitFor, page.waitForFunction), never for a time. A screenshot of
// every screen is written to test-artifacts/screenshots/ (git-ignored).
//
// Needs /usr/bin/chromium (apt-get install chromium; .ci/run installs it) and
// web/dist (npm test builds it; built here too when it is missing).
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createApiToken } from '../../infra/tokens';
import { signHookBody } from '../../api/hook-signature';
import { browserRig, WEB_DIST } from '../support/browser';
import { MovePace } from '../support/move-pace';
import {
  asAdmin,
  eventually,
  leadsByOwner,
  makeAutomation,
  makeIntegration,
  makeLabel,
  makeWorkspace,
  moveDone,
  type TestWorkspace,
  type WizardHarness,
  wizardAt,
} from '../support/wizard';

const SHOTS = path.join(__dirname, '..', '..', 'test-artifacts', 'screenshots');
/** Generous: a wait ends as soon as its condition holds; this only bounds a broken run. */
const WAIT = { timeout: 60_000 };

/**
 * The lead move of the full wizard: many leads in small batches (each batch
 * one transaction that bumps the moved count the page follows), held at the
 * gate of `pace` a few batches at a time until the page has shown them, so the
 * bar is seen at several values on the way whatever the machine's speed.
 */
const BIG_BOOK = 30_000;
const BATCH_SIZE = 100;

/** Holds the lead move at its gate, so the page surely shows it mid-way, at two values, on any machine. */
const pace = new MovePace();
const rig = browserRig({ batchSize: BATCH_SIZE, pace });
let h: WizardHarness;
let base: string;
beforeAll(() => {
  ({ h, base } = rig);
  fs.mkdirSync(SHOTS, { recursive: true });
});

/**
 * Runs in every page before its own scripts: records each value the lead-move
 * <progress> shows (when it is drawn, and each time the page updates it), so a
 * test can tell what the bar went through, however fast it polls. Plain JS: it
 * runs in the browser.
 */
const PROGRESS_RECORDER = `
  window.__progressSeen = [];
  const record = (bar) => window.__progressSeen.push({ value: bar.value, max: bar.max });
  new MutationObserver((changes) => {
    for (const c of changes) {
      if (c.type === 'attributes') {
        if (c.target instanceof HTMLProgressElement) record(c.target);
        continue;
      }
      for (const node of c.addedNodes) {
        if (!(node instanceof Element)) continue;
        if (node instanceof HTMLProgressElement) record(node);
        node.querySelectorAll('progress').forEach(record);
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
`;

interface ProgressSample {
  value: number;
  max: number;
}

async function snap(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A new tab in a context of its own, recording the progress bar. */
async function newPage(): Promise<Page> {
  const context = await rig.newContext();
  await context.addInitScript({ content: PROGRESS_RECORDER });
  return context.newPage();
}

/** Signs in through the sign-in screen with a fresh token of `handle`; lands on Users. */
async function signedIn(ws: TestWorkspace, opts: { handle?: string; shots?: boolean } = {}): Promise<Page> {
  const token = await createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users[opts.handle ?? 'admin']!.id, label: 'browser test' });
  const page = await newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('token-input').fill(token);
  if (opts.shots) await snap(page, '01-sign-in');
  await page.getByTestId('sign-in').click();
  await page.getByTestId('users-table').waitFor(WAIT);
  return page;
}

/** Waits until the wizard shows `step` as the current one (stepper and title agree). */
async function atStep(page: Page, step: 'LEADS' | 'AUTOMATIONS' | 'INTEGRATIONS' | 'LABELS' | 'CONFIRM', title: string): Promise<void> {
  await page.locator(`[data-testid="stepper-${step}"][aria-current="step"]`).waitFor(WAIT);
  await page.locator('[data-testid="step-title"]', { hasText: title }).waitFor(WAIT);
}

const progressSeen = (page: Page) => page.evaluate(() => (globalThis as unknown as { __progressSeen: ProgressSample[] }).__progressSeen);

test('a wrong token is refused in words, next to the token box', async () => {
  const page = await newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('token-input').fill('crm_not-a-real-token');
  await page.getByTestId('sign-in').click();
  const error = page.getByTestId('error');
  await error.waitFor(WAIT);
  expect(await error.getAttribute('data-status')).toBe('401');
  expect(await page.getByTestId('users-table').count()).toBe(0);
  await snap(page, 'sign-in-refused');
});

test('an admin deletes a user through every step, seeing the lead move progress bar move', async () => {
  const ws = await makeWorkspace(
    h.prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' },
    { leaver: BIG_BOOK, ann: 40, bob: 25 },
  );
  const { leaver, ann, bob } = { leaver: ws.users.leaver!.id, ann: ws.users.ann!.id, bob: ws.users.bob!.id };
  const shared = await makeAutomation(h.prisma, ws.id, 'Round robin', [
    { userId: leaver, weight: 50 },
    { userId: ann, weight: 30 },
    { userId: bob, weight: 20 },
  ]);
  const sole = await makeAutomation(h.prisma, ws.id, 'Only the leaver', [{ userId: leaver, weight: 100 }]);
  const source = await makeIntegration(h.prisma, ws.id, 'Web form', [
    { userId: leaver, weight: 60 },
    { userId: bob, weight: 40 },
  ]);
  const label = await makeLabel(h.prisma, ws.id, 'Hot', 'SHARED', leaver, [leaver, ann]);

  const page = await signedIn(ws, { shots: true });
  await snap(page, '02-users');
  await page.getByTestId(`user-link-${leaver}`).click();
  await page.getByTestId('user-profile').waitFor(WAIT);
  expect(await page.getByTestId('user-lead-count').textContent()).toBe(BIG_BOOK.toLocaleString('en-US'));
  await snap(page, '03-user');
  await page.getByTestId('delete-user').click();

  // Step 1: the count, then a 50/50 split that Next refuses until it is valid.
  await atStep(page, 'LEADS', 'Step 1 of 4');
  await page.getByTestId('lead-count').waitFor(WAIT);
  expect(await page.getByTestId('lead-count').textContent()).toBe(BIG_BOOK.toLocaleString('en-US'));
  await page.getByTestId('lead-mode-split').check();
  await page.getByTestId('lead-distribution-user-0').selectOption(ann);
  await page.getByTestId('lead-distribution-weight-0').fill('50');
  expect(await page.getByTestId('next').isDisabled()).toBe(true); // 50% is not 100%
  await page.getByTestId('lead-distribution-add').click();
  await page.getByTestId('lead-distribution-user-1').selectOption(ann);
  await page.getByTestId('lead-distribution-weight-1').fill('50');
  expect(await page.getByTestId('next').isDisabled()).toBe(true); // the same user twice
  await page.getByTestId('lead-distribution-user-1').selectOption(bob);
  expect(await page.getByTestId('lead-distribution-sum').textContent()).toBe('Total 100%');
  expect(await page.getByTestId('next').isEnabled()).toBe(true);
  await snap(page, '04-step1-leads');
  // The move runs two batches, then waits until the page has shown them; then two more.
  pace.hold();
  pace.let(2);
  await page.getByTestId('next').click();

  // The move: the bar is drawn, then seen at a value strictly between 0 and
  // the total, then at another, larger one, before step 2 opens.
  await page.getByTestId('progress').waitFor(WAIT);
  const firstMid = await page.waitForFunction(
    () => {
      const seen = (globalThis as unknown as { __progressSeen: ProgressSample[] }).__progressSeen;
      return seen.find((s) => s.value > 0 && s.value < s.max) ?? false;
    },
    undefined,
    WAIT,
  );
  const first = (await firstMid.jsonValue()) as ProgressSample;
  expect(first.max).toBe(BIG_BOOK);
  await snap(page, '05-step1-progress');
  // The move is still under way when the screenshot shows it.
  expect(await page.getByTestId('progress').count()).toBe(1);
  pace.let(2);
  await page.waitForFunction(
    (seenFirst) => {
      const seen = (globalThis as unknown as { __progressSeen: ProgressSample[] }).__progressSeen;
      return seen.some((s) => s.value > seenFirst && s.value < s.max);
    },
    first.value,
    WAIT,
  );
  pace.open();

  // Step 2 opens by itself once every lead has moved.
  await atStep(page, 'AUTOMATIONS', 'Step 2 of 4');
  const seen = await progressSeen(page);
  const values = seen.map((s) => s.value);
  const midway = [...new Set(values.filter((v) => v > 0 && v < BIG_BOOK))];
  expect(midway.length).toBeGreaterThanOrEqual(2);
  expect(values).toEqual([...values].sort((a, b) => a - b)); // never goes back
  expect(seen.every((s) => s.max === BIG_BOOK)).toBe(true);
  expect(await leadsByOwner(h.prisma, ws.id)).toEqual({ [ann]: 40 + BIG_BOOK / 2, [bob]: 25 + BIG_BOOK / 2 });

  // Step 2: the sole-member automation holds Next until a replacement is named.
  await page.getByTestId(`automation-${shared}`).waitFor(WAIT);
  expect(await page.getByTestId(`automation-${sole}`).getAttribute('data-requires-replacement')).toBe('true');
  expect(await page.getByTestId('next').isDisabled()).toBe(true);
  await page.getByTestId(`automation-${sole}-dist-user-0`).selectOption(bob);
  expect(await page.getByTestId('next').isEnabled()).toBe(true);
  await snap(page, '06-step2-automations');
  await page.getByTestId('next').click();

  // Step 3: keep the suggestion (bob alone keeps the web form's leads).
  await atStep(page, 'INTEGRATIONS', 'Step 3 of 4');
  await page.getByTestId(`integration-${source}`).waitFor(WAIT);
  await snap(page, '07-step3-integrations');
  await page.getByTestId('next').click();

  // Step 4: ann replaces the leaver in the shared label.
  await atStep(page, 'LABELS', 'Step 4 of 4');
  await page.getByTestId(`label-${label}-replacement`).selectOption(ann);
  await snap(page, '08-step4-labels');
  await page.getByTestId('next').click();

  // Confirm: only exactly CONFIRM enables Delete User.
  await atStep(page, 'CONFIRM', 'Confirm deletion');
  await page.getByTestId('review').waitFor(WAIT);
  await page.getByTestId('confirm-input').fill('CONFIRM');
  expect(await page.getByTestId('confirm-delete').isEnabled()).toBe(true);
  await snap(page, '09-confirm');
  await page.getByTestId('confirm-delete').click();

  const summary = page.getByTestId('summary');
  await summary.waitFor(WAIT);
  expect(await summary.getAttribute('data-status')).toBe('COMPLETED');
  await page.getByTestId('audit-USER_DELETED').waitFor(WAIT);
  expect(await page.getByTestId(`summary-automation-${sole}`).textContent()).toContain('bob 100%');
  await snap(page, '10-summary');

  await page.getByTestId('audit-link').click();
  await page.getByTestId('audit-LEADS_MOVED').waitFor(WAIT);
  await page.getByTestId('audit-USER_DELETED').waitFor(WAIT);
  await snap(page, '11-audit');

  const owners = await leadsByOwner(h.prisma, ws.id);
  expect(owners).toEqual({ [ann]: 40 + BIG_BOOK / 2, [bob]: 25 + BIG_BOOK / 2 });
  expect(await h.prisma.user.count({ where: { id: leaver } })).toBe(0);
}, 240_000);

test('the sole-member rule: Next stays disabled until an automation whose only member is the leaver gets a replacement', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' }, { leaver: 3 });
  const sole = await makeAutomation(h.prisma, ws.id, 'Night shift', [{ userId: ws.users.leaver!.id, weight: 100 }]);
  const d = await wizardAt(h, ws, 'AUTOMATIONS');
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'AUTOMATIONS', 'Step 2 of 4');

  const card = page.getByTestId(`automation-${sole}`);
  await card.waitFor(WAIT);
  expect(await card.getAttribute('data-requires-replacement')).toBe('true');
  expect(await page.getByTestId(`automation-${sole}-state`).textContent()).toBe('Needs a replacement');
  expect(await page.getByTestId('next').isDisabled()).toBe(true);
  expect(await page.getByTestId('next-hint').textContent()).toBe('1 automation still needs a valid distribution.');
  await snap(page, 'step2-sole-member-blocks-next');

  // Naming a replacement lets Next through; taking it away holds Next again.
  await page.getByTestId(`automation-${sole}-dist-user-0`).selectOption(ws.users.bob!.id);
  expect(await page.getByTestId(`automation-${sole}-state`).textContent()).toBe('Replacement chosen');
  expect(await page.getByTestId('next').isEnabled()).toBe(true);
  await page.getByTestId(`automation-${sole}-dist-user-0`).selectOption('');
  expect(await page.getByTestId('next').isDisabled()).toBe(true);
  expect((await h.wizard.get(ws.id, d.id)).step).toBe('AUTOMATIONS');

  await page.getByTestId(`automation-${sole}-dist-user-0`).selectOption(ws.users.bob!.id);
  await page.getByTestId('next').click();
  await atStep(page, 'INTEGRATIONS', 'Step 3 of 4');
  const after = await h.wizard.get(ws.id, d.id);
  expect(after.automations.find((a) => a.id === sole)?.applied).toEqual([{ userId: ws.users.bob!.id, weight: 100 }]);
});

test('a wrong confirmation is refused: Delete stays disabled, Enter sends nothing, and the server answers 422 to it', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const d = await wizardAt(h, ws, 'CONFIRM');
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'CONFIRM', 'Confirm deletion');
  expect(await page.getByTestId('effective-at').count()).toBe(0);

  for (const wrong of ['confirm', 'CONFIRM ', 'CONFIRMED', 'DELETE']) {
    await page.getByTestId('confirm-input').fill(wrong);
    expect(await page.getByTestId('confirm-delete').isDisabled()).toBe(true);
  }
  await page.getByTestId('confirm-input').fill('confirm');
  const posted: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST') posted.push(r.url());
  });
  await page.getByTestId('confirm-input').press('Enter');
  await snap(page, 'confirm-wrong-text-refused');
  // The page sent nothing; the wizard is still waiting at CONFIRM with the user in place.
  expect(posted).toEqual([]);
  expect(await page.getByTestId('finishing').count()).toBe(0);
  const still = await h.wizard.get(ws.id, d.id);
  expect([still.status, still.step]).toEqual(['IN_PROGRESS', 'CONFIRM']);
  expect(await h.prisma.user.count({ where: { id: ws.users.leaver!.id } })).toBe(1);

  // The same wrong text sent with the page's own session is refused by the server too.
  const answer = await page.evaluate(
    async ({ id }) => {
      const g = globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } };
      const token = g.sessionStorage.getItem('crm-offboarding.token'); // web/src/api.ts TOKEN_KEY
      const r = await fetch(`/v1/deletions/${id}/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ confirmation: 'confirm' }),
      });
      return { status: r.status, type: r.headers.get('content-type') };
    },
    { id: d.id },
  );
  expect(answer.status).toBe(422);
  expect(answer.type).toContain('application/problem+json');
  expect((await h.wizard.get(ws.id, d.id)).step).toBe('CONFIRM');
});

test("a wizard HR dated ahead says at CONFIRM when the user leaves (confirm is refused until then)", async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 5 });
  const effectiveAt = new Date(Date.now() + 30 * 86_400_000);
  const d = await wizardAt(h, ws, 'CONFIRM', { effectiveAt });
  expect(d.effectiveAt).toBe(effectiveAt.toISOString());
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'CONFIRM', 'Confirm deletion');
  const note = page.getByTestId('effective-at');
  await note.waitFor(WAIT);
  expect(await note.textContent()).toContain('can be confirmed from then on');
});

test('a page reload in the middle of the wizard lands on the same step, with the earlier steps done', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' }, { leaver: 30 });
  const source = await makeIntegration(h.prisma, ws.id, 'Landing page', [
    { userId: ws.users.leaver!.id, weight: 50 },
    { userId: ws.users.bob!.id, weight: 50 },
  ]);
  const page = await signedIn(ws);
  await page.getByTestId(`user-link-${ws.users.leaver!.id}`).click();
  await page.getByTestId('delete-user').click();
  await atStep(page, 'LEADS', 'Step 1 of 4');
  await page.getByTestId('lead-target').selectOption(ws.users.ann!.id);
  await page.getByTestId('next').click();
  await atStep(page, 'AUTOMATIONS', 'Step 2 of 4');
  await page.getByTestId('automations-empty').waitFor(WAIT);
  await page.getByTestId('next').click();
  await atStep(page, 'INTEGRATIONS', 'Step 3 of 4');
  await page.getByTestId(`integration-${source}`).waitFor(WAIT);
  const url = page.url();
  expect(url).toMatch(/#\/deletions\/[^/]+$/);

  await page.reload();

  // Same address, same step, drawn from what the server holds.
  await atStep(page, 'INTEGRATIONS', 'Step 3 of 4');
  await page.getByTestId(`integration-${source}`).waitFor(WAIT);
  expect(page.url()).toBe(url);
  for (const done of ['LEADS', 'AUTOMATIONS']) {
    expect(await page.getByTestId(`stepper-${done}`).getAttribute('data-state')).toBe('done');
  }
  expect(await page.getByTestId('stepper-INTEGRATIONS').getAttribute('data-state')).toBe('current');
  expect(await page.getByTestId('users-table').count()).toBe(0); // not thrown back to sign-in or Users
  await snap(page, 'reload-same-step');

  // And the wizard goes on from there.
  await page.getByTestId('next').click();
  await atStep(page, 'LABELS', 'Step 4 of 4');
});

test('a wizard started by the HR hook (signed POST over HTTP) is listed with source HR and resumed from the list', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', hana: 'MEMBER', ann: 'MEMBER' }, { hana: 10 });
  const hana = ws.users.hana!.id;
  const { hookSecret } = await h.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id }, select: { hookSecret: true } });
  const raw = JSON.stringify({ email: ws.users.hana!.email, employeeId: 'emp-77' });
  const res = await fetch(`${base}/v1/hooks/${ws.slug}/offboarding`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signHookBody(hookSecret, raw) },
    body: raw,
  });
  expect(res.status).toBe(202);
  const { deletionId } = (await res.json()) as { deletionId: string };

  const page = await signedIn(ws);
  await page.getByTestId('nav-deletions').click();
  const row = page.getByTestId(`deletion-row-${deletionId}`);
  await row.waitFor(WAIT);
  expect(await row.getByTestId('deletion-source').textContent()).toBe('HR');
  expect(await page.getByTestId('deletions-list').locator('tbody tr').count()).toBe(1);
  // Resume is in sight at this window size: the table does not need scrolling sideways.
  const overflow = await page
    .getByTestId('deletions-list')
    .evaluate((table) => ({ scroll: table.parentElement!.scrollWidth, client: table.parentElement!.clientWidth }));
  expect(overflow.scroll).toBeLessThanOrEqual(overflow.client);
  await snap(page, '12-deletions-list');

  await page.getByTestId(`resume-${deletionId}`).click();
  await atStep(page, 'LEADS', 'Step 1 of 4');
  expect(page.url()).toBe(`${base}/#/deletions/${deletionId}`);
  expect(await page.getByTestId('lead-count').textContent()).toBe('10');
  expect(await page.getByTestId('wizard-user-email').textContent()).toBe(ws.users.hana!.email);
  await snap(page, '13-hr-wizard-resumed');

  // The admin carries it on from where HR left it.
  await page.getByTestId('lead-target').selectOption(ws.users.ann!.id);
  await page.getByTestId('next').click();
  await atStep(page, 'AUTOMATIONS', 'Step 2 of 4');
  expect(await leadsByOwner(h.prisma, ws.id)).toEqual({ [ws.users.ann!.id]: 10 });

  await page.getByTestId('cancel-wizard').click();
  await page.getByTestId('cancel-reason').fill('HR withdrew the request');
  await page.getByTestId('cancel-confirm').click();
  const summary = page.getByTestId('summary');
  await summary.waitFor(WAIT);
  expect(await summary.getAttribute('data-status')).toBe('CANCELLED');

  await page.getByTestId('audit-link').click();
  await page.getByTestId('audit-DELETION_CANCELLED').waitFor(WAIT);
  expect(await page.getByTestId('audit-DELETION_STARTED').textContent()).toContain('emp-77');
  await snap(page, '14-hr-audit-cancelled');
  const back = await h.prisma.user.findUniqueOrThrow({ where: { id: hana } });
  expect(back.status).toBe('ACTIVE');
});

test('a refused step shows the server problem next to Next and changes nothing', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 5 });
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${deletion.id}`);
  await page.getByTestId('lead-target').selectOption(ws.users.ann!.id);
  // ann stops being a valid target after the page loaded: the server refuses (422) in words.
  await h.prisma.user.update({ where: { id: ws.users.ann!.id }, data: { status: 'SUSPENDED' } });
  await page.getByTestId('next').click();
  const error = page.getByTestId('error');
  await error.waitFor(WAIT);
  expect(await error.getAttribute('data-status')).toBe('422');
  await snap(page, 'step1-refused');
  expect((await h.wizard.get(ws.id, deletion.id)).leads.state).toBe('PENDING');
});

test('a MEMBER sees no Delete and no deletion wizards; an ADMIN sees no Delete for an OWNER', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', member: 'MEMBER', leaver: 'MEMBER' }, { leaver: 3 });
  const page = await signedIn(ws, { handle: 'member' });
  await page.locator('[data-testid="me-role"]', { hasText: 'Member' }).waitFor(WAIT);
  expect(await page.getByTestId('me-name').textContent()).toBe('member');
  expect(await page.getByTestId('nav-deletions').isHidden()).toBe(true);
  await page.getByTestId(`user-link-${ws.users.leaver!.id}`).click();
  await page.getByTestId('delete-not-allowed').waitFor(WAIT);
  expect(await page.getByTestId('user-lead-count').textContent()).toBe('3');
  expect(await page.getByTestId('delete-user').count()).toBe(0);
  expect(await page.getByTestId('deletion-preview').count()).toBe(0);
  await snap(page, 'member-no-delete');

  const admin = await signedIn(ws, { handle: 'admin' });
  // The menu follows GET /v1/me: wait for it, as for the member above, before reading the menu.
  await admin.locator('[data-testid="me-role"]', { hasText: 'Admin' }).waitFor(WAIT);
  expect(await admin.getByTestId('nav-deletions').isVisible()).toBe(true);
  await admin.getByTestId(`user-link-${ws.users.owner!.id}`).click();
  await admin.getByTestId('delete-not-allowed').waitFor(WAIT);
  expect(await admin.getByTestId('delete-not-allowed').textContent()).toContain('Only an owner can delete an owner');
  expect(await admin.getByTestId('delete-user').count()).toBe(0);
  await admin.getByTestId('blocker-ROLE').waitFor(WAIT);
  // The same admin may delete a member.
  await admin.getByTestId('nav-users').click();
  await admin.getByTestId(`user-link-${ws.users.leaver!.id}`).click();
  expect(await admin.getByTestId('delete-user').isEnabled()).toBe(true);
  expect(await h.prisma.deletion.count({ where: { workspaceId: ws.id } })).toBe(0);

  // An OWNER under way (another owner started it): the admin is told so, and not offered a Resume they cannot use.
  const owner2 = await h.prisma.user.create({ data: { workspaceId: ws.id, name: 'owner2', email: `owner2@${ws.slug}.test`, role: 'OWNER' } });
  await h.wizard.start({ workspaceId: ws.id, userId: owner2.id, actor: { type: 'USER', id: ws.users.owner!.id }, source: 'ADMIN' });
  await admin.getByTestId('nav-users').click();
  await admin.getByTestId(`user-link-${owner2.id}`).click();
  await admin.getByTestId('preview-under-way').waitFor(WAIT);
  expect(await admin.getByTestId('preview-under-way').textContent()).toContain('only an owner can go on with it');
  expect(await admin.getByTestId('preview-under-way').textContent()).not.toContain('Resume');
  expect(await admin.getByTestId('delete-user').count()).toBe(0);
});

test('the user page previews the deletion before anything is frozen; Delete then opens the wizard on the same counts', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 12 });
  const { leaver, ann } = { leaver: ws.users.leaver!.id, ann: ws.users.ann!.id };
  const sole = await makeAutomation(h.prisma, ws.id, 'Only the leaver', [{ userId: leaver, weight: 100 }]);
  const shared = await makeIntegration(h.prisma, ws.id, 'Web form', [
    { userId: leaver, weight: 40 },
    { userId: ann, weight: 60 },
  ]);
  await makeLabel(h.prisma, ws.id, 'Hot', 'SHARED', ann, [leaver]);

  const page = await signedIn(ws);
  await page.getByTestId(`user-link-${leaver}`).click();
  const preview = page.getByTestId('deletion-preview');
  await preview.waitFor(WAIT);
  expect(await page.getByTestId('preview-leads').textContent()).toBe('12');
  expect(await page.getByTestId('preview-automations-count').textContent()).toContain('1 automation');
  expect(await page.getByTestId(`preview-automations-${sole}`).textContent()).toContain('Only member');
  expect(await page.getByTestId(`preview-integrations-${shared}`).textContent()).toContain('ann 100%');
  expect(await page.getByTestId('preview-labels-count').textContent()).toContain('Hot');
  expect(await page.getByTestId('preview-blockers').count()).toBe(0);
  await snap(page, 'user-preview');
  // Seeing it froze nothing: the user is still ACTIVE, no wizard exists.
  expect((await h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).status).toBe('ACTIVE');
  expect(await h.prisma.deletion.count({ where: { workspaceId: ws.id } })).toBe(0);

  await page.getByTestId('delete-user').click();
  await atStep(page, 'LEADS', 'Step 1 of 4');
  expect(await page.getByTestId('lead-count').textContent()).toBe('12');
  expect((await h.prisma.user.findUniqueOrThrow({ where: { id: leaver } })).status).toBe('PENDING_DELETION');

  // Back on the user page, the preview says it is under way, and Delete resumes the same wizard.
  const url = page.url();
  await page.goto(`${base}/#/users/${leaver}`);
  await page.getByTestId('preview-under-way').waitFor(WAIT);
  expect(await page.getByTestId('delete-user').textContent()).toContain('Resume deletion');
  await page.getByTestId('delete-user').click();
  await atStep(page, 'LEADS', 'Step 1 of 4');
  expect(page.url()).toBe(url);
});

test('the preview says why deleting yourself is refused, and Delete stays disabled', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN' });
  const page = await signedIn(ws);
  await page.getByTestId(`user-link-${ws.users.admin!.id}`).click();
  await page.getByTestId('blocker-SELF').waitFor(WAIT);
  expect(await page.getByTestId('delete-user').isDisabled()).toBe(true);
});

test('the built page holds no server code (it imports the domain, never the database or Temporal)', async () => {
  const assets = path.join(WEB_DIST, 'assets');
  const js = fs.readdirSync(assets).filter((f) => f.endsWith('.js'));
  expect(js.length).toBeGreaterThan(0);
  for (const file of js) {
    const text = fs.readFileSync(path.join(assets, file), 'utf8');
    // The domain's own rule is in the bundle (the editor checks a split with it)...
    expect(text).toContain('they must add up to exactly');
    // ...and nothing of the server is.
    for (const server of ['@prisma', 'PrismaClient', '@temporalio', 'ZodError', 'pg-protocol', 'node:']) {
      expect({ file, server, found: text.includes(server) }).toEqual({ file, server, found: false });
    }
  }
});

/** Makes the database refuse (CHECK, 23514) giving this workspace's lead named `poison` to `to`: a move refused for good. */
async function poison(ws: TestWorkspace, to: string) {
  const name = `poison_${ws.id.replace(/\W/g, '')}`;
  await h.prisma.$executeRawUnsafe(
    `ALTER TABLE leads ADD CONSTRAINT ${name} CHECK (workspace_id <> '${ws.id}' OR name <> 'poison' OR owner_id <> '${to}') NOT VALID`,
  );
  return { cure: () => h.prisma.$executeRawUnsafe(`ALTER TABLE leads DROP CONSTRAINT IF EXISTS ${name}`) };
}

test('a wizard the identity provider started, whose move the database refuses: attention with the reason, Try again once fixed, or cancel', async () => {
  // Two real wizards, both with a lead the database will not give to ann: one the
  // identity provider started (as SCIM does), one an admin started.
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', ida: 'MEMBER', leo: 'MEMBER', ann: 'MEMBER' }, { ida: 4, leo: 4 });
  const [ida, leo, ann] = [ws.users.ida!.id, ws.users.leo!.id, ws.users.ann!.id];
  for (const owner of [ida, leo]) {
    const lead = await h.prisma.lead.findFirstOrThrow({ where: { workspaceId: ws.id, ownerId: owner } });
    await h.prisma.lead.update({ where: { id: lead.id }, data: { name: 'poison' } });
  }
  const { cure } = await poison(ws, ann);
  try {
    const idp = { type: 'IDP' as const, id: 'okta' };
    const byIdp = (await h.wizard.start({ workspaceId: ws.id, userId: ida, actor: idp, source: 'IDP' })).deletion;
    const byAdmin = (await h.wizard.start({ workspaceId: ws.id, userId: leo, actor: asAdmin(ws), source: 'ADMIN' })).deletion;
    for (const d of [byIdp, byAdmin]) {
      await h.wizard.submitLeads(ws.id, d.id, asAdmin(ws), { targetUserId: ann });
      await eventually(async () => ((await h.wizard.get(ws.id, d.id)).attention ? true : undefined), 60_000, 'attention');
    }
    const { attention } = await h.wizard.get(ws.id, byIdp.id);

    const page = await signedIn(ws);
    await page.getByTestId('nav-deletions').click();
    const row = page.getByTestId(`deletion-row-${byIdp.id}`);
    await row.waitFor(WAIT);
    expect(await row.getByTestId('deletion-source').textContent()).toBe('Identity provider');
    expect(await row.getByTestId('deletion-attention').textContent()).toBe('Needs attention');
    expect(await page.getByTestId(`deletion-row-${byAdmin.id}`).getByTestId('deletion-source').textContent()).toBe('Admin');

    await page.getByTestId(`resume-${byIdp.id}`).click();
    await page.getByTestId('attention').waitFor(WAIT);
    expect(await page.getByTestId('attention-reason').textContent()).toBe(attention!.reason);
    expect(attention!.reason).toMatch(/Moving the leads: .*refused/);
    expect(await page.getByTestId('attention').textContent()).toContain('cancel it now');
    expect(await page.getByTestId('deletion-source').textContent()).toBe('Identity provider');
    await snap(page, 'wizard-attention');

    // The cause is fixed: Try again, and the wizard goes on to step 2 with the banner gone.
    await cure();
    await page.getByTestId('attention-retry').click();
    await atStep(page, 'AUTOMATIONS', 'Step 2 of 4');
    expect(await page.getByTestId('attention').count()).toBe(0);
    expect(await h.wizard.get(ws.id, byIdp.id)).toMatchObject({ attention: null, leads: { moved: 4, state: 'DONE' } });
    await page.getByTestId('audit-link').click();
    await page.getByTestId('audit-DELETION_STARTED').waitFor(WAIT);
    expect(await page.getByTestId('audit-DELETION_STARTED').textContent()).toContain('Identity provider (okta)');

    // The admin's wizard is cancelled from its banner: the user is active again.
    await page.goto(`${base}/#/deletions/${byAdmin.id}`);
    await page.getByTestId('attention').waitFor(WAIT);
    await page.getByTestId('attention-cancel').click();
    await page.getByTestId('cancel-confirm').click();
    const summary = page.getByTestId('summary');
    await summary.waitFor(WAIT);
    expect(await summary.getAttribute('data-status')).toBe('CANCELLED');
    expect(await page.getByTestId('attention').count()).toBe(0);
    expect((await h.prisma.user.findUniqueOrThrow({ where: { id: leo } })).status).toBe('ACTIVE');
  } finally {
    await cure();
  }
});
