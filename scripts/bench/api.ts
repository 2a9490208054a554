// `npm run bench -- --api C`: the API while a move runs. For each route in
// turn, a wizard starts moving a book of its own of --leads leads (default
// 1,000,000), and once its batches run, C concurrent clients load the route
// for --duration seconds (autocannon); the next route waits for that move to
// end and gets a fresh one, so every route is measured under a move however
// fast moves get. The routes:
//   GET /v1/health                      the floor (a shared check of the database and Temporal)
//   GET /v1/deletions/{id}              the moving wizard, as its page reads it
//   POST /v1/deletions/{id}/automations a step posted mid-move: 409 from the
//                                       workflow's validator (a Temporal round trip)
// p50/p99 of each, in the same run, each under a move of its own.
import type { BenchArgs } from './args';
import { coresUsed, cpuSnapshot } from './cpu';
import { load, warmUp, type LoadResult } from './http';
import { setUpBooks, startMove } from './moving';
import { machine, startStack } from './stack';
import type { Log } from '../../infra/logger';
import { ratio } from './stats';
import { removeBenchWorkspace } from './workspace';

export async function apiBench(args: BenchArgs, log: Log): Promise<Record<string, unknown>> {
  const stack = await startStack({ api: true, log });
  const api = stack.apiUrl!;
  const routes: { name: 'health' | 'deletion' | 'step'; path: (id: string) => string; method?: 'POST'; body?: unknown; expect: number[] }[] = [
    { name: 'health', path: () => '/v1/health', expect: [200] },
    { name: 'deletion', path: (id) => `/v1/deletions/${id}`, expect: [200] },
    { name: 'step', path: (id) => `/v1/deletions/${id}/automations`, method: 'POST', body: { overrides: [] }, expect: [409] },
  ];
  const setup = await setUpBooks(stack, args, routes.length, log).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  try {
    const C = args.clients;
    log('warming up the API (unmeasured)');
    await warmUp([`${api}/v1/health`, `${api}/v1/deletions/${setup.deletionIds[0]!}`], { connections: C, seconds: 2, token: setup.token });
    const out: Record<string, LoadResult & { duringMove: boolean; moveMs: number; coresUsed: Record<string, number> }> = {};
    for (const [i, r] of routes.entries()) {
      const id = setup.deletionIds[i]!;
      log(`${r.name}: moving ${args.leads.toLocaleString('en-US')} leads; meanwhile ${C} clients for ${args.durationS} s`);
      const move = await startMove(stack, setup, id, log);
      move.done.catch(() => {}); // awaited below; a load that throws first must not leave it unhandled
      const cpu = cpuSnapshot(stack.cpu);
      const t = performance.now();
      const res = await load({ url: `${api}${r.path(id)}`, connections: C, durationS: args.durationS, method: r.method, body: r.body, token: setup.token, expect: r.expect });
      const duringMove = !move.isDone();
      const used = coresUsed(cpu, cpuSnapshot(stack.cpu), performance.now() - t);
      out[r.name] = { ...res, duringMove, coresUsed: used, moveMs: await move.done };
      log(`${r.name}: ${res.perSec}/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms${res.unexpected ? `, ${res.unexpected} unexpected (${JSON.stringify(res.statuses)})` : ''}`);
    }
    if (Object.values(out).some((r) => !r.duringMove)) log('a move ended before its route\'s load did: use a bigger --leads or a shorter --duration');
    log(`done on ${machine()}`);
    const brief = (r: (typeof out)[string]) => ({
      perSec: r.perSec,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      unexpected: r.unexpected,
      duringMove: r.duringMove,
      moveMs: r.moveMs,
      coresUsed: r.coresUsed,
    });
    return {
      scenario: 'api',
      database: stack.embedded ? 'pglite' : 'postgresql',
      clients: C,
      durationS: args.durationS,
      leads: args.leads,
      health: brief(out.health!),
      deletion: brief(out.deletion!),
      step: brief(out.step!),
      deletionP99VsHealth: ratio(out.deletion!.p99Ms, out.health!.p99Ms),
      stepP99VsHealth: ratio(out.step!.p99Ms, out.health!.p99Ms),
      // The move the target's reads ran under (each route's own: moveMs in it).
      moveMs: out.deletion!.moveMs,
    };
  } finally {
    await removeBenchWorkspace(stack.prisma, setup.workspaceId, log);
    await stack.stop();
  }
}
