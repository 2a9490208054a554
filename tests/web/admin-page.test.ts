// The admin page against what a black-box probe of it found (probe 36): where
// the leads really went when a step-1 target left mid-move, a wizard moved on
// or cancelled from elsewhere while the page waits at a form, lists at a phone's
// and a laptop's width, the CONFIRM field saying why Delete is disabled, names
// instead of ids, user lists that refresh, and the small ones (the cancel panel,
// the start reason's label, bidi controls, contrast, roles). Debian's Chromium
// (playwright-core) against the real API, worker, Temporal dev server and
// database of this run; every wait is for something in the page, never a time.
import type { Page, Request, Route } from 'playwright-core';
import { createApiToken } from '../../infra/tokens';
import { browserRig } from '../support/browser';
import { MovePace, untilMidMove } from '../support/move-pace';
import { asAdmin, eventually, makeAutomation, makeWorkspace, moveDone, type TestWorkspace, type WizardHarness, wizardAt } from '../support/wizard';

const WAIT = { timeout: 60_000 };

const pace = new MovePace();
const rig = browserRig({ batchSize: 100, pace });
let h: WizardHarness;
let base: string;
beforeAll(() => {
  ({ h, base } = rig);
});

async function signedIn(ws: TestWorkspace, opts: { handle?: string; width?: number; height?: number } = {}): Promise<Page> {
  const token = await createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users[opts.handle ?? 'admin']!.id, label: 'browser test' });
  const context = await rig.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 860 } });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByTestId('token-input').fill(token);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('users-table').waitFor(WAIT);
  return page;
}

async function atStep(page: Page, step: string): Promise<void> {
  await page.locator(`[data-testid="stepper-${step}"][aria-current="step"]`).waitFor(WAIT);
}

/** Step 1 applied with `leads`; `leaving`, one of its targets, stops being active mid-move. Answers the wizard once the move is done. */
async function targetLeavesMidMove(ws: TestWorkspace, deletion: { id: string; workflowId: string }, leads: Parameters<WizardHarness['wizard']['submitLeads']>[3], leaving: string) {
  pace.hold();
  await h.wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), leads);
  await untilMidMove(pace, h.temporal, deletion.workflowId);
  await h.prisma.user.update({ where: { id: leaving }, data: { status: 'SUSPENDED' } });
  pace.open();
  return moveDone(h.wizard, ws.id, deletion.id);
}

/** Steps 2 to 4 applied as suggested (another admin): the wizard waits at CONFIRM. */
async function onToConfirm(ws: TestWorkspace, deletionId: string): Promise<void> {
  await h.wizard.submitAutomations(ws.id, deletionId, asAdmin(ws), { overrides: [] });
  await h.wizard.submitIntegrations(ws.id, deletionId, asAdmin(ws), { overrides: [] });
  await h.wizard.submitLabels(ws.id, deletionId, asAdmin(ws), { replacements: [] });
}

const count = (n: number) => n.toLocaleString('en-US');

/** In the page: no enabled option for user `id` in a first distribution row. */
const notOffered = (id: string) => `!document.querySelector('[data-testid$="-dist-user-0"] option[value="${id}"]:not([disabled])')`;

/** In the page: the WCAG contrast ratio of `fg`'s text colour on `bg`'s background. */
const contrast = (fg: string, bg: string) => `(() => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const a = lum(rgb(getComputedStyle(document.querySelector(${JSON.stringify(fg)})).color));
  const b = lum(rgb(getComputedStyle(document.querySelector(${JSON.stringify(bg)})).backgroundColor));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})()`;

