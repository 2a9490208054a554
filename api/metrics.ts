// The API's Prometheus endpoint, GET /metrics (counts only, no personal data,
// no workspace labels; with METRICS_TOKEN set it answers only
// `Authorization: Bearer <METRICS_TOKEN>`), with prom-client: HTTP requests
// per route pattern, Node's process metrics, and ours:
//   crm_wizards{status,step}              wizards in the deletions table (read on scrape, at
//                                         most WIZARD_GAUGES_MAX_AGE_MS old: one query however
//                                         many scrapers)
//   crm_wizards_attention{status,step}    of those, with `attention` set in their state
//   crm_hr_offboardings_received_total{source,result}
//                                         HR offboardings received (the signed hook; SCIM)
//
// HTTP durations are observed in onResponse from Fastify's own clock
// (reply.elapsedTime, from the start of onRequest), so requests refused by
// the auth hook (401/403) are measured too, and when the client closed the
// connection first (an event stream left, a request given up: 499).
// fastify-metrics was tried: its timer starts in an onRequest hook that runs
// after ours, so it never saw a refused request.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PrismaClient } from '../generated/prisma/client';
import { HttpProblem } from './problems';

/** Module-wide, so any route (the hook, SCIM) can count into it; every server's registry includes it. */
const hrOffboardings = new Counter({
  name: 'crm_hr_offboardings_received_total',
  help: 'HR offboardings received, by channel (hook, scim) and result (accepted, unauthorized, unknown_user, refused, error).',
  labelNames: ['source', 'result'],
  registers: [],
});

export type OffboardingResult = 'accepted' | 'unauthorized' | 'unknown_user' | 'refused' | 'error';

/** Counts one HR offboarding request. */
export function recordHrOffboarding(source: 'hook' | 'scim', result: OffboardingResult): void {
  hrOffboardings.inc({ source, result });
}

/** An HTTP status as an offboarding result. */
export function offboardingResult(status: number): OffboardingResult {
  if (status >= 200 && status < 300) return 'accepted';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'unknown_user';
  if (status < 500) return 'refused';
  return 'error';
}

const HOOK_ROUTE = '/v1/hooks/:workspaceSlug/offboarding';

/**
 * The wizard gauges count every tenant's deletions (a GROUP BY over the
 * table): a scrape within this many milliseconds of the last count shows that
 * count, so any number of scrapers (several Prometheus replicas, a public
 * caller in a loop) costs one query per interval.
 */
export const WIZARD_GAUGES_MAX_AGE_MS = 5_000;

/** Whether an Authorization header carries `Bearer <token>`, compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  // Hashes have one length, so neither the comparison nor its refusal reveals the token's.
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}

/** Registers on the root instance, before the routes, so its hooks see every route. */
export function registerMetrics(
  app: FastifyInstance,
  deps: {
    prisma: PrismaClient;
    /** When set, GET /metrics requires `Authorization: Bearer <token>` (config METRICS_TOKEN). */
    token?: string | undefined;
    /** Oldest wizard count a scrape may show (default WIZARD_GAUGES_MAX_AGE_MS). */
    wizardsMaxAgeMs?: number;
  },
): void {
  const maxAgeMs = deps.wizardsMaxAgeMs ?? WIZARD_GAUGES_MAX_AGE_MS;
  // One registry per server (tests build many servers in one process).
  const registry = new Registry();
  registry.registerMetric(hrOffboardings);

  const wizards = new Gauge({ name: 'crm_wizards', help: 'Wizards by status and step.', labelNames: ['status', 'step'], registers: [registry] });
  const attention = new Gauge({
    name: 'crm_wizards_attention',
    help: 'Wizards whose state has `attention` set (a step a person must look at), by status and step.',
    labelNames: ['status', 'step'],
    registers: [registry],
  });
  // Both are read in one query when either is collected (a scrape collects both); scrapes
  // meanwhile (the query running included) share it, for `maxAgeMs` from when it began.
  let reading: { begun: number; running: boolean; done: Promise<void> } | null = null;
  const read = () => {
    const now = Date.now();
    if (reading && (reading.running || now - reading.begun < maxAgeMs)) return reading.done;
    const entry = {
      begun: now,
      running: true,
      done: (async () => {
        const rows = await deps.prisma.$queryRaw<{ status: string; step: string; n: number; attention: number }[]>`
          SELECT status::text, step::text, count(*)::int AS n,
                 count(*) FILTER (WHERE jsonb_typeof(state->'attention') IS DISTINCT FROM 'null' AND state ? 'attention')::int AS attention
          FROM deletions GROUP BY status, step`;
        wizards.reset();
        attention.reset();
        for (const r of rows) {
          wizards.set({ status: r.status, step: r.step }, r.n);
          attention.set({ status: r.status, step: r.step }, r.attention);
        }
      })(),
    };
    reading = entry;
    entry.done.then(
      () => {
        entry.running = false;
      },
      () => {
        // A failed count is not shared: the next scrape tries again.
        if (reading === entry) reading = null;
      },
    );
    return entry.done;
  };
  Object.assign(wizards, { collect: read });
  Object.assign(attention, { collect: read });

  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status, from the first hook to the response.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const observed = new WeakSet<FastifyRequest>();
  const observe = (request: FastifyRequest, statusCode: number, seconds: number) => {
    if (observed.has(request)) return;
    observed.add(request);
    // Unmatched URLs share one label: no unbounded label values.
    httpDuration.observe({ method: request.method, route: request.routeOptions.url ?? '(unmatched)', status_code: String(statusCode) }, seconds);
  };
  app.addHook('onResponse', async (request, reply) => {
    observe(request, reply.statusCode, reply.elapsedTime / 1000);
    if (request.routeOptions.url === HOOK_ROUTE && request.method === 'POST') recordHrOffboarding('hook', offboardingResult(reply.statusCode));
  });
  // Fastify runs onResponse when a response finishes: one the client went away from first (an event stream
  // the page closed, a request abandoned before its answer) is observed when its connection closes, with the
  // status it was sent with, or 499 (client closed request, as nginx logs it) if none was.
  app.addHook('onRequest', async (request, reply) => {
    const res = reply.raw;
    res.once('close', () => {
      if (!res.writableFinished) observe(request, res.headersSent ? res.statusCode : 499, reply.elapsedTime / 1000);
    });
  });

  // buildServer registers this before @fastify/swagger loads, so the plugin never sees it: api/server.ts describes it.
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    if (deps.token !== undefined && !bearerMatches(request.headers.authorization, deps.token)) {
      throw new HttpProblem(401, 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>.', { 'www-authenticate': 'Bearer' });
    }
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
