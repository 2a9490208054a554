// A real worker and a real Temporal client for wizard tests, plus small
// builders of CRM data. Each test file gets its own task queue and its own
// workspace(s), so files run in parallel without seeing each other.
import { randomUUID } from 'node:crypto';
import type { Interceptor } from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { createWizardClient } from '../../client/wizard-client';
import type { WizardApi } from '../../client/types';
import type { Distribution, Role } from '../../domain/schemas';
import type { PrismaClient } from '../../generated/prisma/client';
import type { Config } from '../../infra/config';
import { dataConverter } from '../../infra/codec';
import { createPrisma } from '../../infra/database';
import { createWorker, moveTuning, type WizardWorker } from '../../worker';
import { createActivities } from '../../activities';
import type { MovePace } from './move-pace';
import { testConfig, testEnv } from './env';

export interface WizardHarness {
  config: Config;
  prisma: PrismaClient;
  temporal: Client;
  wizard: WizardApi;
  /** Activities the in-process worker is running now (0 without one): a slice still going shows here. */
  activitiesInFlight(): number;
  /** Stops the in-process worker (when there is one) and closes connections. */
  close(): Promise<void>;
}

/** Worker logs at ERROR (refused inputs are logged as failed activities at WARN) in tests (once per jest worker process; the runtime is a singleton). */
function quietRuntime() {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed by an earlier test file in this process
  }
}

export async function wizardHarness(
  opts: {
    worker?: boolean;
    batchSize?: number;
    /** Every lead-move batch of this harness's worker first passes this gate (see move-pace.ts). */
    pace?: MovePace;
    /** A Temporal server of the test's own (e.g. started with other dynamic config); default the run's. */
    temporalAddress?: string;
    /** Activity interceptors for the worker's activities (a test's gate before one of them, say). */
    activityInterceptors?: ActivityInterceptorsFactory[];
  } = {},
): Promise<WizardHarness> {
  quietRuntime();
  const config = testConfig({
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    // A test that names a batch size gets exactly that size (no adapting), so it can count batches.
    ...(opts.batchSize ? { LEAD_MOVE_BATCH_SIZE: String(opts.batchSize), LEAD_MOVE_BATCH_TARGET_MS: '0' } : {}),
    ...(opts.temporalAddress ? { TEMPORAL_ADDRESS: opts.temporalAddress } : {}),
  });
  const env = testEnv();
  const prisma = createPrisma(env.databaseUrl, { max: 4 });
  const connection = await Connection.connect({ address: opts.temporalAddress ?? env.temporalAddress });
  const temporal = new Client({ connection, namespace: env.namespace, dataConverter: dataConverter(config) });
  let worker: { worker: WizardWorker; close(): Promise<void> } | undefined;
  let running: Promise<void> | undefined;
  // The paced worker's activities: the worker's own (tuning as worker/index.ts sets it), on a client whose batches pass the gate.
  const pacedDb = opts.pace && opts.worker !== false ? createPrisma(env.databaseUrl, { max: 4 + 2 * config.LEAD_MOVE_STREAMS }) : undefined;
  if (opts.worker !== false) {
    worker = await createWorker({
      config,
      databaseUrl: env.databaseUrl,
      workflowBundlePath: env.workflowBundlePath ?? undefined,
      ...(opts.activityInterceptors ? { activityInterceptors: opts.activityInterceptors } : {}),
      ...(pacedDb && opts.pace
        ? {
            options: {
              // One batch a turn: each pass of the gate is one batch.
              activities: createActivities(opts.pace.gate(pacedDb), { ...moveTuning(config), turnMs: 0 }),
            },
          }
        : {}),
    });
    running = worker.worker.run();
  }
  return {
    config,
    prisma,
    temporal,
    // Tests here drive the client directly, sometimes before their worker is up;
    // the 10 s limit is the HTTP contract's, and tests/api/support.ts keeps it.
    wizard: createWizardClient({ temporal, prisma, config, waitLimitMs: 300_000 }),
    activitiesInFlight: () => worker?.worker.getStatus().numInFlightActivities ?? 0,
    async close() {
      if (worker) {
        worker.worker.shutdown();
        await running;
        await worker.close();
      }
      await pacedDb?.$disconnect();
      await connection.close();
      await prisma.$disconnect();
    },
  };
}

