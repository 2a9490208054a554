// A test-only worker process: the real worker (worker/index.ts: same workflow
// bundle, same activities, same options) plus an activity interceptor that
// lets a test stop it at an exact point and kill it there.
//
// Environment (besides what worker/main.ts reads):
//   FAULT_TRAP             JSON {activity, kind?, viewLeads?, at: 'before'|'after'}: the first
//                          execution of that activity (of that move kind, for
//                          moveLeadsSlice; saving a view whose leads are in that
//                          state, for saveDeletionState) pauses before it runs or after it has
//                          run (its transaction committed, its result not yet
//                          reported). The process then prints
//                          {"paused": {...}} and waits for "release" on stdin
//                          (a 'before' trap then says {"running": name}). `nth`: the
//                          nth matching execution springs it instead of the first;
//                          `every`: each matching execution pauses from the nth on (and
//                          each says so), until "release" lets all of them go. The trap sees the
//                          acknowledgement worker's activities too.
//   FAULT_CORE_METRICS     host:port: the Temporal SDK core serves its Prometheus
//                          metrics there (workflows' own metrics included), as
//                          worker/main.ts does with WORKER_METRICS_PORT.
//   FAULT_SLICE_BUDGET_MS  replaces the move's slice budget (0: one batch per
//                          stream per slice, so a test knows how far a slice goes).
//   FAULT_WAIT_GO=1        a spare: the worker is built (bundle loaded, connected),
//                          prints {"created": true}, and starts polling only on a
//                          stdin line "go <trap JSON or nothing>" (a warm replacement).
//   FAULT_NO_STICKY=1      no workflow cache, so no sticky queue: workflow tasks
//                          never wait for this worker once it is dead.
//   FAULT_ONE_ACTIVITY=1   one activity at a time: a paused activity holds the only
//                          slot, so a retry of it (after its heartbeat timed out)
//                          cannot run on this worker until the test releases it.
// Prints {"ready": true} once the worker polls. Tests kill it with SIGKILL.
import readline from 'node:readline';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, Next } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../../infra/config';
import { createWorker } from '../../worker';
import { coreTelemetry } from '../../worker/metrics';
// Type only: this process does not load the test helpers.
import type { Trap } from './faults';

function say(message: object): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

let releases: (() => void)[] = [];
let go: ((line: string) => void) | null = null;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.startsWith('go')) go?.(line.slice(2).trim());
  if (line.trim() !== 'release') return;
  const waiting = releases;
  releases = [];
  for (const r of waiting) r();
});
// The test that started us is gone (stdin closed): so are we, never an orphan polling its queue.
rl.on('close', () => process.exit(1));

async function main(): Promise<void> {
  const config = loadConfig();
  const coreMetrics = process.env.FAULT_CORE_METRICS;
  Runtime.install({ logger: new DefaultLogger('ERROR'), ...(coreMetrics ? { telemetryOptions: coreTelemetry(coreMetrics) } : {}) });
  let trap: Trap | null = process.env.FAULT_TRAP ? (JSON.parse(process.env.FAULT_TRAP) as Trap) : null;
  const budget = process.env.FAULT_SLICE_BUDGET_MS;
  let sprung = false;
  let seen = 0;

  const matches = (name: string, args: unknown[]): boolean => {
    if (!trap || (sprung && !trap.every) || trap.activity !== name) return false;
    const kind = (args[0] as { kind?: string } | undefined)?.kind;
    if (trap.kind !== undefined && trap.kind !== kind) return false;
    const leads = (args[0] as { view?: { leads?: { state?: string } } } | undefined)?.view?.leads?.state;
    if (trap.viewLeads !== undefined && trap.viewLeads !== leads) return false;
    seen += 1;
    return trap.every ? seen >= (trap.nth ?? 1) : seen === (trap.nth ?? 1);
  };
  const pause = (at: Trap['at'], outcome?: string) => {
    const info = Context.current().info;
    say({
      paused: {
        activity: info.activityType,
        at,
        attempt: info.attempt,
        activityId: info.activityId,
        workflowId: info.workflowExecution?.workflowId,
        runId: info.workflowExecution?.runId,
        local: info.isLocal,
        ...(outcome ? { outcome } : {}),
      },
    });
    return new Promise<void>((resolve) => releases.push(resolve));
  };

  class TrapInterceptor implements ActivityInboundCallsInterceptor {
    async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
      const name = Context.current().info.activityType;
      let args = input.args;
      if (name === 'moveLeadsSlice' && budget !== undefined) {
        args = [{ ...(args[0] as object), budgetMs: Number(budget) }, ...args.slice(1)];
      }
      if (!matches(name, args)) return next({ ...input, args });
      sprung = true;
      if (trap!.at === 'before') {
        await pause('before');
        say({ running: name });
        return next({ ...input, args });
      }
      try {
        const result = await next({ ...input, args });
        await pause('after', 'completed');
        return result;
      } catch (err) {
        await pause('after', `failed: ${(err as Error).message}`);
        throw err;
      }
    }
  }

  const { worker, close } = await createWorker({
    config,
    databaseUrl: process.env.DATABASE_URL!,
    workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined,
    activityInterceptors: [() => ({ inbound: new TrapInterceptor() })],
    options: {
      ...(process.env.FAULT_NO_STICKY ? { maxCachedWorkflows: 0 } : {}),
      ...(process.env.FAULT_ONE_ACTIVITY ? { maxConcurrentActivityTaskExecutions: 1 } : {}),
    },
  });
  if (process.env.FAULT_WAIT_GO) {
    say({ created: true });
    const arg = await new Promise<string>((resolve) => (go = resolve));
    if (arg) trap = JSON.parse(arg) as Trap;
  }
  const running = worker.run();
  say({ ready: true });
  try {
    await running;
  } finally {
    await close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`fault worker: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
