// `npm run bench -- --leads N`: one book, the bulk move against its floors, in
// one run on one database:
//   (a) one bare `UPDATE leads SET owner_id = … WHERE owner_id = …` moving N leads;
//   (b) the wizard's move of another N-lead book, end to end: the lead step sent
//       as a Workflow Update, batches run by a worker in its own process, until
//       the wizard reports the move DONE;
//   (c) the same bare UPDATE split over as many connections as the move has
//       streams (LEAD_MOVE_STREAMS), each on its own id range of a third book:
//       the fastest non-resumable way this machine can move a book.
// The books are seeded by SQL, one after the other, or with `--interleave K`
// together and mixed with other owners' leads so each book is 1 lead in K of its
// id range (books of leads that arrived over time); before each measurement the
// table is vacuumed and a checkpoint forced, so none pays for another's dirty
// pages. The worker's RSS is sampled from /proc while it moves; each batch's
// server-side time is recorded by the worker's probe (p99BatchMs).
import { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { createWizardClient } from '../../client/wizard-client';
import { dataConverter } from '../../infra/codec';
import { ConfigError } from '../../infra/config';
import { connectClient, temporalConnectOptions } from '../../infra/temporal-connection';
import type { BenchArgs } from './args';
import { batchTimesSince } from './batch-times';
import { coresUsed, cpuSnapshot } from './cpu';
import { bareParallelUpdate, seedBooks } from './books';
import { machine, rssMb, settle, startStack } from './stack';
import type { Log } from '../../infra/logger';
import { percentile, ratio } from './stats';

export async function leadsBench(args: BenchArgs, log: Log): Promise<Record<string, unknown>> {
  const { leads, interleave } = args;
  if (!process.env.DATABASE_URL) {
    throw new ConfigError(
      'npm run bench -- --leads needs a real PostgreSQL: set DATABASE_URL (for example `docker compose up -d postgres` and ' +
        'DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/crm, or a local cluster: apt-get install postgresql).',
    );
  }
  const stack = await startStack({ api: false, batch: args.batch, log });
  const { prisma, config } = stack;
  const batch = args.batch ?? config.LEAD_MOVE_BATCH_SIZE;
  const streams = config.LEAD_MOVE_STREAMS;
  const connection = await connectClient(
    temporalConnectOptions({ ...stack.config, TEMPORAL_ADDRESS: stack.temporal.address, TEMPORAL_NAMESPACE: stack.temporal.namespace }),
  );
  const temporal = new Client({ connection, namespace: stack.temporal.namespace, dataConverter: dataConverter(stack.config) });
  const wizard = createWizardClient({ temporal, prisma, config: { TEMPORAL_TASK_QUEUE: stack.temporal.taskQueue } });

  const slug = `bench-${Date.now()}`;
  const ws = await prisma.workspace.create({ data: { slug, name: slug, hookSecret: randomUUID() } });
  try {
    const user = (name: string, role: 'OWNER' | 'ADMIN' | 'MEMBER') =>
      prisma.user.create({ data: { workspaceId: ws.id, name, email: `${name}@${slug}.test`, role } });
    const admin = await user('admin', 'OWNER');
    const bareFrom = await user('bare-leaver', 'MEMBER');
    const wizardFrom = await user('wizard-leaver', 'MEMBER');
    const parallelFrom = await user('parallel-leaver', 'MEMBER');
    const target = await user('target', 'MEMBER');
    const others = await user('others', 'MEMBER');
    const books = [bareFrom.id, wizardFrom.id, parallelFrom.id];

    if (interleave === 1) {
      log(`seeding three books of ${leads.toLocaleString('en-US')} leads, one after the other`);
      await seedBooks(prisma, ws.id, books, leads, log);
    } else {
      // Per K leads: one of each book, the K - 3 others another owner's (round-robin in id order).
      const owners = [...books, ...Array.from({ length: interleave - 3 }, () => others.id)];
      log(`seeding three books of ${leads.toLocaleString('en-US')} leads, each 1 lead in ${interleave} of its id range`);
      const chunk = 100_000;
      const total = leads * owners.length;
      for (let done = 0; done < total; done += chunk) {
        const n = Math.min(chunk, total - done);
        await prisma.$executeRaw`
          INSERT INTO leads (workspace_id, owner_id, name, email)
          SELECT ${ws.id}, (${owners}::text[])[g % ${owners.length} + 1], 'Book lead ' || g, 'book' || g || '@example.test'
          FROM generate_series(${done + 1}::int, ${done + n}::int) AS g`;
        log(`seeded ${(done + n).toLocaleString('en-US')} / ${total.toLocaleString('en-US')} leads`);
      }
    }
    await settle(prisma, log);

    log('(a) one bare UPDATE');
    let cpu = cpuSnapshot(stack.cpu);
    let t = performance.now();
    const bare = await prisma.$executeRaw`
      UPDATE leads SET owner_id = ${target.id} WHERE workspace_id = ${ws.id} AND owner_id = ${bareFrom.id}`;
    const bareUpdateMs = Math.round(performance.now() - t);
    const bareCores = coresUsed(cpu, cpuSnapshot(stack.cpu), bareUpdateMs);
    if (bare !== leads) throw new Error(`bare UPDATE moved ${bare}, expected ${leads}`);
    await settle(prisma, log);

    log('(b) the wizard: start, then time the lead step until the move is DONE');
    const actor = { type: 'USER' as const, id: admin.id };
    const { deletion } = await wizard.start({ workspaceId: ws.id, userId: wizardFrom.id, actor, source: 'ADMIN' });
    const idleRss = rssMb(stack.workerPid) ?? 0;
    let peakRss = idleRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(stack.workerPid) ?? 0)), 100);
    const moveStartedAt = Date.now();
    cpu = cpuSnapshot(stack.cpu);
    t = performance.now();
    await wizard.submitLeads(ws.id, deletion.id, actor, { targetUserId: target.id });
    let lastLog = 0;
    for (;;) {
      const d = await wizard.get(ws.id, deletion.id);
      if (d.leads.state === 'DONE') break;
      if (performance.now() - lastLog > 2_000) {
        log(`moved ${d.leads.moved.toLocaleString('en-US')} / ${d.leads.total.toLocaleString('en-US')}`);
        lastLog = performance.now();
      }
      // Polling is not free on 2 cores (it competes with the worker and PostgreSQL): 200 ms is
      // precise enough against a move of tens of seconds.
      await new Promise((r) => setTimeout(r, 200));
    }
    const wizardMoveMs = Math.round(performance.now() - t);
    const wizardCores = coresUsed(cpu, cpuSnapshot(stack.cpu), wizardMoveMs);
    clearInterval(sampler);
    const move = await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
    const left = await prisma.lead.count({ where: { workspaceId: ws.id, ownerId: wizardFrom.id } });
    if (move.moved !== leads || left !== 0) throw new Error(`wizard moved ${move.moved}, ${left} left behind`);
    await wizard.cancel(ws.id, deletion.id, actor, { reason: 'benchmark' });
    const batchMs = batchTimesSince(stack.batchLog, moveStartedAt);
    if (batchMs.length !== move.batches) {
      log(`the probe saw ${batchMs.length} batches, the move counted ${move.batches} (a batch retried or a probe miss)`);
    }
    await settle(prisma, log);

    log(`(c) the bare UPDATE split over ${streams} connections, one id range each`);
    cpu = cpuSnapshot(stack.cpu);
    const parallel = await bareParallelUpdate(stack.databaseUrl, { workspaceId: ws.id, fromUserId: parallelFrom.id, toUserId: target.id, parts: streams });
    const parallelCores = coresUsed(cpu, cpuSnapshot(stack.cpu), parallel.wallMs);
    log(`cores used: bare ${JSON.stringify(bareCores)}, wizard ${JSON.stringify(wizardCores)}, parallel ${JSON.stringify(parallelCores)}`);
    if (parallel.moved !== leads) throw new Error(`parallel bare UPDATE moved ${parallel.moved}, expected ${leads}`);

    log(`done on ${machine()}`);
    return {
      leads,
      interleave,
      bareUpdateMs,
      wizardMoveMs,
      ratio: ratio(wizardMoveMs, bareUpdateMs),
      peakWorkerRssMb: Math.round(peakRss),
      idleWorkerRssMb: Math.round(idleRss),
      maxBatchMs: move.maxBatchMs,
      batchSizeMax: batch,
      batchTargetMs: config.LEAD_MOVE_BATCH_TARGET_MS,
      streams,
      batches: move.batches,
      bareParallelMs: parallel.ms,
      ratioParallel: ratio(wizardMoveMs, parallel.ms),
      p99BatchMs: percentile(batchMs, 99),
      coresUsed: { bare: bareCores, wizard: wizardCores, parallel: parallelCores },
    };
  } finally {
    await wizard.settled();
    await connection.close();
    log('cleaning up the bench workspace');
    await prisma.workspace.delete({ where: { id: ws.id } }).catch((e: Error) => log(`cleanup failed: ${e.message}`));
    await stack.stop();
  }
}
