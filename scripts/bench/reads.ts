// `npm run bench -- --reads C`: the read path at scale (issue 14). One route
// after the other, C concurrent clients for --duration seconds each
// (autocannon) on:
//   GET /v1/bench-unknown   no route: the framework's own ceiling (404)
//   GET /v1/deletions/{id}  a wizard whose user holds --leads leads (default 1M)
//   GET /v1/deletions       the list
//   GET /v1/users           the list
// first idle (that wizard's move not started: its total is the live count),
// then while its move runs. Before that, a book of the same size is moved with
// no load at all, so the move's own time with and without the reads compare.
// Last, the layoff day's real read load against a third move of that size:
// PAGES wizard pages open, each reading every 500 ms (PAGES x 2 reads a
// second in all), for the whole move: `pages.moveSlowdown` is what the pages
// cost the move, where `moveSlowdown` is what reads as fast as the API can
// answer cost it.
// On PostgreSQL with DATABASE_URL; without it on the embedded PGlite of `npm start`.
import type { BenchArgs } from './args';
import { coresUsed, cpuSnapshot } from './cpu';
import { load, warmUp, type LoadResult } from './http';
import { setUpBooks, startMove } from './moving';
import { machine, settle, startStack } from './stack';
import type { Log } from '../../infra/logger';
import { percentOf, ratio, round } from './stats';
import { removeBenchWorkspace } from './workspace';

/** Admin pages open at once on the layoff day (issue 14), each polling every 500 ms. */
export const PAGES = 100;
export const PAGE_READS_PER_SEC = 2;

interface Phase {
  baselinePerSec: number;
  deletionPerSec: number;
  deletionP99Ms: number;
  deletionsListPerSec: number;
  usersPerSec: number;
}

