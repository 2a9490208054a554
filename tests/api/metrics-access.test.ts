// GET /metrics on the public API: the wizard gauges cost one GROUP BY over
// every tenant's deletions, so scrapes share one count (WIZARD_GAUGES_MAX_AGE_MS);
// and with METRICS_TOKEN set only a scraper holding it reads the endpoint.
import Fastify from 'fastify';
import { buildServer } from '../../api/server';
import { registerMetrics } from '../../api/metrics';
import type { PrismaClient } from '../../generated/prisma/client';
import { testConfig } from '../support/env';
import { wizardHarness, type WizardHarness } from '../support/wizard';

let h: WizardHarness;
beforeAll(async () => {
  h = await wizardHarness({ worker: false });
});
afterAll(() => h?.close());

type App = { listen(o: { host: string; port: number }): Promise<string>; close(): Promise<unknown> };

/** GET /metrics over HTTP on a listening copy of `app`. */
async function served(app: App) {
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return async (headers: Record<string, string> = {}) => {
    const r = await fetch(`${base}/metrics`, { headers });
    return { statusCode: r.status, headers: Object.fromEntries(r.headers), body: await r.text() };
  };
}

/** The harness's database, counting the raw queries sent through it. */
function countingQueries(prisma: PrismaClient) {
  const counted = { queries: 0 };
  const client = new Proxy(prisma, {
    get(target, key, receiver) {
      if (key === '$queryRaw') {
        return (...args: Parameters<PrismaClient['$queryRaw']>) => {
          counted.queries++;
          return target.$queryRaw(...args);
        };
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { client, counted };
}

test('many scrapes, at once and one after the other, count the wizards once', async () => {
  const { client, counted } = countingQueries(h.prisma);
  const app = Fastify({ logger: false });
  registerMetrics(app, { prisma: client, wizardsMaxAgeMs: 600_000 });
  const get = await served(app);
  try {
    const scrape = async () => {
      const r = await get();
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('# TYPE crm_wizards gauge');
      return r.body;
    };
    await Promise.all(Array.from({ length: 10 }, scrape));
    for (let i = 0; i < 5; i++) await scrape();
    expect(counted.queries).toBe(1);
  } finally {
    await app.close();
  }
});

test('with no time to share (max age 0), each scrape counts again', async () => {
  const { client, counted } = countingQueries(h.prisma);
  const app = Fastify({ logger: false });
  registerMetrics(app, { prisma: client, wizardsMaxAgeMs: 0 });
  const get = await served(app);
  try {
    for (let i = 0; i < 3; i++) expect((await get()).statusCode).toBe(200);
    expect(counted.queries).toBe(3);
  } finally {
    await app.close();
  }
});

describe('METRICS_TOKEN', () => {
  const token = 'metrics-token-0123456789abcdef';
  const server = (overrides: Record<string, string>) =>
    buildServer({
      prisma: h.prisma,
      wizard: h.wizard,
      health: async () => ({ database: true, temporal: true }),
      config: testConfig(overrides),
      logger: false,
      webDir: '/nonexistent',
    });

  test('set: /metrics answers only Bearer <METRICS_TOKEN>; anything else is a 401 problem with no metrics', async () => {
    const app = server({ METRICS_TOKEN: token });
    const get = await served(app);
    try {
      for (const authorization of [undefined, '', 'Bearer', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`, token]) {
        const r = await get(authorization === undefined ? {} : { authorization });
        expect({ authorization, status: r.statusCode }).toEqual({ authorization, status: 401 });
        expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(r.headers['www-authenticate']).toBe('Bearer');
        expect(r.body).not.toContain('crm_wizards');
      }
      const ok = await get({ authorization: `Bearer ${token}` });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('# TYPE crm_wizards gauge');
    } finally {
      await app.close();
    }
  });

  test('unset: /metrics is open (scraped inside the cluster)', async () => {
    const app = server({});
    const get = await served(app);
    try {
      const r = await get();
      expect(r.statusCode).toBe(200);
      expect(r.body).toContain('# TYPE crm_wizards gauge');
    } finally {
      await app.close();
    }
  });

  test('a token too short to guess safely stops the process with what to do', () => {
    expect(() => testConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be at least 16 characters/);
  });
});