test('a step-1 target who left mid-move: the review and the summary say who got what and where the leaver\'s share went, by name', async () => {
  const ws = await makeWorkspace(
    h.prisma,
    { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER', dee: 'MEMBER' },
    { leaver: 3_000 },
  );
  const [ann, bob, dee] = [ws.users.ann!.id, ws.users.bob!.id, ws.users.dee!.id];
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  // Dee stops being active mid-move: nothing more for her, her share goes to Ann and Bob.
  const distribution = [
    { userId: ann, weight: 34 },
    { userId: bob, weight: 33 },
    { userId: dee, weight: 33 },
  ];
  await targetLeavesMidMove(ws, deletion, { distribution }, dee);
  const moved = await h.prisma.auditEvent.findFirstOrThrow({ where: { deletionId: deletion.id, action: 'LEADS_MOVED' } });
  const detail = moved.detail as { targets: { userId: string; count: number }[]; targetsLeft?: { leftUserId: string; remaining: number }[] };
  expect(detail.targetsLeft?.[0]?.leftUserId).toBe(dee);
  const got = new Map(detail.targets.map((t) => [t.userId, t.count]));
  await onToConfirm(ws, deletion.id);

  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${deletion.id}`);
  await atStep(page, 'CONFIRM');
  const review = page.getByTestId('review-leads');
  await page.locator('[data-testid="review-leads"][data-outcome="audit"]').waitFor(WAIT);
  const text = (await review.textContent())!;
  expect(text).not.toContain('%'); // not the plan's split
  expect(text).toContain(`ann ${count(got.get(ann)!)}`);
  expect(text).toContain(`bob ${count(got.get(bob)!)}`);
  expect(text).toMatch(/dee left/);
  expect(text).not.toContain(dee);

  await page.getByTestId('confirm-input').fill('CONFIRM');
  await page.getByTestId('confirm-delete').click();
  await page.locator('[data-testid="summary"][data-status="COMPLETED"]').waitFor(WAIT);
  await page.locator('[data-testid="summary-leads"][data-outcome="audit"]').waitFor(WAIT);
  expect(await page.getByTestId('summary-leads').textContent()).toMatch(/dee left/);

  // Dee is deleted since: "a deleted user", never her id, in the summary and the audit.
  await h.prisma.user.delete({ where: { id: dee } });
  await page.reload();
  await page.locator('[data-testid="summary-leads"][data-outcome="audit"]').waitFor(WAIT);
  await page.getByTestId('audit-LEAD_TARGET_LEFT').waitFor(WAIT);
  expect(await page.getByTestId('summary-leads').textContent()).toMatch(/a deleted user left/i);
  expect(await page.locator('main').textContent()).not.toContain(dee);
}, 240_000);

/** A wizard of 3,000 leads whose only step-1 target, dee, stops being active mid-move: the move ends short. */
async function onlyTargetLeftMidMove() {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', dee: 'MEMBER' }, { leaver: 3_000 });
  const dee = ws.users.dee!.id;
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const moved = await targetLeavesMidMove(ws, deletion, { targetUserId: dee }, dee);
  expect(moved.leads.moved).toBeLessThan(3_000);
  return { ws, deletion, moved };
}

test('the only step-1 target left mid-move: the review says the rest waits with the user for CONFIRM; once cancelled, that it stayed with them', async () => {
  const { ws, deletion } = await onlyTargetLeftMidMove();
  await onToConfirm(ws, deletion.id);

  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${deletion.id}`);
  await atStep(page, 'CONFIRM');
  await page.locator('[data-testid="review-leads"][data-outcome="audit"]').waitFor(WAIT);
  const text = (await page.getByTestId('review-leads').textContent())!;
  expect(text).toMatch(/dee left/);
  expect(text).toMatch(/until CONFIRM/);

  // Cancelled instead: the rest stayed with the user, who is active again; no CONFIRM, no final sweep.
  await h.wizard.cancel(ws.id, deletion.id, asAdmin(ws, 'owner'), {});
  await page.locator('[data-testid="summary"][data-status="CANCELLED"]').waitFor(WAIT);
  await page.locator('[data-testid="summary-leads"][data-outcome="audit"]').waitFor(WAIT);
  const ended = (await page.getByTestId('summary-leads').textContent())!;
  expect(ended).toMatch(/dee left/);
  expect(ended).toMatch(/stayed with leaver, who is active again: the wizard was cancelled/);
  expect(ended).not.toMatch(/CONFIRM|sweep/);
}, 240_000);

test('a move that ended short is announced as such, not as all leads moved', async () => {
  const { ws, deletion, moved } = await onlyTargetLeftMidMove();

  // The server shows step 1 with the move DONE only for an instant before step 2 opens: the page's reads
  // are held there (the server's real counts, step 1), so the progress panel can be read at the move's end.
  const page = await signedIn(ws);
  await page.route(
    (url) => url.pathname.startsWith(`/v1/deletions/${deletion.id}`),
    async (route: Route) => {
      const url = new URL(route.request().url());
      if (url.pathname.endsWith('/events')) return route.abort('failed');
      if (url.pathname !== `/v1/deletions/${deletion.id}` || route.request().method() !== 'GET') return route.continue();
      const answer = await route.fetch();
      return route.fulfill({ response: answer, json: { ...(await answer.json()), step: 'LEADS' } });
    },
  );
  await page.goto(`${base}/#/deletions/${deletion.id}`);
  await page.getByTestId('progress').waitFor(WAIT);
  const live = page.getByTestId('progress-live');
  await page.locator('[data-testid="progress-live"]:not(:empty)').waitFor(WAIT);
  expect(await live.textContent()).toBe(`The move ended at ${count(moved.leads.moved)} of 3,000; the rest waits for CONFIRM.`);
}, 240_000);

