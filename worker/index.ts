// Worker wiring: the bundled deletion workflow and its activities on the task
// queue, the acknowledgement no-op on a queue of its own beside it (both on
// one connection), with a Prisma client of its own. Shutdown is graceful: running
// activities get `shutdownGraceTime` to finish their batch and heartbeat,
// then are cancelled and retried elsewhere from their committed cursor.
import { Worker, type ActivityInterceptorsFactory, type State, type WorkerOptions, type WorkerStatus } from '@temporalio/worker';
import { acknowledgementActivities, createActivities } from '../activities';
import { acknowledgementTaskQueue } from '../workflows/definitions';
import { DEFAULT_TURN_MS, type MoveTuning } from '../activities/lead-move/engine';
import { recordLeadBatch } from './metrics';
import type { Config } from '../infra/config';
import { dataConverter } from '../infra/codec';
import { activityInterceptors, WORKFLOW_INTERCEPTOR_MODULE } from '../infra/tracing';
import { createPrisma } from '../infra/database';
import { connectWorker, temporalConnectOptions } from '../infra/temporal-connection';

export interface WorkerDeps {
  config: Config;
  databaseUrl: string;
  /**
   * The database is the embedded PGlite, whose one backend serves every
   * client in turn: a move's turns then run one batch each (unless
   * LEAD_MOVE_TURN_MS says otherwise), so the API is never held up longer.
   */
  embedded?: boolean;
  /** A pre-built workflow bundle (tests build one per run); default: bundle `workflows/` now. */
  workflowBundlePath?: string;
  /** Overrides for tests (task queue, concurrency). */
  options?: Partial<WorkerOptions>;
  /** Activity interceptors added to both workers' (a test's trap), after the tracing ones. */
  activityInterceptors?: ActivityInterceptorsFactory[];
}

/** How this worker's bulk moves run, from its configuration (and whether the database is the embedded one). */
export function moveTuning(config: Config, embedded = false): MoveTuning {
  return {
    min: 100,
    max: config.LEAD_MOVE_BATCH_SIZE,
    targetMs: config.LEAD_MOVE_BATCH_TARGET_MS,
    streams: config.LEAD_MOVE_STREAMS,
    statements: config.LEAD_MOVE_WORKER_STATEMENTS,
    turnMs: config.LEAD_MOVE_TURN_MS ?? (embedded ? 0 : DEFAULT_TURN_MS),
    onBatch: recordLeadBatch,
  };
}

/**
 * One worker of the wizard, as its callers run it: the Temporal worker of the
 * task queue (workflows and activities) and the one of the acknowledgement
 * queue beside it (workflows/definitions.ts), run and stopped together.
 */
export interface WizardWorker {
  /** Runs both until shut down; one stopping (or failing) stops the other. */
  run(): Promise<void>;
  shutdown(): void;
  /** The task queue's worker's state and status. */
  getState(): State;
  getStatus(): WorkerStatus;
}

/** How many acknowledgements (no-ops, each a few milliseconds) one worker runs at once. */
const ACKNOWLEDGEMENTS_AT_ONCE = 100;