export async function readsBench(args: BenchArgs, log: Log): Promise<Record<string, unknown>> {
  const stack = await startStack({ api: true, log });
  const api = stack.apiUrl!;
  const setup = await setUpBooks(stack, args, 4, log).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  try {
    const [aloneId, loadedId, pagedId, aloneAfterId] = setup.deletionIds as [string, string, string, string];
    const C = args.clients;
    const routes = (id: string) => [
      { name: 'baseline', path: '/v1/bench-unknown', expect: [404] },
      { name: 'deletion', path: `/v1/deletions/${id}`, expect: [200] },
      { name: 'deletionsList', path: '/v1/deletions', expect: [200] },
      { name: 'users', path: '/v1/users', expect: [200] },
    ];
    let unexpected = 0;
    const phase = async (
      label: string,
      isDone?: () => boolean,
    ): Promise<Phase & { detail: Record<string, LoadResult>; allDuringMove: boolean; coresUsed: Record<string, Record<string, number>> }> => {
      const detail: Record<string, LoadResult> = {};
      const cores: Record<string, Record<string, number>> = {};
      let allDuringMove = true;
      for (const r of routes(loadedId)) {
        const cpu = cpuSnapshot(stack.cpu);
        const t = performance.now();
        const res = await load({ url: `${api}${r.path}`, connections: C, durationS: args.durationS, token: setup.token, expect: r.expect });
        cores[r.name] = coresUsed(cpu, cpuSnapshot(stack.cpu), performance.now() - t);
        if (isDone?.()) allDuringMove = false;
        detail[r.name] = res;
        unexpected += res.unexpected;
        log(`${label} ${r.name}: ${res.perSec}/s, p50 ${res.p50Ms} ms, p99 ${res.p99Ms} ms${res.unexpected ? `, ${res.unexpected} unexpected (${JSON.stringify(res.statuses)})` : ''}; cores ${JSON.stringify(cores[r.name])}`);
      }
      return {
        baselinePerSec: detail.baseline!.perSec,
        deletionPerSec: detail.deletion!.perSec,
        deletionP99Ms: detail.deletion!.p99Ms,
        deletionsListPerSec: detail.deletionsList!.perSec,
        usersPerSec: detail.users!.perSec,
        detail,
        allDuringMove,
        coresUsed: cores,
      };
    };

    log('warming up the API (unmeasured)');
    await warmUp(routes(loadedId).map((r) => `${api}${r.path}`), { connections: C, seconds: 2, token: setup.token });
    log(`idle: ${C} clients, ${args.durationS} s per route`);
    const idle = await phase('idle');

    log(`a move of ${args.leads.toLocaleString('en-US')} leads with no load, for comparison`);
    const alone = await startMove(stack, setup, aloneId, log);
    const moveAloneMs = await alone.done;
    await settle(stack.prisma, log);

    log(`the same reads while a move of ${args.leads.toLocaleString('en-US')} leads runs`);
    const move = await startMove(stack, setup, loadedId, log);
    const during = await phase('during the move', move.isDone);
    const moveWithReadsMs = await move.done;
    if (!during.allDuringMove) log('the move ended before the reads did: use a shorter --duration (or a bigger --leads)');
    await settle(stack.prisma, log);

    const rate = PAGES * PAGE_READS_PER_SEC;
    log(`${PAGES} pages reading a wizard every ${1000 / PAGE_READS_PER_SEC} ms (${rate}/s in all) while a move of ${args.leads.toLocaleString('en-US')} leads runs`);
    const paged = await startMove(stack, setup, pagedId, log);
    // Rounds of 2 s until the move is done, so the pages cover all of it and little more.
    const rounds: LoadResult[] = [];
    const pagesStarted = performance.now();
    while (!paged.isDone()) {
      rounds.push(await load({ url: `${api}/v1/deletions/${pagedId}`, connections: PAGES, durationS: 2, token: setup.token, expect: [200], overallRate: rate }));
    }
    const pagesS = (performance.now() - pagesStarted) / 1000;
    const movePagedMs = await paged.done;
    unexpected += rounds.reduce((n, r) => n + r.unexpected, 0);
    await settle(stack.prisma, log);
    // The same move once more with no load: the table is not what it was for the first one (three
    // million rows updated since), so the pages' move is compared with the mean of both.
    log(`a last move of ${args.leads.toLocaleString('en-US')} leads with no load, for comparison`);
    const aloneAfterMs = await (await startMove(stack, setup, aloneAfterId, log)).done;
    const pages = {
      pages: PAGES,
      readsPerSec: round(rounds.reduce((n, r) => n + r.requests, 0) / pagesS, 1),
      // The worst of the rounds' p99s (autocannon's histograms are per round).
      p99Ms: Math.max(0, ...rounds.map((r) => r.p99Ms)),
      moveMs: movePagedMs,
      moveAloneAfterMs: aloneAfterMs,
      moveSlowdown: ratio(movePagedMs, (moveAloneMs + aloneAfterMs) / 2),
    };
    log(`pages: ${pages.readsPerSec}/s, p99 ${pages.p99Ms} ms (worst round); the move ${movePagedMs} ms against ${moveAloneMs} and ${aloneAfterMs} ms alone`);
    log(`done on ${machine()}`);
    const { detail: _d1, allDuringMove: _a1, coresUsed: idleCores, ...idleFields } = idle;
    const { detail: _d2, allDuringMove, coresUsed: duringCores, ...duringFields } = during;
    return {
      scenario: 'reads',
      database: stack.embedded ? 'pglite' : 'postgresql',
      clients: C,
      ...idleFields,
      duringMove: { ...duringFields, allDuringMove },
      durationS: args.durationS,
      leads: args.leads,
      deletionPctOfBaseline: percentOf(idle.deletionPerSec, idle.baselinePerSec),
      duringMoveDeletionPctOfBaseline: percentOf(during.deletionPerSec, during.baselinePerSec),
      moveAloneMs,
      moveWithReadsMs,
      moveSlowdown: ratio(moveWithReadsMs, moveAloneMs),
      pages,
      unexpected,
      coresUsed: { idle: idleCores, duringMove: duringCores },
    };
  } finally {
    await removeBenchWorkspace(stack.prisma, setup.workspaceId, log);
    await stack.stop();
  }
}
