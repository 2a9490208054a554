// The real API server on a real port, over the run's database and Temporal
// dev server (tests/global-setup.ts), plus a tiny HTTP client.
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { ApiDeps } from '../../api/deps';
import { buildServer } from '../../api/server';
import { createApiToken } from '../../infra/tokens';
import type { FastifyInstance } from 'fastify';
import type { PrismaClient } from '../../generated/prisma/client';
import type { WizardApi } from '../../client/types';
import { createWizardClient } from '../../client/wizard-client';
import { wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';

export interface TestApi {
  url: string;
  app: FastifyInstance;
  prisma: PrismaClient;
  wizard: WizardApi;
  harness: WizardHarness;
  close(): Promise<void>;
}

export async function startTestApi(
  opts: {
    worker?: boolean;
    health?: () => Promise<{ database: boolean; temporal: boolean }>;
    logStream?: Writable;
    /** How long a request waits on a wizard before it answers 503 (default: the client's 10 s). */
    wizardWaitMs?: number;
    /** Where the API reaches Temporal (default: the run's server). */
    temporalAddress?: string;
    /** Activity interceptors for the worker (a test's gate). */
    activityInterceptors?: ActivityInterceptorsFactory[];
  } = {},
): Promise<TestApi> {
  const harness = await wizardHarness({
    worker: opts.worker ?? false,
    ...(opts.temporalAddress ? { temporalAddress: opts.temporalAddress } : {}),
    ...(opts.activityInterceptors ? { activityInterceptors: opts.activityInterceptors } : {}),
  });
  // The API's own client: waits on a wizard as long as the contract says (10 s), or as a test asks.
  const wizard = createWizardClient({
    temporal: harness.temporal,
    prisma: harness.prisma,
    config: harness.config,
    ...(opts.wizardWaitMs !== undefined ? { waitLimitMs: opts.wizardWaitMs } : {}),
  });
  const { app, url } = await listenTestServer(
    { prisma: harness.prisma, wizard, config: harness.config },
    {
      ...(opts.health ? { health: opts.health } : {}),
      ...(opts.logStream ? { logger: { level: 'info', stream: opts.logStream } } : {}),
    },
  );
  return {
    url,
    app,
    prisma: harness.prisma,
    wizard,
    harness,
    async close() {
      await app.close();
      await wizard.settled();
      await harness.close();
    },
  };
}

/**
 * The real API server over a harness's database, wizard client and config, on a
 * free loopback port; `deps` adds or overrides what a test needs.
 */
export async function listenTestServer(
  harness: Pick<WizardHarness, 'prisma' | 'wizard' | 'config'>,
  deps: Partial<ApiDeps> = {},
): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildServer({
    prisma: harness.prisma,
    wizard: harness.wizard,
    health: async () => ({ database: true, temporal: true }),
    config: harness.config,
    logger: false,
    webDir: '/nonexistent',
    ...deps,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

export interface Answer<T = any> {
  status: number;
  contentType: string;
  headers: Headers;
  body: T;
  text: string;
}

export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>;

/** A client acting with `token` (or none). Bodies that are strings or bytes are sent as they are. */
export function client(url: string, token?: string): Call {
  return async (method, path, body, headers = {}) => {
    const h: Record<string, string> = { ...headers };
    if (token !== undefined && !('authorization' in h)) h.authorization = `Bearer ${token}`;
    let payload: string | Uint8Array | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
      if (!('content-type' in h)) h['content-type'] = 'application/json';
    }
    const res = await fetch(url + path, { method, headers: h, ...(payload !== undefined ? { body: payload } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', headers: res.headers, body: parsed, text };
  };
}

export async function tokenOf(prisma: PrismaClient, ws: TestWorkspace, handle: string): Promise<string> {
  return createApiToken(prisma, { workspaceId: ws.id, userId: ws.users[handle]!.id, label: `test ${handle}` });
}

/** Asserts an RFC 9457 problem with this status. */
export function expectProblem(answer: Answer, status: number): void {
  if (answer.status !== status) {
    throw new Error(`expected ${status}, got ${answer.status}: ${answer.text.slice(0, 500)}`);
  }
  expect(answer.contentType).toMatch(/^application\/problem\+json/);
  expect(answer.body).toEqual(
    expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }),
  );
}

/** Follows nextCursor until null, collecting every item. */
export async function allPages(call: Call, path: string, limit: number): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  for (let page = 0; page < 10_000; page++) {
    const r = await call('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    if (cursor === null) return items;
  }
  throw new Error('too many pages');
}
