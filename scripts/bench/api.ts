// `npm run bench -- --api C`: the API while a move runs. A wizard moves a book
// of --leads leads (default 1,000,000); meanwhile, one route after the other,
// C concurrent clients for --duration seconds each (autocannon) on:
//   GET /v1/health                      the floor (database and Temporal pinged)
//   GET /v1/deletions/{id}              the moving wizard, as its page reads it
//   POST /v1/deletions/{id}/automations a step posted mid-move: 409 from the
//                                       workflow's validator (a Temporal round trip)
// p50/p99 of each, in the same run and under the same move.
import type { BenchArgs } from './args';
import { coresUsed, cpuSnapshot } from './cpu';
import { load, warmUp, type LoadResult } from './http';
import { setUpBooks, startMove } from './moving';
import { machine, startStack, type Log } from './stack';
import { ratio } from './stats';
import { removeBenchWorkspace } from './workspace';

export async function apiBench(args: BenchArgs, log: Log): Promise<Record<string, unknown>> {
  const stack = await startStack({ api: true, log });
  const api = stack.apiUrl!;
  const setup = await setUpBooks(stack, args, 1, log).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  try {
    const id = setup.deletionIds[0]!;
    const C = args.clients;
    const routes: { name: string; path: string; method?: 'POST'; body?: unknown; expect: number[] }[] = [
      { name: 'health', path: '/v1/health', expect: [200] },
      { name: 'deletion', path: `/v1/deletions/${id}`, expect: [200] },
      { name: 'step', path: `/v1/deletions/${id}/automations`, method: 'POST', body: { overrides: [] }, expect: [409] },
    ];
    log('warming up the API (unmeasured)');
    await warmUp([`${api}/v1/health`, `${api}/v1/deletions/${id}`], { connections: C, seconds: 2, token: setup.token });
    log(`moving ${args.leads.toLocaleString('en-US')} leads; meanwhile ${C} clients, ${args.durationS} s per route`);
    const move = await startMove(stack, setup, id, log);
    const out: Record<string, LoadResult & { duringMove: boolean; coresUsed: Record<string, number> }> = {};
    for (const r of routes) {
      const cpu = cpuSnapshot(stack.cpu);
      const t = performance.now();
      const res = await load({ url: `${api}${r.path}`, connections: C, durationS: args.durationS, method: r.method, body: r.body, token: setup.token, expect: r.expect });
      out[r.name] = { ...res, duringMove: !move.isDone(), coresUsed: coresUsed(cpu, cpuSnapshot(stack.cpu), performance.now() - t) };
      log(`${r.name}: ${res.perSec}/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms${res.unexpected ? `, ${res.unexpected} unexpected (${JSON.stringify(res.statuses)})` : ''}`);
    }
    const moveMs = await move.done;
    if (Object.values(out).some((r) => !r.duringMove)) log('the move ended before the load did: use a bigger --leads or a shorter --duration');
    log(`done on ${machine()}`);
    const brief = (r: (typeof out)[string]) => ({
      perSec: r.perSec,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      unexpected: r.unexpected,
      duringMove: r.duringMove,
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
      moveMs,
    };
  } finally {
    await removeBenchWorkspace(stack.prisma, setup.workspaceId, log);
    await stack.stop();
  }
}