/**
 * A wizard client of the harness's database over a Temporal connection of
 * its own, whose gRPC calls pass `interceptors` (a test's server answers:
 * a failure injected, a call held). Close it when done.
 */
export async function interceptedWizard(h: Pick<WizardHarness, 'config' | 'prisma'>, interceptors: Interceptor[], waitLimitMs: number) {
  const connection = await Connection.connect({ address: testEnv().temporalAddress, interceptors });
  const temporal = new Client({ connection, namespace: testEnv().namespace, dataConverter: dataConverter(h.config) });
  return { wizard: createWizardClient({ temporal, prisma: h.prisma, config: h.config, waitLimitMs }), close: () => connection.close() };
}

export interface TestWorkspace {
  id: string;
  slug: string;
  /** Users by handle (`owner`, `admin`, `leaver`, …). */
  users: Record<string, { id: string; email: string; role: Role }>;
}

/** A workspace with the named users (ACTIVE), each with `leads[handle]` leads. */
export async function makeWorkspace(
  prisma: PrismaClient,
  users: Record<string, Role>,
  leads: Record<string, number> = {},
): Promise<TestWorkspace> {
  const slug = `t-${randomUUID().slice(0, 12)}`;
  const ws = await prisma.workspace.create({ data: { slug, name: slug, hookSecret: randomUUID() } });
  const out: TestWorkspace = { id: ws.id, slug, users: {} };
  for (const [handle, role] of Object.entries(users)) {
    const email = `${handle}@${slug}.test`;
    const u = await prisma.user.create({ data: { workspaceId: ws.id, name: handle, email, role } });
    out.users[handle] = { id: u.id, email, role };
  }
  for (const [handle, count] of Object.entries(leads)) await addLeads(prisma, ws.id, out.users[handle]!.id, count);
  return out;
}

/** Inserts `count` leads for one owner in one statement. */
export async function addLeads(prisma: PrismaClient, workspaceId: string, ownerId: string, count: number) {
  await prisma.$executeRaw`
    INSERT INTO leads (workspace_id, owner_id, name, email)
    SELECT ${workspaceId}, ${ownerId}, 'Lead ' || g, 'lead' || g || '@example.test'
    FROM generate_series(1, ${count}::int) AS g`;
}

export async function makeAutomation(prisma: PrismaClient, workspaceId: string, name: string, distribution: Distribution) {
  const a = await prisma.automation.create({
    data: {
      workspaceId,
      name,
      members: { create: distribution.map((m, position) => ({ userId: m.userId, weight: m.weight, position })) },
    },
  });
  return a.id;
}

export async function makeIntegration(prisma: PrismaClient, workspaceId: string, name: string, distribution: Distribution) {
  const i = await prisma.integration.create({
    data: {
      workspaceId,
      name,
      source: 'web-form',
      members: { create: distribution.map((m, position) => ({ userId: m.userId, weight: m.weight, position })) },
    },
  });
  return i.id;
}

export async function makeLabel(
  prisma: PrismaClient,
  workspaceId: string,
  name: string,
  visibility: 'PRIVATE' | 'SHARED' | 'PUBLIC',
  ownerId: string,
  memberIds: string[],
) {
  const l = await prisma.label.create({
    data: {
      workspaceId,
      name,
      visibility,
      ownerId,
      members: { create: memberIds.map((userId, position) => ({ userId, position })) },
    },
  });
  return l.id;
}

