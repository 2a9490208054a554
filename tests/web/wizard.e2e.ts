// The admin page in a real browser (headless Chromium through playwright-core)
// against the real API, worker, Temporal dev server and database: sign in,
// open a user, walk the wizard to CONFIRM, and resume / cancel a wizard HR
// started.
//
// DRAFT: named .e2e.ts so `npm test` does not run it yet. Run it with
//   npm run web:build && npx jest --testMatch '<rootDir>/tests/web/*.e2e.ts'
// The page is driven only through the data-testids documented at the top of
// web/src/main.ts; waits are for things to appear, never for a time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { issueToken } from '../../api/auth';
import { buildServer } from '../../api/server';
import {
  asAdmin,
  leadsByOwner,
  makeAutomation,
  makeIntegration,
  makeLabel,
  makeWorkspace,
  wizardHarness,
  type TestWorkspace,
  type WizardHarness,
} from '../support/wizard';

const ROOT = path.resolve(__dirname, '..', '..');
const WEB_DIST = path.join(ROOT, 'web', 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Generous: a wait ends as soon as its condition holds; this only bounds a broken run. */
const WAIT = { timeout: 60_000 };
/** Set to a folder to keep full-page screenshots of each screen (for looking at the page). */
const SHOTS = process.env.E2E_SCREENSHOTS;

async function snap(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

let h: WizardHarness;
let app: FastifyInstance;
let base: string;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) {
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'inherit' });
  }
  h = await wizardHarness({ batchSize: 500 });
  app = buildServer({
    prisma: h.prisma,
    wizard: h.wizard,
    health: async () => ({ database: true, temporal: true }),
    config: h.config,
    logger: false,
    webDir: WEB_DIST,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await h?.close();
});

async function signedIn(ws: TestWorkspace, handle = 'admin'): Promise<Page> {
  const token = await issueToken(h.prisma, { workspaceId: ws.id, userId: ws.users[handle]!.id, label: 'e2e' });
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('users-table').waitFor(WAIT);
  return page;
}

test('a wrong token is refused in words, next to the token box', async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('token-input').fill('crm_not-a-real-token');
  await page.getByTestId('sign-in').click();
  const error = page.getByTestId('error');
  await error.waitFor(WAIT);
  expect(await error.getAttribute('data-status')).toBe('401');
  expect(await page.getByTestId('users-table').count()).toBe(0);
  await page.close();
});

test('an admin deletes a user through every step, and the page says what moved where', async () => {
  const ws = await makeWorkspace(
    h.prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' },
    { leaver: 3_000 },
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

  const page = await signedIn(ws);
  await page.getByTestId(`user-link-${leaver}`).click();
  await page.getByTestId('delete-user').click();

  // Step 1: the count, then a 50/50 split that Next refuses until it is valid.
  await page.getByTestId('lead-count').waitFor(WAIT);
  expect(await page.getByTestId('lead-count').textContent()).toBe('3,000');
  await page.getByTestId('lead-mode-split').check();
  await page.getByTestId('lead-distribution-user-0').selectOption(ann);
  await page.getByTestId('lead-distribution-weight-0').fill('50');
  expect(await page.getByTestId('next').isDisabled()).toBe(true);
  await page.getByTestId('lead-distribution-add').click();
  await page.getByTestId('lead-distribution-user-1').selectOption(ann);
  await page.getByTestId('lead-distribution-weight-1').fill('50');
  expect(await page.getByTestId('next').isDisabled()).toBe(true); // the same user twice
  await page.getByTestId('lead-distribution-user-1').selectOption(bob);
  expect(await page.getByTestId('lead-distribution-sum').textContent()).toBe('Total 100%');
  await snap(page, 'step1-leads');
  await page.getByTestId('next').click();

  // The move: a <progress>, then step 2 once every lead has moved (a reload in between resumes it).
  await page.getByTestId('progress').waitFor(WAIT);
  await page.reload();
  await page.getByTestId(`automation-${shared}`).waitFor(WAIT);
  expect(await page.getByTestId('stepper-AUTOMATIONS').getAttribute('aria-current')).toBe('step');
  expect(await page.getByTestId('step-title').evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);

  // Step 2: the sole-member automation blocks Next until a replacement is named.
  expect(await page.getByTestId(`automation-${sole}`).getAttribute('data-requires-replacement')).toBe('true');
  expect(await page.getByTestId('next').isDisabled()).toBe(true);
  await page.getByTestId(`automation-${sole}-dist-user-0`).selectOption(bob);
  await snap(page, 'step2-automations');
  await page.getByTestId('next').click();

  // Step 3: keep the suggestion.
  await page.getByTestId(`integration-${source}`).waitFor(WAIT);
  await page.getByTestId('next').click();

  // Step 4: ann replaces the leaver in the shared label.
  await page.getByTestId(`label-${label}-replacement`).selectOption(ann);
  await page.getByTestId('next').click();

  // Confirm: only exactly CONFIRM enables Delete User.
  await page.getByTestId('confirm-input').fill('confirm');
  expect(await page.getByTestId('confirm-delete').isDisabled()).toBe(true);
  await page.getByTestId('confirm-input').fill('CONFIRM');
  await snap(page, 'confirm');
  await page.getByTestId('confirm-delete').click();

  const summary = page.getByTestId('summary');
  await summary.waitFor(WAIT);
  expect(await summary.getAttribute('data-status')).toBe('COMPLETED');
  await page.getByTestId('audit-USER_DELETED').waitFor(WAIT);
  await snap(page, 'summary');
  expect(await page.getByTestId(`summary-automation-${sole}`).textContent()).toContain('bob 100%');

  const owners = await leadsByOwner(h.prisma, ws.id);
  expect(owners[ann]).toBe(1_500);
  expect(owners[bob]).toBe(1_500);
  expect(owners[leaver]).toBeUndefined();
  expect(await h.prisma.user.count({ where: { id: leaver } })).toBe(0);
  await page.close();
});

test('a wizard HR started is listed with its source, resumed, and cancelled', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', hana: 'MEMBER', ann: 'MEMBER' }, { hana: 10 });
  const hana = ws.users.hana!.id;
  const { deletion } = await h.wizard.start({
    workspaceId: ws.id,
    userId: hana,
    actor: { type: 'HR', id: 'emp-77' },
    source: 'HR',
  });

  const page = await signedIn(ws);
  await page.getByTestId('nav-deletions').click();
  const row = page.getByTestId(`deletion-row-${deletion.id}`);
  await row.waitFor(WAIT);
  expect(await row.getByTestId('deletion-source').textContent()).toBe('HR');

  await page.getByTestId(`resume-${deletion.id}`).click();
  await page.getByTestId('lead-count').waitFor(WAIT);
  expect(await page.getByTestId('lead-count').textContent()).toBe('10');

  await page.getByTestId('cancel-wizard').click();
  await page.getByTestId('cancel-reason').fill('HR withdrew the request');
  await page.getByTestId('cancel-confirm').click();
  const summary = page.getByTestId('summary');
  await summary.waitFor(WAIT);
  expect(await summary.getAttribute('data-status')).toBe('CANCELLED');

  await page.getByTestId('audit-link').click();
  await page.getByTestId('audit-DELETION_CANCELLED').waitFor(WAIT);
  await snap(page, 'audit-cancelled');
  const back = await h.prisma.user.findUniqueOrThrow({ where: { id: hana } });
  expect(back.status).toBe('ACTIVE');
  await page.close();
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
  await page.close();
});
