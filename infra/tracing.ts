// OpenTelemetry traces, one per request: the API's HTTP span → the Temporal
// client's span (the trace context travels in the workflow's and update's
// headers) → the workflow, which hands it to each activity it schedules
// (infra/tracing-workflow.ts) → the activity's span → Prisma's spans of its
// database queries. Exported by OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is
// set; otherwise nothing is recorded (the API is a no-op).
//
// The SDK's client and activity interceptors are used as they are; its
// workflow interceptors are not (see infra/tracing-workflow.ts for why).
import { context, diag, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import { OpenTelemetryActivityInboundInterceptor, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from './config';
import { DIAG_LEVEL, diagToLog, type WarnLog } from './tracing-diag';

export interface Tracing {
  provider: NodeTracerProvider;
  /** Exports what is pending and stops. */
  shutdown(): Promise<void>;
}

let installed: Tracing | null = null;

/**
 * Installs the process's tracer provider (once): OTLP when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set, or the given exporter (tests). Null
 * when neither: spans are then never recorded. Failed exports (and
 * OpenTelemetry's other warnings) are WARN lines in `logger`, throttled
 * (infra/tracing-diag.ts).
 */
export function setupTracing(
  config: Pick<Config, 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>,
  opts: { exporter?: SpanExporter; logger?: WarnLog } = {},
): Tracing | null {
  if (installed) return installed;
  let processor;
  if (opts.exporter) {
    processor = new SimpleSpanProcessor(opts.exporter);
  } else if (config.OTEL_EXPORTER_OTLP_ENDPOINT) {
    // Loaded only when used: the exporter pulls in protobuf and HTTP code.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    const url = `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces`;
    processor = new BatchSpanProcessor(new OTLPTraceExporter({ url }));
    if (opts.logger) diag.setLogger(diagToLog(opts.logger, url), { logLevel: DIAG_LEVEL, suppressOverrideMessage: true });
  } else {
    return null;
  }
  const provider = new NodeTracerProvider({
    resource: new Resource({ 'service.name': config.OTEL_SERVICE_NAME }),
    spanProcessors: [processor],
  });
  // Global: W3C trace context propagation and an AsyncLocalStorage context manager.
  provider.register();
  const prisma = new PrismaInstrumentation();
  prisma.setTracerProvider(provider);
  prisma.enable();
  installed = {
    provider,
    shutdown: async () => {
      prisma.disable();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      diag.disable();
      installed = null;
    },
  };
  return installed;
}

/** The Temporal client's interceptors: a span per call, its context in the workflow's headers. */
export function clientInterceptors(): { workflow: WorkflowClientInterceptor[] } {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/** The worker's activity interceptors: each activity runs in a span continuing the caller's trace. */
export function activityInterceptors(): ActivityInterceptorsFactory[] {
  return [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })];
}

/** The workflow interceptor module, for Worker.create and bundleWorkflowCode. */
export const WORKFLOW_INTERCEPTOR_MODULE = require.resolve('./tracing-workflow');

const SPANS = new WeakMap<FastifyRequest, Span>();
const tracer = () => trace.getTracer('crm-offboarding-api');

/**
 * A server span per HTTP request (continuing a caller's `traceparent`), and
 * every hook and handler after it run inside it, so the token and role
 * lookups (hooks) and the Temporal client's span (and through it the workflow
 * and its activities) join the request's trace. Register before any hook or route.
 */
export function traceRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url ?? '(unmatched)';
    const span = tracer().startSpan(
      `${request.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': (request.originalUrl ?? request.url).split('?')[0] ?? '' } },
      parent,
    );
    SPANS.set(request, span);
    // The hooks after this one run from `done`: in the span's context.
    context.with(trace.setSpan(parent, span), done);
  });
  // Reading the body continues from the socket's events, outside that context: the hooks after it
  // (the role checks that need the body), and the handler, enter it again.
  app.addHook('preValidation', (request, _reply, done) => {
    const span = SPANS.get(request);
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function traced(this: unknown, request, reply) {
      const span = SPANS.get(request);
      if (!span) return handler.call(this as never, request, reply);
      return context.with(trace.setSpan(context.active(), span), () => handler.call(this as never, request, reply));
    } as typeof handler;
  });
  app.addHook('onError', async (request, _reply, error) => {
    SPANS.get(request)?.recordException(error);
  });
  app.addHook('onResponse', async (request, reply) => {
    const span = SPANS.get(request);
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    SPANS.delete(request);
  });
}
