// The worker's Prometheus endpoint (WORKER_METRICS_PORT, default 9464): the
// Temporal SDK runtime's own metrics (task slots, polls, schedule-to-start
// latencies, activity failures: served by the Rust core's exporter on a
// loopback port of its own, which also carries the workflows' own metrics,
// e.g. crm_update_acknowledgements_missed_total) and ours (leads moved, batch
// durations, Node's process metrics), as one scrape.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MoveKind } from '../activities/lead-move/sql';
import { freePort } from '../infra/ports';

export const workerRegistry = new Registry();

const leadsMoved = new Counter({
  name: 'crm_leads_moved_total',
  help: 'Leads handed to their new owner by bulk moves (kind MOVE: step 1; SWEEP: the final sweep at confirm).',
  labelNames: ['kind'],
  registers: [workerRegistry],
});
// Every kind from the start, at 0: a rate or an alert on one reads 0 rather than "no data" until it moves a lead.
for (const kind of ['MOVE', 'SWEEP'] satisfies MoveKind[]) leadsMoved.inc({ kind }, 0);

const batchSeconds = new Histogram({
  name: 'crm_lead_move_batch_seconds',
  help: 'How long one bulk-move batch held its row locks, from its statement to its commit, moves and sweeps alike.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [workerRegistry],
});

let defaultsCollected = false;

/** One committed batch of a bulk move (called by activities/lead-move/engine.ts). */
export function recordLeadBatch(kind: MoveKind, leads: number, seconds: number): void {
  if (leads > 0) leadsMoved.inc({ kind }, leads);
  batchSeconds.observe(seconds);
}

/** The Runtime.install telemetry options that make the SDK's core serve Prometheus on `coreBindAddress` (loopback). */
export function coreTelemetry(coreBindAddress: string) {
  return { metrics: { prometheus: { bindAddress: coreBindAddress, countersTotalSuffix: true, useSecondsForDurations: true } } } as const;
}

/** A free loopback port for the core's exporter (read back by our endpoint only). */
export async function freeLoopbackAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves GET (and HEAD) /metrics on host:port: ours, then the SDK core's (fetched from
 * `coreAddress` on each scrape; left out, with a comment, when it is not up).
 */
export async function serveWorkerMetrics(opts: { host: string; port: number; coreAddress?: string }): Promise<MetricsServer> {
  if (!defaultsCollected) {
    collectDefaultMetrics({ register: workerRegistry, prefix: 'crm_worker_' });
    defaultsCollected = true;
  }
  const server = http.createServer((req, res) => {
    // HEAD as GET without the body (as the API's /metrics, and HTTP, have it): Node's `end` sends none for HEAD.
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    void (async () => {
      let body = await workerRegistry.metrics();
      if (opts.coreAddress) {
        try {
          const core = await fetch(`http://${opts.coreAddress}/metrics`, { signal: AbortSignal.timeout(2_000) });
          body += `\n${await core.text()}`;
        } catch (err) {
          body += `\n# Temporal SDK metrics unavailable: ${(err as Error).message}\n`;
        }
      }
      res.writeHead(200, { 'content-type': workerRegistry.contentType }).end(body);
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
