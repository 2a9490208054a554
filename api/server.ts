// The HTTP server of api.md: Fastify with zod schemas as the single source of
// validation, types and the OpenAPI document.
//
// Order of refusals (api.md): 401, 403, 400, 404, 409, 422. Authentication
// and roles run in `onRequest`, before the body is read, so a caller who may
// not use a route learns nothing about its body; then the schemas (400);
// then the handlers, whose named errors map to 404/409/422 (problems.ts).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyHelmet from '@fastify/helmet';
import fastifySwagger, { type SwaggerTransformObject } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { Client } from '@temporalio/client';
import { z } from 'zod';
import { duringRequest } from '../client/request-deadline';
import { createWizardClient } from '../client/wizard-client';
import { ConfigError, type Config } from '../infra/config';
import { loggerOptions } from '../infra/logger';
import { lazyClient, temporalConnectOptions } from '../infra/temporal-connection';
import { createPrisma, REQUEST_TRANSACTION_LIMITS } from '../infra/database';
import { makeHealthCheck } from './health';
import { dataConverter, payloadCodec } from '../infra/codec';
import { codecRoutes, parseOrigins } from './codec';
import { registerMetrics } from './metrics';
import { clientInterceptors, traceRequests } from '../infra/tracing';
import { acceptToken, authenticate, authorizationOf, requireRole, tokenHashOf, type AuthContext } from './auth';
import { plausibleId } from './directory/common';
import { BODY_LIMIT, type ApiDeps } from './deps';
import { BadInput } from '../domain/errors';
import { NoQuery, Problem } from '../domain/schemas';
import { PROBLEM_CONTENT_TYPE, clientErrorHandler, errorHandler, problem, sendProblem } from './problems';
import { directoryRoutes } from './routes/directory';
import { deletionRoutes } from './routes/deletions';
import { deletionFeed, eventRoutes, FEED_INTERVAL_MS, publishing } from './routes/events';
import { hookRoutes } from './routes/hook';
import { meRoutes } from './routes/me';
import { previewRoutes } from './routes/preview';
import { SCIM_PREFIX, scimError, underScim } from '../domain/scim';
import { scimRoutes } from './scim';
import { sendScim } from './scim/errors';
import { systemRoutes } from './routes/system';
import { signCursors } from './cursors';
import { queryNames } from './routes/common';
import { utf8JsonParser } from './body-text';
import { requestForLog } from './request-log';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

