// The worker process's log, as an aggregator reads it: one JSON object a
// line on stdout, the Temporal SDK's lines (workflows', activities', its
// core's) among them with the workflow they belong to, and nothing of the
// wizard's personal data.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { spawnWorkerProcess } from '../support/worker-process';
import { asAdmin, eventually, makeWorkspace, wizardHarness, type WizardHarness } from '../support/wizard';
import { runWholeWizard } from './wizard-run';

let h: WizardHarness;
let worker: ChildProcess | undefined;
let out = '';
let err = '';

beforeAll(async () => {
  h = await wizardHarness({ worker: false, batchSize: 500 });
  worker = spawnWorkerProcess(h.config.TEMPORAL_TASK_QUEUE, { LEAD_MOVE_BATCH_SIZE: '500', LOG_LEVEL: 'info' }, 'pipe');
  worker.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  worker.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
});

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker!.once('exit', resolve));
  }
  await h?.close();
});

type Line = Record<string, unknown> & { level: number; time: number; msg: string; name: string };

/** The lines written so far, up to the last newline (a chunk may end inside a line). */
function lines(): Line[] {
  return out
    .slice(0, out.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Line;
      } catch {
        throw new Error(`A line of the worker's log is not JSON: ${line}`);
      }
    });
}

test('a whole wizard: every line JSON; the move logged with its workflow; no personal data nor task token; no warning for the acknowledgement queue', async () => {
  const run = await runWholeWizard(h, { leads: 3_000 });
  const done = await eventually(
    async () => lines().find((l) => l.msg === 'lead move done' && l.kind === 'MOVE' && l.workflowId === run.workflowId),
    30_000,
    "the move's last line in the worker's log",
  );
  expect(done).toMatchObject({ level: 30, name: 'worker', activityType: 'moveLeadsSlice', sdkComponent: 'activity', moved: 3_000 });
  expect(typeof done.time).toBe('number');

  for (const line of lines()) {
    expect(typeof line.level).toBe('number');
    expect(typeof line.msg).toBe('string');
    expect(line.name).toBe('worker');
    expect(line).not.toHaveProperty('taskToken');
  }
  // The acknowledgement worker has no workflows by design: said at DEBUG, not as a warning at every start.
  expect(lines().filter((l) => /No workflows registered/.test(l.msg))).toEqual([]);
  for (const secret of run.secrets) expect(out).not.toContain(secret);
  // Nothing beside the log: the SDK's core would write its own lines as text to the console were they not forwarded.
  expect(err).toBe('');
});

test("a start refused as too big for one wizard: the refusal (whose activity failure the SDK logs) carries no user's name", async () => {
  // Found by a probe: "Activity failed openDeletion" WARN lines quoted "The wizard for <name> would list…".
  const tag = randomUUID().slice(0, 8);
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', leaver: 'MEMBER' });
  const name = `Ottoline Fairweather ${tag}`;
  await h.prisma.user.update({ where: { id: ws.users.leaver!.id }, data: { name } });
  // About 1.6 MB of view: more than one wizard can carry.
  await h.prisma.label.createMany({
    data: Array.from({ length: 6_000 }, (_, i) => ({ workspaceId: ws.id, name: `${i} `.padEnd(190, 'x'), visibility: 'SHARED' as const, ownerId: ws.users.leaver!.id })),
  });
  const refused = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.leaver!.id, actor: asAdmin(ws, 'owner'), source: 'ADMIN' }).then(
    () => null,
    (err: Error) => err,
  );
  expect(refused?.message).toMatch(/more than one wizard can carry/);
  await eventually(async () => (lines().some((l) => l.msg === 'Activity failed' && l.activityType === 'openDeletion') ? true : undefined), 30_000, "the refused opening's line");
  expect(out).not.toContain(name);
}, 120_000);
