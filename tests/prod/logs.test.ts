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

test("a start refused as too big for one wizard is an answer, not a failure: no warning, and no user's name in what the worker writes", async () => {
  // Found by probes: "Activity failed openDeletion" WARN lines, with a stack, for each refusal (a 422), counted
  // as failures by the SDK's metrics too; and they once quoted "The wizard for <name> would list…".
  const tag = randomUUID().slice(0, 8);
  const ws = await makeWorkspace(h.prisma, { owner: 'OWNER', leaver: 'MEMBER', other: 'MEMBER', ann: 'MEMBER' }, { other: 10 });
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
  // A later wizard's move: once its line is written, every line of the refusal before it is too.
  const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.other!.id, actor: asAdmin(ws, 'owner'), source: 'ADMIN' });
  await h.wizard.submitLeads(ws.id, deletion.id, asAdmin(ws, 'owner'), { targetUserId: ws.users.ann!.id });
  await eventually(
    async () => (lines().some((l) => l.msg === 'lead move done' && l.workflowId === deletion.workflowId) ? true : undefined),
    30_000,
    "the later move's line",
  );
  expect(lines().filter((l) => l.level >= 40 && l.activityType === 'openDeletion')).toEqual([]);
  expect(out).not.toContain(name);
  await h.wizard.cancel(ws.id, deletion.id, asAdmin(ws, 'owner'), {});
}, 120_000);