export async function createWorker(deps: WorkerDeps): Promise<{ worker: WizardWorker; close(): Promise<void> }> {
  const { config } = deps;
  // A running move holds up to LEAD_MOVE_STREAMS connections, one statement at
  // a time each; moves running at once queue for this pool, which bounds the
  // load one worker puts on the database (a queued statement waits ~one batch).
  const prisma = createPrisma(deps.databaseUrl, { max: 4 + 2 * config.LEAD_MOVE_STREAMS });
  const temporal = temporalConnectOptions(config);
  let connection;
  try {
    connection = await connectWorker(temporal);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  // A pre-built bundle must have been built with WORKFLOW_INTERCEPTOR_MODULE (tests/global-setup.ts does).
  const workflows = deps.workflowBundlePath
    ? { workflowBundle: { codePath: deps.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };
  // One payload codec (the encryption keys, parsed once) for both workers.
  const converter = dataConverter(config);
  // Traces: activities continue the trace the workflow was started or updated in (and a test's trap, if any).
  const activityInterceptorList = [...activityInterceptors(), ...(deps.activityInterceptors ?? [])];
  const created: Worker[] = [];
  try {
    const worker = await Worker.create({
      connection,
      namespace: temporal.namespace,
      dataConverter: converter,
      interceptors: {
        activity: activityInterceptorList,
        ...(deps.workflowBundlePath ? {} : { workflowModules: [WORKFLOW_INTERCEPTOR_MODULE] }),
      },
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      ...workflows,
      activities: createActivities(prisma, moveTuning(config, deps.embedded)),
      // Heartbeats (move progress, cancellation) reach the server within a second.
      maxHeartbeatThrottleInterval: '1 second',
      defaultHeartbeatThrottleInterval: '1 second',
      shutdownGraceTime: '15 seconds',
      maxConcurrentWorkflowTaskExecutions: config.WORKER_WORKFLOW_TASKS,
      maxConcurrentLocalActivityExecutions: config.WORKER_LOCAL_ACTIVITIES,
      maxConcurrentActivityTaskExecutions: config.WORKER_ACTIVITIES,
      ...deps.options,
    });
    created.push(worker);
    const acknowledger = await Worker.create({
      connection,
      namespace: temporal.namespace,
      dataConverter: converter,
      interceptors: { activity: activityInterceptorList },
      // The queue the workflows name: their own (a test's options may set it) and the suffix.
      taskQueue: acknowledgementTaskQueue(deps.options?.taskQueue ?? config.TEMPORAL_TASK_QUEUE),
      activities: acknowledgementActivities,
      maxConcurrentActivityTaskExecutions: ACKNOWLEDGEMENTS_AT_ONCE,
      shutdownGraceTime: '5 seconds',
    });
    created.push(acknowledger);
    return {
      worker: runTogether(worker, acknowledger),
      async close() {
        await connection.close();
        await prisma.$disconnect();
      },
    };
  } catch (err) {
    // A worker that was created holds the connection until it has run and stopped.
    try {
      await Promise.allSettled(created.map(runAndStop));
    } finally {
      await connection.close().catch(() => undefined);
      await prisma.$disconnect();
    }
    throw err;
  }
}

/** Shuts a worker down unless it is not running (Worker.shutdown throws then). */
export function stopIfRunning(w: { getState(): State; shutdown(): void }): void {
  if (w.getState() === 'RUNNING') w.shutdown();
}

/** Lets go of a worker that was created and is not to run: a Worker lets go only once it has run and stopped. */
async function runAndStop(w: { run(): Promise<void>; shutdown(): void; getState(): State }): Promise<void> {
  const running = w.run(); // the SDK's run() is RUNNING before its first await
  stopIfRunning(w);
  await running;
}

function runTogether(main: Worker, beside: Worker): WizardWorker {
  return {
    async run() {
      const runs = [main, beside].map((w, i, both) => w.run().finally(() => stopIfRunning(both[1 - i]!)));
      const failed = (await Promise.allSettled(runs)).filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length === 1) throw failed[0]!.reason;
      if (failed.length > 1) throw new AggregateError(failed.map((r) => r.reason), 'Both Temporal workers of this process failed');
    },
    shutdown() {
      stopIfRunning(beside);
      main.shutdown(); // throws when not running, as Worker.shutdown does
    },
    getState: () => main.getState(),
    getStatus: () => main.getStatus(),
  };
}

/** Runs a worker until `shutdownSignal` aborts (or the process gets SIGINT/SIGTERM). */
export async function runWorker(deps: WorkerDeps & { shutdownSignal?: AbortSignal }): Promise<void> {
  const { worker, close } = await createWorker(deps);
  if (deps.shutdownSignal?.aborted) {
    // Asked to stop while the worker was still being created (bundling takes seconds).
    await runAndStop(worker);
    await close();
    return;
  }
  const stop = () => stopIfRunning(worker);
  deps.shutdownSignal?.addEventListener('abort', stop, { once: true });
  try {
    await worker.run();
  } finally {
    deps.shutdownSignal?.removeEventListener('abort', stop);
    await close();
  }
}
