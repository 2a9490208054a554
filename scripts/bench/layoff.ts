// `npm run bench -- --layoff U --leads-per-user K`: the layoff day, over HTTP
// against a real API server and worker, in one run on one database:
//   1. U signed HR offboardings sent at once: time until every leaver is frozen
//      (no longer ACTIVE), each hook call's latency, errors;
//   2. one bare UPDATE moving the books (U x K leads) of another U users, then
//      U admins each posting the lead step of one wizard at once (one target
//      each): time until every move is done, against that UPDATE;
//   3. every wizard through automations, integrations, labels and CONFIRM, all
//      wizards at once, until each is COMPLETED.
// Leaver i is in automation i (with colleague i: a suggestion), alone in
// integration i (a replacement is named: colleague i), and owns shared label i.
// Errors: every answer outside the contract's success for the call (503s
// included: the client then checks and retries as api.md says) and every
// wizard that did not complete.
import { signHookBody } from '../../api/hook-signature';
import type { Step } from '../../domain/schemas';
import { STEP_ORDER } from '../../domain/wizard-state';
import type { BenchArgs } from './args';
import { batchesSince } from './batch-times';
import { coresUsed, cpuSnapshot } from './cpu';
import { bareUpdate, seedBooks } from './books';
import { call, type Answer } from './http';
import { machine, settle, startStack } from './stack';
import type { Log } from '../../infra/logger';
import { percentile, ratio, round } from './stats';
import { requestsBetween, temporalRequests } from './temporal-requests';
import { createBenchWorkspace, removeBenchWorkspace } from './workspace';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `done()` every `everyMs` until it is true; throws after `timeoutMs`. */
export async function waitFor(what: string, done: () => Promise<boolean>, opts: { everyMs?: number; timeoutMs?: number; log?: Log; progress?: () => Promise<string> } = {}) {
  const deadline = Date.now() + (opts.timeoutMs ?? 30 * 60_000);
  let lastLog = Date.now();
  for (;;) {
    if (await done()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (opts.log && opts.progress && Date.now() - lastLog > 5_000) {
      opts.log(`${what}: ${await opts.progress()}`);
      lastLog = Date.now();
    }
    await sleep(opts.everyMs ?? 100);
  }
}

export async function layoffBench(args: BenchArgs, log: Log): Promise<Record<string, unknown>> {
  const U = args.users;
  const K = args.leadsPerUser;
  const stack = await startStack({ api: true, log });
  const { prisma } = stack;
  const api = stack.apiUrl!;
  const { ws, slug, users, token } = await createBenchWorkspace(prisma, 'layoff');
  let errors = 0;
  const errorKinds = new Map<string, number>();
  const fail = (what: string) => {
    errors++;
    errorKinds.set(what, (errorKinds.get(what) ?? 0) + 1);
  };
  try {
    log(`workspace ${slug}: ${U} leavers of ${K.toLocaleString('en-US')} leads, ${U} colleagues, ${U} admins, ${U} + ${U} users for the bare UPDATE`);
    const [owner] = await users('owner', 1, 'OWNER');
    const admins = await users('admin', U, 'ADMIN');
    const leavers = await users('leaver', U, 'MEMBER');
    const colleagues = await users('colleague', U, 'MEMBER');
    const bareFrom = await users('bare-from', U, 'MEMBER');
    const bareTo = await users('bare-to', U, 'MEMBER');
    void owner;
    const tokens = await Promise.all(admins.map(token));
    const integrations: string[] = [];
    for (let i = 0; i < U; i++) {
      const [leaver, colleague] = [leavers[i]!, colleagues[i]!];
      await prisma.automation.create({
        data: { workspaceId: ws.id, name: `Routing ${i}`, members: { create: [{ userId: leaver, weight: 50, position: 0 }, { userId: colleague, weight: 50, position: 1 }] } },
      });
      const integ = await prisma.integration.create({
        data: { workspaceId: ws.id, name: `Source ${i}`, source: 'bench', members: { create: [{ userId: leaver, weight: 100, position: 0 }] } },
      });
      integrations.push(integ.id);
      await prisma.label.create({
        data: { workspaceId: ws.id, name: `Team ${i}`, visibility: 'SHARED', ownerId: leaver, members: { create: [{ userId: colleague, position: 0 }] } },
      });
    }
    log(`seeding ${(2 * U * K).toLocaleString('en-US')} leads`);
    await seedBooks(prisma, ws.id, [...leavers, ...bareFrom], K, log);
    await settle(prisma, log);

    // 1. HR offboards everyone at once.
    log(`1. ${U} signed HR offboardings at once`);
    const emails = leavers.map((_, i) => `leaver-${i}@${slug}.test`);
    const hookCpu = cpuSnapshot(stack.cpu);
    const hookStart = performance.now();
    const frozen = waitFor(
      'every leaver frozen',
      async () => (await prisma.user.count({ where: { id: { in: leavers }, status: { not: 'ACTIVE' } } })) === U,
      { everyMs: 50, timeoutMs: 10 * 60_000 },
    ).then(() => performance.now() - hookStart);
    const hooks = await Promise.all(
      emails.map((email, i) => {
        const raw = JSON.stringify({ email, employeeId: `E-${i}` });
        return call(api, 'POST', `/v1/hooks/${slug}/offboarding`, { body: raw, headers: { 'x-signature': signHookBody(ws.hookSecret, raw) } }).catch(
          (e: Error): Answer => ({ status: 0, body: e.message, ms: performance.now() - hookStart, retryAfterS: null }),
        );
      }),
    );
    for (const h of hooks) if (h.status !== 202) fail(`hook ${h.status}`);
    const allFrozenMs = Math.round(await frozen);
    const hooksCores = coresUsed(hookCpu, cpuSnapshot(stack.cpu), allFrozenMs);
    const hookMs = hooks.map((h) => h.ms);
    log(`frozen in ${allFrozenMs} ms; hook p50 ${round(percentile(hookMs, 50)!)} ms, p99 ${round(percentile(hookMs, 99)!)} ms`);
    const deletionIds = await Promise.all(
      leavers.map(async (userId) => (await prisma.deletion.findFirstOrThrow({ where: { workspaceId: ws.id, userId }, select: { id: true } })).id),
    );

    // 2. The floor: one bare UPDATE of another U x K leads.
    await settle(prisma, log);
    log(`2. one bare UPDATE of ${(U * K).toLocaleString('en-US')} leads (${U} owners)`);
    const bare = await bareUpdate(prisma, ws.id, bareFrom.map((from, i) => ({ from, to: bareTo[i]! })));
    if (bare.moved !== U * K) throw new Error(`bare UPDATE moved ${bare.moved}, expected ${U * K}`);
    await settle(prisma, log);

    log(`2. ${U} lead steps at once`);
    // When each wizard left step LEADS (its move done), seen by polling from the first POST on.
    const movedAt = new Map<string, number>();
    const moveRequests = await temporalRequests(stack.workerMetricsUrl);
    const moveCpu = cpuSnapshot(stack.cpu);
    const moveStartedAt = Date.now();
    const moveStart = performance.now();
    // Timed when the last move is seen done, even should that be before the last lead step is answered.
    const allMoved = waitFor(
      'every move done',
      async () => {
        const rows = await prisma.deletion.findMany({
          where: { id: { in: deletionIds }, OR: [{ step: { not: 'LEADS' } }, { status: { not: 'IN_PROGRESS' } }] },
          select: { id: true },
        });
        const now = performance.now() - moveStart;
        for (const r of rows) if (!movedAt.has(r.id)) movedAt.set(r.id, now);
        return movedAt.size === U;
      },
      {
        log,
        progress: async () => {
          const m = await prisma.leadMove.aggregate({ where: { deletionId: { in: deletionIds }, kind: 'MOVE' }, _sum: { moved: true } });
          return `${(m._sum.moved ?? 0).toLocaleString('en-US')} / ${(U * K).toLocaleString('en-US')} leads moved, ${movedAt.size} / ${U} moves done`;
        },
      },
    ).then(() => ({ ms: Math.round(performance.now() - moveStart), cpu: cpuSnapshot(stack.cpu) }));
    const leadStepMs = await Promise.all(
      deletionIds.map(async (id, i) => {
        const t = performance.now();
        await step(api, tokens[i]!, id, 'leads', { targetUserId: colleagues[i]! }, 202, fail);
        return performance.now() - t;
      }),
    );
    // The moves' phase in two: until the last lead step is answered (the steps' round trips hold most of
    // the machine, beside the moves begun meanwhile), and after (the moves, and each wizard's end of step).
    const answeredMs = Math.round(performance.now() - moveStart);
    const answeredCpu = cpuSnapshot(stack.cpu);
    const { ms: allMovedMs, cpu: movedCpu } = await allMoved;
    // The worker's requests to Temporal while the moves ran (the lead steps, the slices and their heartbeats, the ends of step).
    const movesRequests = requestsBetween(moveRequests, await temporalRequests(stack.workerMetricsUrl));
    log(`the worker's requests to Temporal during the moves: ${JSON.stringify(movesRequests)}`);
    const movesCores = coresUsed(moveCpu, movedCpu, allMovedMs);
    const leadStepsCores = coresUsed(moveCpu, answeredCpu, answeredMs);
    // null when every move was done before the last answer (small books, or answers retried after a 503).
    const afterAnswersCores = allMovedMs > answeredMs ? coresUsed(answeredCpu, movedCpu, allMovedMs - answeredMs) : null;
    log(`cores used: hooks ${JSON.stringify(hooksCores)}, moves ${JSON.stringify(movesCores)}`);
    log(`  of the moves: until the last lead step was answered (${answeredMs} ms) ${JSON.stringify(leadStepsCores)}, after it ${JSON.stringify(afterAnswersCores)}`);
    const moves = await prisma.leadMove.findMany({ where: { deletionId: { in: deletionIds }, kind: 'MOVE' } });
    const moved = moves.reduce((s, m) => s + m.moved, 0);
    if (moved !== U * K) log(`the moves moved ${moved}, expected ${U * K}`);
    const batches = batchesSince(stack.batchLog, moveStartedAt);
    const batchMs = batches.map((b) => Math.ceil(b.ms));
    // When the longest batches ran (their end, after the POSTs): a long one is the machine's busiest moment.
    const longest = [...batches].sort((a, b) => b.ms - a.ms).slice(0, 5);
    log(`longest batches: ${longest.map((b) => `${Math.ceil(b.ms)} ms${b.leads !== undefined ? ` for ${b.leads} leads` : ''} (ended ${b.at - moveStartedAt} ms in)`).join(', ')}`);
    // Where the time went: each move's plan is written by its first activity (lead_moves.started_at).
    const planStartedMs = moves.map((m) => m.startedAt.getTime() - moveStartedAt);
    const doneMs = [...movedAt.values()];
    log(`moved in ${allMovedMs} ms (bare UPDATE ${bare.ms} ms); lead step answered p50 ${round(percentile(leadStepMs, 50)!)} ms, p99 ${round(percentile(leadStepMs, 99)!)} ms; plans written ${round(percentile(planStartedMs, 50)!)} ms (p50) to ${Math.max(...planStartedMs)} ms (last) after the POSTs; moves done from ${round(Math.min(...doneMs))} ms, p50 ${round(percentile(doneMs, 50)!)} ms`);

    // 3. Every wizard to the end, all at once.
    log(`3. ${U} wizards through automations, integrations, labels and CONFIRM at once`);
    const finishStart = performance.now();
    await Promise.all(
      deletionIds.map(async (id, i) => {
        const t = tokens[i]!;
        if (!(await step(api, t, id, 'automations', { overrides: [] }, 200, fail))) return;
        const integration = { integrationId: integrations[i]!, distribution: [{ userId: colleagues[i]!, weight: 100 }] };
        if (!(await step(api, t, id, 'integrations', { overrides: [integration] }, 200, fail))) return;
        if (!(await step(api, t, id, 'labels', { replacements: [] }, 200, fail))) return;
        await step(api, t, id, 'confirm', { confirmation: 'CONFIRM' }, 202, fail);
      }),
    );
    const ended = () => prisma.deletion.count({ where: { id: { in: deletionIds }, status: { not: 'IN_PROGRESS' } } });
    await waitFor('every wizard ended', async () => (await ended()) === U, { timeoutMs: 10 * 60_000, log, progress: async () => `${await ended()} / ${U}` }).catch(
      (e: Error) => log(e.message),
    );
    const finishMs = Math.round(performance.now() - finishStart);
    const completed = await prisma.deletion.count({ where: { id: { in: deletionIds }, status: 'COMPLETED' } });
    for (let i = completed; i < U; i++) fail('wizard not completed');
    if (errorKinds.size) log(`errors: ${[...errorKinds].map(([k, n]) => `${k} x${n}`).join(', ')}`);
    log(`done on ${machine()}`);
    return {
      scenario: 'layoff',
      users: U,
      leadsPerUser: K,
      hookP50Ms: round(percentile(hookMs, 50)!),
      hookP99Ms: round(percentile(hookMs, 99)!),
      allFrozenMs,
      allMovedMs,
      bareUpdateMs: bare.ms,
      ratio: ratio(allMovedMs, bare.ms),
      maxBatchMs: Math.max(0, ...moves.map((m) => m.maxBatchMs)),
      completed,
      errors,
      p99BatchMs: percentile(batchMs, 99),
      batches: moves.reduce((s, m) => s + m.batches, 0),
      finishMs,
      leadStepP50Ms: round(percentile(leadStepMs, 50)!),
      leadStepP99Ms: round(percentile(leadStepMs, 99)!),
      planStartedP50Ms: percentile(planStartedMs, 50),
      planStartedMaxMs: Math.max(...planStartedMs),
      firstMovedMs: round(Math.min(...doneMs)),
      medianMovedMs: round(percentile(doneMs, 50)!),
      coresUsed: { hooks: hooksCores, moves: movesCores, leadSteps: leadStepsCores, afterAnswers: afterAnswersCores },
      temporalRequests: { moves: movesRequests },
      allAnsweredMs: answeredMs,
      database: stack.embedded ? 'pglite' : 'postgresql',
    };
  } finally {
    await removeBenchWorkspace(prisma, ws.id, log);
    await stack.stop();
  }
}

/** The step each route posts. */
const STEP_OF: Record<string, Step> = { leads: 'LEADS', automations: 'AUTOMATIONS', integrations: 'INTEGRATIONS', labels: 'LABELS', confirm: 'CONFIRM' };

/** Whether the wizard as read shows `name` applied. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function stepApplied(d: any, name: string): boolean {
  if (d.status !== 'IN_PROGRESS') return name === 'confirm' ? d.status === 'COMPLETED' : true;
  if (name === 'leads') return d.leads?.state !== 'PENDING';
  return STEP_ORDER.indexOf(d.step) > STEP_ORDER.indexOf(STEP_OF[name]!);
}

/**
 * Posts one step as an admin's page does, and as api.md says to: on 503 (the
 * wizard did not answer within 10 s) or a 409 (another change still being
 * applied), read the wizard until it shows the step applied, for up to 30 s,
 * then post again. Every answer outside `ok` counts as an error. True when the
 * step was applied (within 10 minutes).
 */
async function step(api: string, token: string, id: string, name: string, body: unknown, ok: number, fail: (what: string) => void): Promise<boolean> {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const r = await call(api, 'POST', `/v1/deletions/${id}/${name}`, { token, body }).catch(
      (e: Error): Answer => ({ status: 0, body: e.message, ms: 0, retryAfterS: null }),
    );
    if (r.status === ok) return true;
    fail(`${name} ${r.status}`);
    if (r.status !== 503 && r.status !== 409 && r.status !== 0) return false;
    await sleep(r.status === 503 ? (r.retryAfterS ?? 1) * 1_000 : 1_000);
    for (let looked = 0; looked < 30; looked++) {
      const d = await call(api, 'GET', `/v1/deletions/${id}`, { token }).catch(() => null);
      if (d?.status === 200 && stepApplied(d.body, name)) return true;
      await sleep(1_000);
    }
  }
  return false;
}