test('a hidden tab closes its event stream; shown again, it reads the wizard afresh and follows it again', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const d = await wizardAt(h, ws, 'AUTOMATIONS');
  const page = await signedIn(ws);
  const isStream = (r: Request) => new URL(r.url()).pathname === `/v1/deletions/${d.id}/events`;
  const opened: Request[] = [];
  const closed: Request[] = [];
  const reads: string[] = [];
  page.on('request', (r) => {
    if (isStream(r)) opened.push(r);
    if (r.url().includes(`/v1/deletions/${d.id}`)) reads.push(r.url());
  });
  page.on('requestfailed', (r) => isStream(r) && closed.push(r));
  page.on('requestfinished', (r) => isStream(r) && closed.push(r));
  const setVisibility = (state: 'hidden' | 'visible') =>
    page.evaluate(`(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => ${state === 'hidden'} });
      document.dispatchEvent(new Event('visibilitychange'));
    })()`);

  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'AUTOMATIONS');
  await page.locator('[data-testid="wizard"][data-updates="stream"]').waitFor(WAIT);
  await setVisibility('hidden');
  await page.locator('[data-testid="wizard"][data-updates="hidden"]').waitFor(WAIT);
  await eventually(async () => (opened.length > 0 && closed.length === opened.length ? true : undefined), 60_000, 'the stream to close');
  reads.length = 0;
  await h.wizard.submitAutomations(ws.id, d.id, asAdmin(ws, 'owner'), { overrides: [] });
  expect(reads).toEqual([]); // nothing read, nothing held open, while hidden

  await setVisibility('visible');
  await atStep(page, 'INTEGRATIONS');
  await page.getByTestId('wizard-notice').waitFor(WAIT);
  await page.locator('[data-testid="wizard"][data-updates="stream"]').waitFor(WAIT);
  expect(opened.length - closed.length).toBe(1);
});

test('a user list refreshed on focus with the same users keeps its options: an open dropdown is not rebuilt under the click', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' }, { leaver: 3 });
  const sole = await makeAutomation(h.prisma, ws.id, 'Night shift', [{ userId: ws.users.leaver!.id, weight: 100 }]);
  const d = await wizardAt(h, ws, 'AUTOMATIONS');
  const page = await signedIn(ws);
  // Counts the user lists the page has read (in the same task as the page's own handling of them).
  await page.evaluate(`(() => {
    window.__usersRead = 0;
    const text = Response.prototype.text;
    Response.prototype.text = function () {
      const read = text.call(this);
      if (new URL(this.url).pathname === '/v1/users') read.then(() => (window.__usersRead += 1));
      return read;
    };
  })()`);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'AUTOMATIONS');
  const select = page.getByTestId(`automation-${sole}-dist-user-0`);
  await select.waitFor(WAIT);
  const before = (await page.evaluate('window.__usersRead')) as number;
  const options = `document.querySelector('[data-testid="automation-${sole}-dist-user-0"]').options`;
  await page.evaluate(`void (window.__options = [...${options}])`);
  await select.focus();
  await page.waitForFunction(`window.__usersRead > ${before}`, undefined, WAIT);
  const kept = await page.evaluate(`${options}.length === window.__options.length && [...${options}].every((o, i) => o === window.__options[i])`);
  expect(kept).toBe(true);
});

