// The admin page in Debian's Chromium (playwright-core, which never downloads
// a browser) against the real API, worker, Temporal dev server and database of
// this jest run: one server and one browser per test file, a context of its
// own per tab, closed as each test ends.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../api/server';
import { wizardHarness, type WizardHarness } from './wizard';

const ROOT = path.resolve(__dirname, '..', '..');
export const WEB_DIST = path.join(ROOT, 'web', 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export interface BrowserRig {
  /** Set once the file's beforeAll has run. */
  h: WizardHarness;
  /** The API and the page, e.g. http://127.0.0.1:41234. */
  base: string;
  browser: Browser;
  /** A context (own session storage) closed after the test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
}

/**
 * Registers the file's beforeAll, afterEach and afterAll: a harness with
 * `options` (its pace opened after each test, so a failed test holding the
 * move does not leave the next one waiting), the API serving web/dist (built
 * when missing: npm test builds it, `npx jest` on a fresh clone may not),
 * and Chromium. A test during which the page's Content-Security-Policy
 * refused anything (a script, a style) fails.
 */
export function browserRig(options: Parameters<typeof wizardHarness>[0] = {}): BrowserRig {
  let app: FastifyInstance | undefined;
  const contexts: BrowserContext[] = [];
  /** What the page's Content-Security-Policy refused (Chromium says it on the console): a test that saw any fails. */
  const refused: string[] = [];
  const rig = {
    newContext: async (contextOptions: BrowserContextOptions = {}) => {
      const context = await rig.browser.newContext({ viewport: { width: 1280, height: 860 }, ...contextOptions });
      context.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
      });
      contexts.push(context);
      return context;
    },
  } as BrowserRig;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      throw new Error(`The browser tests need Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does), or set CHROMIUM_PATH.`);
    }
    if (!fs.existsSync(path.join(WEB_DIST, 'index.html'))) {
      execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'inherit' });
    }
    rig.h = await wizardHarness(options);
    app = buildServer({ prisma: rig.h.prisma, wizard: rig.h.wizard, health: async () => ({ database: true, temporal: true }), config: rig.h.config, logger: false, webDir: WEB_DIST });
    await app.listen({ host: '127.0.0.1', port: 0 });
    rig.base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // playwright gives the browser a fresh temporary profile and removes it on close.
    rig.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterEach(async () => {
    options.pace?.open();
    for (const c of contexts.splice(0)) await c.close();
    const seen = refused.splice(0);
    if (seen.length > 0) throw new Error(`The page's Content-Security-Policy refused:\n${seen.join('\n')}`);
  });

  afterAll(async () => {
    await rig.browser?.close();
    await app?.close();
    await rig.h?.close();
  });

  return rig;
}
