// A wizard over HTTP whose lead move the api and reads scenarios load the API
// against: a leaver with a book of N leads, a target, an owner's token.
import type { BenchArgs } from './args';
import { seedBooks } from './books';
import { call } from './http';
import { settle, type Stack } from './stack';
import type { Log } from '../../infra/logger';
import { createBenchWorkspace, removeBenchWorkspace } from './workspace';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MovingSetup {
  workspaceId: string;
  token: string;
  /** One wizard per book, started (step LEADS, move PENDING). */
  deletionIds: string[];
  targetId: string;
}

/** `books` leavers of `args.leads` leads each, a wizard started for each over HTTP. */
export async function setUpBooks(stack: Stack, args: BenchArgs, books: number, log: Log): Promise<MovingSetup> {
  const { prisma } = stack;
  const api = stack.apiUrl!;
  const { ws, users, token } = await createBenchWorkspace(stack.prisma, 'api');
  try {
    return await fill();
  } catch (err) {
    await removeBenchWorkspace(prisma, ws.id, log);
    throw err;
  }

  async function fill(): Promise<MovingSetup> {
    const [owner] = await users('owner', 1, 'OWNER');
    const leavers = await users('leaver', books, 'MEMBER');
    const [target] = await users('target', 1, 'MEMBER');
    // More than a page of other users, as in a real workspace.
    await users('member', 60, 'MEMBER');
    const ownerToken = await token(owner!);
    log(`seeding ${books} book(s) of ${args.leads.toLocaleString('en-US')} leads`);
    await seedBooks(prisma, ws.id, leavers, args.leads, log);
    const deletionIds: string[] = [];
    for (const leaver of leavers) {
      const r = await call(api, 'POST', `/v1/users/${leaver}/deletion`, { token: ownerToken, body: { reason: 'bench' } });
      if (r.status !== 201) throw new Error(`starting a wizard answered ${r.status}: ${JSON.stringify(r.body)}`);
      deletionIds.push(r.body.id);
    }
    await settle(prisma, log);
    return { workspaceId: ws.id, token: ownerToken, deletionIds, targetId: target! };
  }
}

export interface RunningMove {
  /** Resolves with the move's wall time (lead step posted → leads DONE). */
  done: Promise<number>;
  isDone(): boolean;
}

/** Posts the lead step of `deletionId` and follows its move in the database (not over the loaded API). */
export async function startMove(stack: Stack, setup: MovingSetup, deletionId: string, log: Log): Promise<RunningMove> {
  const t = performance.now();
  const r = await call(stack.apiUrl!, 'POST', `/v1/deletions/${deletionId}/leads`, { token: setup.token, body: { targetUserId: setup.targetId } });
  if (r.status !== 202) throw new Error(`the lead step answered ${r.status}: ${JSON.stringify(r.body)}`);
  let finished = false;
  const done = (async () => {
    let lastLog = performance.now();
    for (;;) {
      const d = await stack.prisma.deletion.findUniqueOrThrow({ where: { id: deletionId }, select: { step: true, status: true } });
      if (d.step !== 'LEADS' || d.status !== 'IN_PROGRESS') break;
      if (performance.now() - lastLog > 5_000) {
        const m = await stack.prisma.leadMove.findUnique({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } } });
        log(`move: ${(m?.moved ?? 0).toLocaleString('en-US')} / ${(m?.total ?? 0).toLocaleString('en-US')}`);
        lastLog = performance.now();
      }
      await sleep(200);
    }
    finished = true;
    return Math.round(performance.now() - t);
  })();
  // Load starts once batches run (the step's own round trip is not part of "during the move").
  while (!finished) {
    const m = await stack.prisma.leadMove.findUnique({ where: { deletionId_kind: { deletionId, kind: 'MOVE' } }, select: { moved: true } });
    if (m && m.moved > 0) break;
    await sleep(50);
  }
  return { done, isDone: () => finished };
}
