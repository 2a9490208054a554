// npm run bench -- [--leads N] [--batch B] [--interleave K]
//
// The bulk lead move against its floor, in one run on one database:
//   (a) one bare `UPDATE leads SET owner_id = … WHERE owner_id = …` moving N leads;
//   (b) the wizard's move of another N-lead book, end to end: the lead step sent
//       as a Workflow Update, batches run by a worker in its own process, until
//       the wizard reports the move DONE.
// Both books are seeded by SQL, one after the other, or with `--interleave K`
// together and mixed with other owners' leads so each book is 1 lead in K of
// its id range (books of leads that arrived over time); before each measurement the table is vacuumed
// and a checkpoint is forced, so neither pays for the other's dirty pages. The worker's
// RSS is sampled from /proc while it moves. The last stdout line is one JSON object.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWizardClient } from '../client/wizard-client';
import { ConfigError, loadConfig, temporalAddress } from '../infra/config';
import { connectClient, temporalConnectOptions } from '../infra/temporal-connection';
import { dataConverter } from '../infra/codec';
import { createPrisma } from '../infra/database';
import { migrate } from '../infra/migrate';
import { findTemporalCli } from '../infra/temporal-cli';
import { startTemporalDevServer } from '../infra/temporal-server';
import { seedBook } from './seed';

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`--${name} needs a positive whole number.`);
  return n;
}

function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

