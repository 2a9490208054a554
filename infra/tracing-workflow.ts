// Workflow interceptors (they run inside the workflow sandbox, bundled with
// workflows/): carry the trace context that arrived with the wizard's start or
// its latest update on to every activity the workflow schedules, so an
// activity's spans join the trace of the HTTP request that caused them.
//
// Deliberately no spans here. The SDK's OpenTelemetry workflow interceptors
// (@temporalio/interceptors-opentelemetry) create spans inside the sandbox:
// their span ids come from the workflow's seeded Math.random, and a span made
// in a query or an update validator (never replayed) shifts that sequence, so
// a workflow evicted from the cache and replayed can take another path
// (sdk-typescript#2023); their handlers also add awaits that reorder histories
// recorded without them. This one only copies a header: no randomness, no
// await, no command of its own, so every history, before or after it, replays
// the same (tests/replay, and tests/prod/tracing.test.ts with no cache).
import type { Payload } from '@temporalio/common';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** The header @temporalio/interceptors-opentelemetry reads and writes (W3C trace context as a JSON payload). */
const TRACE_HEADER = '_tracer-data';

export const interceptors: WorkflowInterceptorsFactory = () => {
  // Per workflow execution: the factory runs once for each.
  let current: Payload | undefined;
  const remember = (headers: Record<string, Payload>) => {
    const header = headers[TRACE_HEADER];
    if (header) current = header;
  };
  const withTrace = <T extends { headers: Record<string, Payload> }>(input: T): T =>
    current && !input.headers[TRACE_HEADER] ? { ...input, headers: { ...input.headers, [TRACE_HEADER]: current } } : input;
  return {
    inbound: [
      {
        execute(input, next) {
          remember(input.headers);
          return next(input);
        },
        handleUpdate(input, next) {
          remember(input.headers);
          return next(input);
        },
        handleSignal(input, next) {
          remember(input.headers);
          return next(input);
        },
      },
    ],
    outbound: [
      {
        scheduleActivity(input, next) {
          return next(withTrace(input));
        },
        scheduleLocalActivity(input, next) {
          return next(withTrace(input));
        },
      },
    ],
  };
};