test('another admin moves the wizard on or cancels it: the waiting page follows, and a 409 is said in words with the current step shown', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const d = await wizardAt(h, ws, 'AUTOMATIONS');
  // Tab A waits at step 2 while another admin applies it.
  const a = await signedIn(ws);
  await a.goto(`${base}/#/deletions/${d.id}`);
  await atStep(a, 'AUTOMATIONS');
  await a.getByTestId('next').waitFor(WAIT);
  await h.wizard.submitAutomations(ws.id, d.id, asAdmin(ws, 'owner'), { overrides: [] });
  await atStep(a, 'INTEGRATIONS');
  await a.getByTestId('wizard-notice').waitFor(WAIT);
  expect(await a.getByTestId('wizard-notice').textContent()).toMatch(/elsewhere|another/i);

  // Tab B learns nothing (its stream and reads fail) until it clicks Next: the 409 brings it to the current step, in words.
  let blind = false;
  const b = await signedIn(ws);
  await b.route(
    (url) => url.pathname.startsWith(`/v1/deletions/${d.id}`),
    (route: Route) => {
      const url = new URL(route.request().url());
      if (url.pathname.endsWith('/events')) return route.abort('failed');
      if (blind && route.request().method() === 'GET' && url.pathname === `/v1/deletions/${d.id}`) return route.abort('failed');
      return route.continue();
    },
  );
  await b.goto(`${base}/#/deletions/${d.id}`);
  await atStep(b, 'INTEGRATIONS');
  await b.getByTestId('next').waitFor(WAIT);
  blind = true;
  await h.wizard.submitIntegrations(ws.id, d.id, asAdmin(ws, 'owner'), { overrides: [] });
  blind = false;
  await b.getByTestId('next').click();
  await atStep(b, 'LABELS');
  const notice = b.getByTestId('wizard-notice');
  await notice.waitFor(WAIT);
  expect(await notice.textContent()).toContain('Labels');
  expect(await notice.textContent()).not.toMatch(/INTEGRATIONS|LABELS|AUTOMATIONS/);

  blind = true;
  await h.wizard.cancel(ws.id, d.id, asAdmin(ws, 'owner'), {});
  blind = false;
  await b.getByTestId('next').click();
  await b.locator('[data-testid="summary"][data-status="CANCELLED"]').waitFor(WAIT);
  await b.locator('[data-testid="wizard-notice"]', { hasText: 'cancelled' }).waitFor(WAIT);
  expect(await b.getByTestId('wizard-notice').textContent()).not.toContain('CANCELLED');
  expect(await b.getByTestId('cancel-wizard').count()).toBe(0);
  // Tab A saw the cancel too, by itself.
  await a.locator('[data-testid="summary"][data-status="CANCELLED"]').waitFor(WAIT);
}, 180_000);

test('the lists fit a 375-px phone and the wizards table a 1280-px laptop: no sideways page, Resume and Audit in sight', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const long = await h.prisma.user.create({
    data: { workspaceId: ws.id, name: 'Maximiliana Bartholomew-Featherstonehaugh', email: `maximiliana.bartholomew-featherstonehaugh@${ws.slug}.test`, role: 'MEMBER' },
  });
  await h.wizard.start({ workspaceId: ws.id, userId: long.id, actor: { type: 'IDP', id: 'okta' }, source: 'IDP' });
  await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'HR' });
  const inSight = async (page: Page, right: number) => {
    for (const link of await page.locator('[data-testid^="resume-"], [data-testid^="audit-link-"]').all()) {
      await link.scrollIntoViewIfNeeded();
      const box = (await link.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(right);
    }
  };

  const laptop = await signedIn(ws, { width: 1280, height: 900 });
  await laptop.getByTestId('nav-deletions').click();
  await laptop.getByTestId('deletions-list').waitFor(WAIT);
  const wrap = await laptop.getByTestId('deletions-list').evaluate((t) => ({ scroll: t.parentElement!.scrollWidth, client: t.parentElement!.clientWidth, right: t.parentElement!.getBoundingClientRect().right }));
  expect(wrap.scroll).toBeLessThanOrEqual(wrap.client);
  await inSight(laptop, wrap.right);

  const phone = await signedIn(ws, { width: 375, height: 812 });
  const pageWidth = () => phone.evaluate('document.documentElement.scrollWidth') as Promise<number>;
  expect(await pageWidth()).toBeLessThanOrEqual(375);
  await phone.getByTestId('nav-deletions').click();
  await phone.getByTestId('deletions-list').waitFor(WAIT);
  expect(await pageWidth()).toBeLessThanOrEqual(375);
  await inSight(phone, 375);
});