async function main() {
  const leads = arg('leads', 1_000_000);
  const interleave = arg('interleave', 1);
  const base = loadConfig();
  if (!base.DATABASE_URL) {
    throw new ConfigError(
      'npm run bench needs a real PostgreSQL: set DATABASE_URL (for example `docker compose up -d postgres` and ' +
        'DATABASE_URL=postgresql://crm:crm@127.0.0.1:5432/crm, or a local cluster: apt-get install postgresql).',
    );
  }
  const batch = arg('batch', base.LEAD_MOVE_BATCH_SIZE);
  const url = base.DATABASE_URL;
  await migrate(url, log);
  const prisma = createPrisma(url, { max: 4 });

  // Temporal: the configured server, or a dev server of our own for this run.
  let stopTemporal = async () => {};
  let address = base.TEMPORAL_ADDRESS ? temporalAddress(base) : undefined;
  const namespace = base.TEMPORAL_ADDRESS ? base.TEMPORAL_NAMESPACE : 'crm-offboarding-bench';
  if (!address) {
    const cliPath = await findTemporalCli(base, log);
    const server = await startTemporalDevServer({ cliPath, port: 0, uiPort: null, dbFile: null, namespace, log: () => {} });
    address = server.address;
    stopTemporal = server.stop;
  }
  const taskQueue = `bench-${randomUUID()}`;
  // Payloads encrypted as in production: the configured keys, or one for this run.
  const payloadKeys = base.PAYLOAD_ENCRYPTION_KEYS ?? `bench=${randomBytes(32).toString('base64')}`;
  const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-bench-'));
  const bundlePath = path.join(bundleDir, 'workflows.js');
  log('bundling workflows');
  fs.writeFileSync(bundlePath, (await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), workflowInterceptorModules: [require.resolve('../infra/tracing-workflow')], logger: undefined })).code);

  const slug = `bench-${Date.now()}`;
  const ws = await prisma.workspace.create({ data: { slug, name: slug, hookSecret: randomUUID() } });
  const user = (name: string, role: 'OWNER' | 'ADMIN' | 'MEMBER') =>
    prisma.user.create({ data: { workspaceId: ws.id, name, email: `${name}@${slug}.test`, role } });
  const [admin, bareFrom, wizardFrom, target, others] = [
    await user('admin', 'OWNER'),
    await user('bare-leaver', 'MEMBER'),
    await user('wizard-leaver', 'MEMBER'),
    await user('target', 'MEMBER'),
    await user('others', 'MEMBER'),
  ];

  const worker = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../worker/main.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      LEAD_MOVE_BATCH_SIZE: String(batch),
      LEAD_MOVE_BATCH_TARGET_MS: String(base.LEAD_MOVE_BATCH_TARGET_MS),
      LEAD_MOVE_STREAMS: String(base.LEAD_MOVE_STREAMS),
      WORKFLOW_BUNDLE_PATH: bundlePath,
      PAYLOAD_ENCRYPTION_KEYS: payloadKeys,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const connection = await connectClient(temporalConnectOptions({ ...base, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace }));
  const temporal = new Client({ connection, namespace, dataConverter: dataConverter({ PAYLOAD_ENCRYPTION_KEYS: payloadKeys }) });
  const wizard = createWizardClient({ temporal, prisma, config: { TEMPORAL_TASK_QUEUE: taskQueue } });

  try {
    if (interleave === 1) {
      for (const from of [bareFrom, wizardFrom]) {
        log(`seeding ${leads.toLocaleString('en-US')} leads for ${from.name}`);
        await seedBook(prisma, { workspaceId: ws.id, ownerId: from.id, count: leads, log });
      }
    } else {
      // Per K leads: one of each book, the K - 2 others another owner's.
      const owners = [bareFrom.id, wizardFrom.id, ...Array.from({ length: interleave - 2 }, () => others.id)];
      log(`seeding two books of ${leads.toLocaleString('en-US')} leads, each 1 lead in ${interleave} of its id range`);
      await seedBook(prisma, { workspaceId: ws.id, ownerId: owners, count: leads * owners.length, log });
    }
    const settle = async () => {
      await prisma.$executeRawUnsafe('VACUUM ANALYZE leads');
      await prisma.$executeRawUnsafe('CHECKPOINT').catch((e: Error) => log(`no CHECKPOINT (${e.message}): needs a superuser`));
    };
    await settle();

    log('(a) one bare UPDATE');
    let t = performance.now();
    const bare = await prisma.$executeRaw`
      UPDATE leads SET owner_id = ${target.id} WHERE workspace_id = ${ws.id} AND owner_id = ${bareFrom.id}`;
    const bareUpdateMs = Math.round(performance.now() - t);
    if (bare !== leads) throw new Error(`bare UPDATE moved ${bare}, expected ${leads}`);
    await settle();

    log('(b) the wizard: start, then time the lead step until the move is DONE');
    const { deletion } = await wizard.start({
      workspaceId: ws.id,
      userId: wizardFrom.id,
      actor: { type: 'USER', id: admin.id },
      source: 'ADMIN',
    });
    const idleRss = rssMb(worker.pid!) ?? 0;
    let peakRss = idleRss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb(worker.pid!) ?? 0)), 100);
    t = performance.now();
    await wizard.submitLeads(ws.id, deletion.id, { type: 'USER', id: admin.id }, { targetUserId: target.id });
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
    clearInterval(sampler);
    const move = await prisma.leadMove.findUniqueOrThrow({ where: { deletionId_kind: { deletionId: deletion.id, kind: 'MOVE' } } });
    const left = await prisma.lead.count({ where: { workspaceId: ws.id, ownerId: wizardFrom.id } });
    if (move.moved !== leads || left !== 0) throw new Error(`wizard moved ${move.moved}, ${left} left behind`);
    await wizard.cancel(ws.id, deletion.id, { type: 'USER', id: admin.id }, { reason: 'benchmark' });

    const result = {
      leads,
      interleave,
      bareUpdateMs,
      wizardMoveMs,
      ratio: Math.round((wizardMoveMs / bareUpdateMs) * 100) / 100,
      peakWorkerRssMb: Math.round(peakRss),
      idleWorkerRssMb: Math.round(idleRss),
      maxBatchMs: move.maxBatchMs,
      batchSizeMax: batch,
      batchTargetMs: base.LEAD_MOVE_BATCH_TARGET_MS,
      streams: base.LEAD_MOVE_STREAMS,
      batches: move.batches,
    };
    log(`done on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    worker.kill('SIGTERM');
    await connection.close();
    log('cleaning up the bench workspace');
    await prisma.workspace.delete({ where: { id: ws.id } }).catch((e: Error) => log(`cleanup failed: ${e.message}`));
    await prisma.$disconnect();
    await stopTemporal();
    fs.rmSync(bundleDir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : err.stack}\n`);
  process.exit(1);
});