export function buildServer(given: ApiDeps): FastifyInstance {
  // The wizards' streams (api/routes/events.ts) read wizards through the client as given; every route
  // changes them through `publishing`, so that what a request changes reaches their streams at once.
  const feed = deletionFeed((workspaceId, id) => given.wizard.get(workspaceId, id), {
    intervalMs: given.events?.intervalMs ?? FEED_INTERVAL_MS,
    warn: (err, msg) => app.log.warn({ err }, msg),
  });
  const deps: ApiDeps = { ...given, wizard: publishing(given.wizard, feed) };
  // Ours (infra/logger.ts, every process's), a test's overrides on top; never without the redaction.
  const ours = loggerOptions(deps.config.LOG_LEVEL, 'api');
  const fastifyLogger =
    deps.logger === false
      ? false
      : {
          ...ours,
          ...(typeof deps.logger === 'object' && deps.logger !== null ? deps.logger : {}),
          redact: ours.redact,
          serializers: { ...ours.serializers, req: requestForLog },
        };
  const app = Fastify({
    ...(deps.loggerInstance ? { loggerInstance: deps.loggerInstance } : { logger: fastifyLogger }),
    bodyLimit: BODY_LIMIT,
    // A caller's own request id is kept (for correlating logs); otherwise one is made.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // A path segment that does not decode reaches its route as a value no route takes (see there).
    rewriteUrl: (req) => scimPathCanonical(undecodableSegmentsAsNul(req.url ?? '/')),
    // Framework-level refusals (a URL that does not decode, ...) are problems too.
    frameworkErrors: (err, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      const detail = 'The request URL or headers are malformed.';
      // Under /scim/v2 the identity provider reads SCIM errors only.
      if (underScim(req.url)) {
        void sendScim(reply, status, scimError(status, detail));
        return;
      }
      void sendProblem(reply, problem(status, detail));
    },
    // Longer than any URL Node lets through (16 KB of request line and
    // headers): a path id too long to be ours reaches its route, which answers
    // it as api.md says (401 first; then 404, or the hook's 401), never 414.
    routerOptions: { maxParamLength: 16_384 },
    // Our own refusal while closing (below): problem+json with Retry-After.
    return503OnClosing: false,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();

  // First: a span per request, around every hook and handler after it.
  traceRequests(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  // Every answer's security headers: the page runs only its own scripts and styles (it sets styles
  // through the CSSOM, which this allows) and no other site may frame it; nothing is sniffed; no
  // referrer leaves. Served over plain HTTP too (npm start), so nothing is upgraded to https; whether
  // to pin HTTPS (HSTS) is for the TLS proxy in front to say. /docs (Swagger UI) sets the policy its plugin needs.
  void app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'frame-ancestors': ["'none'"],
        'upgrade-insecure-requests': null,
      },
    },
    frameguard: { action: 'deny' },
    strictTransportSecurity: false,
  });
  // Shutting down (SIGTERM, a deploy): a request that still arrives, on a connection already open, is
  // refused as every other 503 is (problem+json or SCIM, Retry-After), and its connection closed; one
  // under way is answered. (Fastify's own 503 for these was plain JSON, without Retry-After.)
  let shuttingDown = false;
  app.addHook('preClose', async () => {
    shuttingDown = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!shuttingDown) return;
    const detail = 'This API process is shutting down; send the request again (another one answers it).';
    void reply.header('connection', 'close').header('retry-after', '1');
    // Whatever the route (its schemas do not all name a 503), the body as it is.
    if (underScim(req.url)) return sendScim(reply, 503, scimError(503, detail));
    return reply.code(503).type(PROBLEM_CONTENT_TYPE).serializer(JSON.stringify).send(problem(503, detail));
  });
  // Answers carry names, emails and wizards: no cache keeps them (the page's files say their own).
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });

  // Every route as registered, to tell 405 (path known, method not) from 404.
  const known: { method: string; pattern: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) known.push({ method: String(method).toUpperCase(), pattern: routePattern(route.url) });
  });
  /** The methods some route serves at this path (none: no route has it). */
  const allowedAt = (urlPath: string): string[] => [...new Set(known.filter((r) => r.pattern.test(urlPath)).map((r) => r.method))].sort();

  // Each request's waits on wizards share one limit (api.md: 10 s), from its first (client/request-deadline.ts).
  app.addHook('onRequest', (_request, _reply, done) => duringRequest(done));
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const config = request.routeOptions.config;
    if (config?.auth !== 'token') return;
    let auth: AuthContext;
    if (config.read === 'deletion') {
      // The token and the wizard in one statement; what the wizard shows is decided by the handler, after 400.
      const hash = tokenHashOf(authorizationOf(request));
      const id = (request.params as { id?: string }).id ?? '';
      const { token, deletion } = await deps.wizard.readWithToken(hash, plausibleId(id) ? id : '');
      auth = acceptToken(token, hash);
      request.deletionRead = deletion;
    } else {
      auth = await authenticate(deps.prisma, authorizationOf(request));
    }
    requireRole(auth, config.roles);
    request.auth = auth;
  });

  // JSON bodies: an empty body reads as "no body" (optional bodies). Strings
  // PostgreSQL cannot store (NUL, lone surrogates) are refused by the schemas
  // (domain/schemas.ts `Text`), each naming its field.
  // text/plain is not an API body type: 415, not a string that fails the schema.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, utf8JsonParser(parseJson));

  app.addHook('preValidation', async (request) => {
    const config = request.routeOptions.config;
    if (config?.auth === 'hook') return; // checked after its signature (hook.ts)
    if (request.body === undefined && config?.optionalBody) request.body = {};
  });

  app.setNotFoundHandler(async (request, reply) => {
    const urlPath = request.url.split('?')[0] ?? '';
    const allowed = allowedAt(urlPath);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      return sendProblem(reply, problem(405, `${request.method} is not allowed here; use ${allowed.join(' or ')}.`));
    }
    return sendProblem(reply, problem(404, `No route ${request.method} ${urlPath}.`));
  });

  // Before the routes: its hooks (HTTP metrics per route) see every one. GET /metrics.
  registerMetrics(app, {
    prisma: deps.prisma,
    token: deps.config.METRICS_TOKEN,
    ...(deps.metricsMaxAgeMs !== undefined ? { wizardsMaxAgeMs: deps.metricsMaxAgeMs } : {}),
  });

  const OPTIONAL_BODY = 'x-optional-body';
  // GET /metrics (registerMetrics, above) is added before @fastify/swagger loads, so the plugin never
  // sees it: transformObject describes it, needing METRICS_TOKEN when the server has one, as registerMetrics does.
  const metricsToken = deps.config.METRICS_TOKEN !== undefined;
  const metricsAnswers = {
    200: {
      description: 'The metrics, in the Prometheus text exposition format.',
      content: { 'text/plain; version=0.0.4': { schema: z.string() } },
    },
    ...(metricsToken
      ? {
          401: {
            description: 'No Authorization: Bearer <METRICS_TOKEN>, or another token (WWW-Authenticate: Bearer).',
            content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
          },
        }
      : {}),
  };
  void app.register(fastifySwagger, {
    // Fastify answers HEAD on every GET route (the event stream excepted): the document lists them too.
    exposeHeadRoutes: true,
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'CRM offboarding API',
        version: '1.0.0',
        description:
          'Delete a user and reassign their work (leads, automations, integrations, labels) through a durable wizard. ' +
          'Errors are application/problem+json. Precedence when several apply: 401, 403, 400, 404, 409, 422. ' +
          'Every string must be well-formed Unicode with no NUL character (U+0000), every timestamp must lie in the ' +
          'years 1970–9999: 400 naming the field. A request that waits on a wizard answers 503 with Retry-After ' +
          'after 10 seconds; a later GET shows whether the change applied.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token of one user of one workspace.' },
          scimBearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              "A workspace's SCIM token, made by `npm run scim-token -- --workspace X` (printed on its last line); " +
              'good for /scim/v2 of that workspace only, as a user token is for /v1 only.',
          },
          ...(metricsToken ? { metricsBearer: { type: 'http', scheme: 'bearer', description: 'The METRICS_TOKEN this server is configured with.' } } : {}),
          hookSignature: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Signature',
            description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the workspace hook secret>',
          },
          standardWebhooks: {
            type: 'apiKey',
            in: 'header',
            name: 'webhook-signature',
            description:
              'Standard Webhooks, instead of X-Signature: webhook-signature v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<raw body>"> ' +
              "with the workspace's whsec_ secret, beside the webhook-id and webhook-timestamp headers.",
          },
        },
      },
    },
    transform: (args) => {
      const out = jsonSchemaTransform(args);
      // The zod transform keeps a response's description and content only: the headers it declares
      // (routes/common.ts RESPONSE_HEADERS) are put back, for @fastify/swagger to write.
      const declared = (args.schema as { response?: Record<string, unknown> }).response ?? {};
      const responses = (out.schema as { response?: Record<string, object> }).response;
      for (const [code, given] of Object.entries(declared)) {
        const headers = given !== null && typeof given === 'object' && !(given instanceof z.ZodType) ? (given as { headers?: object }).headers : undefined;
        if (headers && responses?.[code]) responses[code] = { ...responses[code], headers };
      }
      // @fastify/swagger marks every body required; routes whose body may be left out say so.
      const config = args.route.config as { optionalBody?: boolean } | undefined;
      return config?.optionalBody ? { ...out, schema: { ...out.schema, [OPTIONAL_BODY]: true } } : out;
    },
    transformObject: (doc) => {
      // Schemas registered with an id (the recursive SCIM attribute, domain/scim.ts) as components, where
      // the routes' $refs point; only those the routes use (every id comes in an input and an output form).
      const openapiObject = jsonSchemaTransformObject(doc) as { paths?: Record<string, unknown>; components: { schemas?: Record<string, unknown> } };
      const components = openapiObject.components.schemas ?? {};
      const refsIn = (v: unknown) => [...JSON.stringify(v).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
      const used = new Set<string>();
      for (const pending = refsIn(openapiObject.paths ?? {}); pending.length > 0; ) {
        const id = pending.pop()!;
        if (used.has(id)) continue;
        used.add(id);
        pending.push(...refsIn(components[id] ?? {}));
      }
      for (const id of Object.keys(components)) if (!used.has(id)) delete components[id];
      const metrics = jsonSchemaTransform({
        ...doc,
        url: '/metrics',
        route: { method: 'GET', url: '/metrics', handler: () => undefined },
        schema: { response: metricsAnswers },
      }).schema;
      const metricsGet = {
        tags: ['system'],
        summary: 'Prometheus metrics',
        description:
          'HTTP requests by method, route pattern and status; Node process metrics; crm_wizards and crm_wizards_attention ' +
          'by status and step; crm_hr_offboardings_received_total by source and result. Counts only: no personal data, ' +
          'no workspace labels.',
        ...(metricsToken ? { security: [{ metricsBearer: [] }] } : {}),
        responses: metricsToken
          ? (({ 401: refused, ...rest }) => ({ ...rest, 401: { ...refused, headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer.' } } } }))(
              metrics.response as Record<string, object>,
            )
          : metrics.response,
      };
      // HEAD as Fastify answers it beside the GET (exposeHeadRoutes documents the routes' own).
      openapiObject.paths = { ...openapiObject.paths, '/metrics': { get: metricsGet, head: { ...metricsGet, summary: 'Prometheus metrics (headers only)' } } };
      for (const item of Object.values(openapiObject.paths ?? {})) {
        for (const op of Object.values(item as Record<string, Record<string, unknown>>)) {
          if (!op || typeof op !== 'object' || !(OPTIONAL_BODY in op)) continue;
          delete op[OPTIONAL_BODY];
          if (op.requestBody) (op.requestBody as { required?: boolean }).required = false;
        }
      }
      return openapiObject as ReturnType<SwaggerTransformObject>;
    },
  });
  void app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

  void app.register(async (scope) => {
    const api = scope.withTypeProvider<ZodTypeProvider>();
    // After auth (401, 403), before the schemas: the query parser keeps a
    // value that does not decode as its raw text, which the schemas would
    // take, and makes a parameter given twice an array ("expected number").
    api.addHook('preValidation', async (request) => {
      const issues = queryIssues(request.url, request.routeOptions.url !== HEALTH_URL, queryNames(request));
      if (issues.length > 0) {
        throw new BadInput(`The request is malformed: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}.`, issues);
      }
    });
    // A route that takes no query refuses any parameter, as a body refuses an unknown field; the
    // health check alone answers whatever its prober adds.
    api.addHook('onRoute', (route) => {
      if (route.schema?.querystring === undefined && route.url !== HEALTH_URL) route.schema = { ...route.schema, querystring: NoQuery };
    });
    // Lists hand out signed cursors and take back only those (api/cursors.ts).
    signCursors(api, deps.prisma);
    systemRoutes(api, deps);
    directoryRoutes(api, deps);
    deletionRoutes(api, deps);
    eventRoutes(api, deps, feed);
    meRoutes(api, deps);
    previewRoutes(api, deps);
  });
  const codec = deps.codec;
  if (codec) void app.register(async (scope) => codecRoutes(scope, { codec, origins: parseOrigins(deps.config.CODEC_CORS_ORIGINS) }));
  // Its own scope: the hook reads raw bytes with its own body parser.
  void app.register(async (scope) => hookRoutes(scope.withTypeProvider<ZodTypeProvider>(), deps));
  // Its own scope too: SCIM tokens, application/scim+json, SCIM errors. Its handlers read raw
  // input (its schemas only describe it, api/scim/index.ts): no zod types there.
  void app.register(async (scope) => scimRoutes(scope, deps, allowedAt), { prefix: SCIM_PREFIX });

  const webDir = deps.webDir ?? path.resolve(__dirname, '..', 'web', 'dist');
  if (fs.existsSync(path.join(webDir, 'index.html'))) {
    // Loaded only when there is a page to serve: @fastify/static pulls in an
    // ES module (content-disposition) that jest's CommonJS runtime cannot require.
    void app.register(async (scope) => {
      const { default: fastifyStatic } = await import('@fastify/static');
      await scope.register(fastifyStatic, { root: webDir, wildcard: false, index: ['index.html'] });
    });
  }
  return app;
}

/** The route that answers whatever query its prober adds. */
const HEALTH_URL = '/v1/health';

function decoded(text: string): string | null {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/**
 * The query parameters of `url` whose name or value is not well-formed
 * percent-encoded UTF-8 (`%ZZ`, a cut `%C3`, an encoded lone surrogate
 * `%ED%A0%80`): api.md wants every string well-formed, and 400 naming it;
 * and, when `once`, those given more than once (each parameter of /v1 takes
 * one value; the health check answers whatever its prober adds), of the
 * `known` ones when the route names them.
 */
export function queryIssues(url: string, once = true, known?: ReadonlySet<string>): { path: string; message: string }[] {
  const at = url.indexOf('?');
  if (at < 0) return [];
  const issues: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const part of url.slice(at + 1).split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const key = decoded(name);
    if (key === null || (eq >= 0 && decoded(part.slice(eq + 1)) === null)) {
      issues.push({ path: `query.${key ?? name}`, message: 'is not well-formed percent-encoded UTF-8' });
    }
    // Every parameter here takes one value: a second would reach the schema as an array. One the
    // route does not take is left to its schema, which says so ("is not a known field").
    if (once && key !== null && (known === undefined || known.has(key)) && seen.has(key) && !repeated.has(key)) {
      repeated.add(key);
      issues.push({ path: `query.${key}`, message: 'is given more than once; give it once' });
    }
    if (key !== null) seen.add(key);
  }
  return issues;
}

/** `/v1/users/:id` → a regex over concrete paths. */
function routePattern(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}/?$`);
}

// ---- The API as a component -------------------------------------------------

/**
 * Wires the database, the Temporal client and the wizard client to the HTTP
 * server and listens on HOST:PORT.
 */
export interface RunningApi {
  /** Base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  close(): Promise<void>;
}

export async function startApi(opts: {
  config: Config;
  databaseUrl: string;
  logger?: ApiDeps['logger'];
}): Promise<RunningApi> {
  const { config } = opts;
  const prisma = createPrisma(opts.databaseUrl, { transactions: REQUEST_TRANSACTION_LIMITS });
  // Lazy: the API starts (and says so on /v1/health) even while Temporal is away.
  const temporalOptions = temporalConnectOptions(config);
  const connection = lazyClient(temporalOptions);
  const temporal = new Client({ connection, namespace: temporalOptions.namespace, dataConverter: dataConverter(config), interceptors: clientInterceptors() });
  const wizard = createWizardClient({ temporal, prisma, config });
  const health = makeHealthCheck({
    prisma,
    temporalAddress: temporalOptions.address,
    namespace: temporalOptions.namespace,
    temporal: temporalOptions,
  });
  const app = buildServer({ prisma, wizard, health, config, codec: payloadCodec(config), ...(opts.logger !== undefined ? { logger: opts.logger } : {}) });
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (err) {
    await app.close().catch(() => {});
    await health.close();
    await connection.close().catch(() => {});
    await prisma.$disconnect().catch(() => {});
    throw listenRefusal(err, config);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await health.close();
        await wizard.settled();
        await connection.close().catch(() => {});
        await prisma.$disconnect();
      })()),
  };
}

/** Why the API could not listen, naming what to change (a taken PORT, a HOST not of this machine); else the error. */
function listenRefusal(err: unknown, config: Config): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  const at = `${config.HOST}:${config.PORT}`;
  if (code === 'EADDRINUSE') return new ConfigError(`The API cannot listen on ${at}: the port is in use; stop what holds it or set PORT to a free port.`);
  if (code === 'EACCES') return new ConfigError(`The API may not listen on ${at}: set PORT to 1024 or above, or run it with that right.`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new ConfigError(`The API cannot listen on ${at} (${code}): set HOST to an address of this machine (0.0.0.0 for all).`);
  }
  return err;
}

/**
 * The URL with each path segment that does not decode (`%ED%A0%80`, a cut
 * `%E0%A4%A`, a stray `%`) written as `%00`: a NUL, which no id holds and
 * every id's schema refuses. Such a path then reaches its route and is
 * answered as api.md orders it (401, 403, then 400 naming the parameter; the
 * HR hook's 401, as for a slug no workspace has; SCIM's 401, then its 400),
 * instead of a 400 before the token is even looked at. Logs and traces keep
 * the URL as it came (`originalUrl`).
 */
export function undecodableSegmentsAsNul(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let changed = false;
  const segments = path.split('/').map((segment) => {
    try {
      decodeURIComponent(segment);
      return segment;
    } catch {
      changed = true;
      return '%00';
    }
  });
  return changed ? segments.join('/') + (q === -1 ? '' : url.slice(q)) : url;
}

/**
 * A SCIM path with doubled or trailing slashes, as its canonical one
 * (`/scim/v2//Users/` → `/scim/v2/Users`): an identity provider's base URL
 * entered ending in `/` (setup guides often show it so) reaches the same
 * endpoints, answers and errors. Other paths are left as they came.
 */
export function scimPathCanonical(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const collapsed = path.replace(/\/{2,}/g, '/');
  if (collapsed !== SCIM_PREFIX && !collapsed.startsWith(`${SCIM_PREFIX}/`)) return url;
  const canonical = collapsed.length > SCIM_PREFIX.length ? collapsed.replace(/\/+$/, '') : collapsed;
  return canonical === path ? url : canonical + (q === -1 ? '' : url.slice(q));
}