test('the CONFIRM field says why Delete is disabled; before HR\'s date it says CONFIRM is refused until then', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const d = await wizardAt(h, ws, 'CONFIRM');
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'CONFIRM');
  const why = page.getByTestId('confirm-why');
  const cases: [string, RegExp][] = [
    ['', /type CONFIRM/i],
    ['confirm', /capital/i],
    [' CONFIRM', /space/i],
    ['CONFIRM ', /space/i],
    ['CONFIRMED', /exactly/i],
  ];
  for (const [typed, reason] of cases) {
    await page.getByTestId('confirm-input').fill(typed);
    expect(await page.getByTestId('confirm-delete').isDisabled()).toBe(true);
    expect(await why.textContent()).toMatch(reason);
  }
  await page.getByTestId('confirm-input').fill('CONFIRM');
  expect(await page.getByTestId('confirm-delete').isEnabled()).toBe(true);
  expect(await why.textContent()).toBe('');

  const ws2 = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const dated = await wizardAt(h, ws2, 'CONFIRM', { effectiveAt: new Date(Date.now() + 30 * 86_400_000) });
  const hr = await signedIn(ws2);
  await hr.goto(`${base}/#/deletions/${dated.id}`);
  await atStep(hr, 'CONFIRM');
  const note = hr.getByTestId('effective-at');
  await note.waitFor(WAIT);
  expect(await note.textContent()).toMatch(/refused until/);
  // The browser's clock may be behind the server's: the page says so, the server decides (409, in words).
  await hr.getByTestId('confirm-input').fill('CONFIRM');
  expect(await hr.getByTestId('confirm-delete').isEnabled()).toBe(true);
  await hr.getByTestId('confirm-delete').click();
  const refused = hr.getByTestId('error');
  await refused.waitFor(WAIT);
  expect(await refused.getAttribute('data-status')).toBe('409');
  await atStep(hr, 'CONFIRM');
});

test('names, not ids: a user twice in a split, an owner\'s blockers, initials of names with brackets', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' }, { leaver: 3 });
  const demo = await h.prisma.user.create({ data: { workspaceId: ws.id, name: 'Owner (demo)', email: `odemo@${ws.slug}.test`, role: 'MEMBER' } });
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws), source: 'ADMIN' });
  const page = await signedIn(ws);
  expect(await page.getByTestId(`user-row-${demo.id}`).locator('.avatar').textContent()).toBe('OD');
  await page.goto(`${base}/#/deletions/${deletion.id}`);
  await atStep(page, 'LEADS');
  await page.getByTestId('lead-mode-split').check();
  await page.getByTestId('lead-distribution-user-0').selectOption(ws.users.ann!.id);
  await page.getByTestId('lead-distribution-weight-0').fill('50');
  await page.getByTestId('lead-distribution-add').click();
  await page.getByTestId('lead-distribution-user-1').selectOption(ws.users.ann!.id);
  await page.getByTestId('lead-distribution-weight-1').fill('50');
  const problem = (await page.getByTestId('lead-distribution-problem').textContent())!;
  expect(problem).toContain('ann');
  expect(problem).not.toContain(ws.users.ann!.id);

  await page.goto(`${base}/#/users/${ws.users.owner!.id}`);
  await page.getByTestId('blocker-ROLE').waitFor(WAIT);
  for (const blocker of await page.locator('[data-testid^="blocker-"]').all()) {
    const text = (await blocker.textContent())!;
    expect(text).not.toContain(ws.users.owner!.id);
    expect(text).toContain('owner');
  }
});

test('user lists refresh: a user who can no longer be picked is not offered, on focus and after a 422', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER', cy: 'MEMBER' }, { leaver: 3 });
  const sole = await makeAutomation(h.prisma, ws.id, 'Night shift', [{ userId: ws.users.leaver!.id, weight: 100 }]);
  const d = await wizardAt(h, ws, 'AUTOMATIONS');
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'AUTOMATIONS');
  const select = page.getByTestId(`automation-${sole}-dist-user-0`);
  await select.waitFor(WAIT);
  const offered = (id: string) => select.locator(`option[value="${id}"]:not([disabled])`).count();
  expect(await offered(ws.users.bob!.id)).toBe(1);
  await h.prisma.user.update({ where: { id: ws.users.bob!.id }, data: { status: 'SUSPENDED' } });
  await select.focus();
  await page.waitForFunction(notOffered(ws.users.bob!.id), undefined, WAIT);

  await select.selectOption(ws.users.cy!.id);
  await h.prisma.user.update({ where: { id: ws.users.cy!.id }, data: { status: 'SUSPENDED' } });
  await page.getByTestId('next').click();
  const error = page.getByTestId('error');
  await error.waitFor(WAIT);
  expect(await error.getAttribute('data-status')).toBe('422');
  expect(await error.textContent()).not.toContain(ws.users.cy!.id);
  await page.waitForFunction(notOffered(ws.users.cy!.id), undefined, WAIT);
  expect(await page.getByTestId('next').isDisabled()).toBe(true);
});