/** Lead counts per owner in a workspace. */
export async function leadsByOwner(prisma: Pick<PrismaClient, 'lead'>, workspaceId: string): Promise<Record<string, number>> {
  const rows = await prisma.lead.groupBy({ by: ['ownerId'], where: { workspaceId }, _count: { _all: true } });
  return Object.fromEntries(rows.map((r) => [r.ownerId, r._count._all]));
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The ids of the updates of that name the server has recorded as accepted in the workflow's history, in order. */
export async function acceptedUpdates(temporal: Client, workflowId: string, name: string): Promise<string[]> {
  const events = (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return events
    .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
    .filter((a) => a?.acceptedRequest?.input?.name === name)
    .map((a) => a!.protocolInstanceId!);
}

/**
 * Polls `accepted` until it holds, failing at once should `pending` (the call
 * that sent the update) be answered first: it must still be waiting then.
 */
export async function acceptedWhilePending(pending: Promise<unknown>, accepted: () => Promise<boolean>, what: string): Promise<void> {
  let answer: string | undefined;
  pending.then(
    () => (answer = 'answered'),
    // With the gRPC failure under it, if any: which one the server answered is what a reader needs.
    (err: unknown) => (answer = [err, (err as { cause?: unknown }).cause].filter(Boolean).map(String).join(', caused by ')),
  );
  await eventually(
    async () => {
      const done = await accepted();
      // Checked after the await: a call answered before this helper began has set it by now.
      if (answer !== undefined) throw new Error(`Answered before ${what}: ${answer}`);
      return done ? true : undefined;
    },
    60_000,
    what,
  );
}

/** Waits until the wizard leaves the lead move (state DONE). */
export function moveDone(wizard: WizardApi, workspaceId: string, deletionId: string, timeoutMs = 120_000) {
  return eventually(
    async () => {
      const d = await wizard.get(workspaceId, deletionId);
      return d.leads.state === 'DONE' && d.step !== 'LEADS' ? d : d.status !== 'IN_PROGRESS' ? d : undefined;
    },
    timeoutMs,
    'the lead move to finish',
  );
}

export function finished(wizard: WizardApi, workspaceId: string, deletionId: string, timeoutMs = 120_000) {
  return eventually(
    async () => {
      const d = await wizard.get(workspaceId, deletionId);
      return d.status === 'IN_PROGRESS' ? undefined : d;
    },
    timeoutMs,
    'the wizard to finish',
  );
}

export const asAdmin = (ws: TestWorkspace, handle = 'admin') => ({ type: 'USER' as const, id: ws.users[handle]!.id });

/**
 * A wizard opened for `ws.users[leaver]` and its lead move planned to
 * `distribution`, through the activities alone (no workflow): what a test of
 * the move engine starts from. Returns the wizard's input.
 */
export async function plannedMove(
  activities: Pick<ReturnType<typeof createActivities>, 'openDeletion' | 'startLeadMove'>,
  ws: TestWorkspace,
  deletionId: string,
  distribution: Distribution,
  leaver = 'leaver',
) {
  const input = {
    deletionId,
    workspaceId: ws.id,
    userId: ws.users[leaver]!.id,
    source: 'ADMIN' as const,
    actor: asAdmin(ws),
    reason: null,
    effectiveAt: null,
  };
  await activities.openDeletion(input);
  await activities.startLeadMove({ ...input, kind: 'MOVE', distribution });
  return input;
}

/**
 * A wizard for the workspace's `leaver` (step 1 to `ann`), moved on through the
 * client (as another admin would) to `until`: for tests about one step.
 */
export async function wizardAt(
  h: Pick<WizardHarness, 'wizard'>,
  ws: TestWorkspace,
  until: 'AUTOMATIONS' | 'INTEGRATIONS' | 'CONFIRM',
  opts: { effectiveAt?: Date; reason?: string } = {},
) {
  const { wizard } = h;
  const { deletion } = await wizard.start({
    workspaceId: ws.id,
    userId: ws.users.leaver!.id,
    actor: asAdmin(ws),
    source: opts.effectiveAt ? 'HR' : 'ADMIN',
    ...(opts.effectiveAt ? { effectiveAt: opts.effectiveAt } : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
  });
  await wizard.submitLeads(ws.id, deletion.id, asAdmin(ws), { targetUserId: ws.users.ann!.id });
  await moveDone(wizard, ws.id, deletion.id);
  if (until !== 'AUTOMATIONS') await wizard.submitAutomations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
  if (until === 'CONFIRM') {
    await wizard.submitIntegrations(ws.id, deletion.id, asAdmin(ws), { overrides: [] });
    await wizard.submitLabels(ws.id, deletion.id, asAdmin(ws), { replacements: [] });
  }
  const d = await wizard.get(ws.id, deletion.id);
  expect(d.step).toBe(until);
  return d;
}