test('the cancel panel closes with Escape and when the step changes; the start reason is labelled; bidi controls are isolated; contrast and roles', async () => {
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const d = await wizardAt(h, ws, 'AUTOMATIONS', { reason: 'revoke test' });
  const page = await signedIn(ws);
  await page.goto(`${base}/#/deletions/${d.id}`);
  await atStep(page, 'AUTOMATIONS');

  // Contrast (WCAG AA 4.5:1) of the sidebar's section title.
  const ratio = (fg: string, bg: string) => page.evaluate(contrast(fg, bg)) as Promise<number>;
  expect(await ratio('.nav-title', '.sidebar')).toBeGreaterThanOrEqual(4.5);

  await page.getByTestId('cancel-wizard').click();
  expect(await page.locator('form[role]').count()).toBe(0);
  await page.getByTestId('cancel-reason').fill('typed at step 2');
  await page.getByTestId('step-title').click();
  await page.keyboard.press('Escape');
  expect(await page.getByTestId('cancel-panel').count()).toBe(0);

  await page.getByTestId('cancel-wizard').click();
  await page.getByTestId('cancel-reason').fill('typed at step 2');
  await h.wizard.submitAutomations(ws.id, d.id, asAdmin(ws, 'owner'), { overrides: [] });
  await atStep(page, 'INTEGRATIONS');
  expect(await page.getByTestId('cancel-panel').count()).toBe(0);
  await page.getByTestId('cancel-wizard').click();
  expect(await page.getByTestId('cancel-reason').inputValue()).toBe('');
  await page.getByTestId('cancel-reason').fill('a \u202Eevil\u202C b');
  await page.getByTestId('cancel-confirm').click();
  await page.locator('[data-testid="summary"][data-status="CANCELLED"]').waitFor(WAIT);
  expect(await page.getByTestId('wizard-reason').textContent()).toMatch(/^Reason given at the start: revoke test$/);
  const cancelled = page.getByTestId('audit-DELETION_CANCELLED');
  await cancelled.waitFor(WAIT);
  const shown = (await page.evaluate(`(() => {
    const dd = [...document.querySelectorAll('[data-testid="audit-DELETION_CANCELLED"] dd')].find((x) => x.textContent.includes('evil'));
    return { text: dd.innerText, isolated: getComputedStyle(dd).unicodeBidi };
  })()`)) as { text: string; isolated: string };
  expect(shown.text).not.toContain('\u202E');
  expect(shown.isolated).toMatch(/isolate/);

  // The help text of the selected choice at step 1 (another wizard) reads at 4.5:1.
  const ws2 = await makeWorkspace(h.prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER', ann: 'MEMBER' }, { leaver: 3 });
  const { deletion } = await h.wizard.start({ workspaceId: ws2.id, userId: ws2.users.leaver!.id, actor: asAdmin(ws2), source: 'ADMIN' });
  const p2 = await signedIn(ws2);
  await p2.goto(`${base}/#/deletions/${deletion.id}`);
  await atStep(p2, 'LEADS');
  const helpRatio = (await p2.evaluate(contrast('.choice:has(input:checked) .choice-help', '.choice:has(input:checked)'))) as number;
  expect(helpRatio).toBeGreaterThanOrEqual(4.5);
});

// Security probe 38 D3: a link whose id does not decode (`%E0%A4%A`) threw in the router and left the
// page on "Loading…" for good. Such an id names no user or wizard: the page says so, as for any unknown id.
test('a link with an id that does not decode says there is no such user or wizard, as an unknown id does', async () => {
  const ws = await makeWorkspace(h.prisma, { admin: 'ADMIN' });
  const page = await signedIn(ws);
  for (const path of ['/users/%E0%A4%A', '/deletions/%E0%A4%A', '/deletions/%E0%A4%A/audit']) {
    await page.goto(`${base}/#${path}`);
    await page.getByTestId('error').filter({ hasText: /does not exist|not found|no such/i }).waitFor(WAIT);
    expect(await page.locator('.boot').count()).toBe(0);
  }
});
