// The SCIM 2.0 service provider (api.md "SCIM 2.0"), registered under
// /scim/v2 in its own scope: its own bearer tokens (auth.ts), its own body
// type (application/scim+json, application/json too), and every refusal as a
// SCIM error (errors.ts). Described by its own discovery endpoints and by the
// OpenAPI document too (tag scim).
//
// The route schemas below only describe: the handlers read the raw query,
// params and body themselves (users.ts) and answer every refusal as a SCIM
// error, so this scope's validator compiler accepts everything and writes
// nothing back, and every body leaves through sendScim, whose own serializer
// (reply.serializer, which Fastify's reply.js uses before any response
// schema's) writes it as it is. Describing the routes on the routes keeps one
// place to change; building these paths by hand in the swagger
// transformObject would be a second copy of the route table.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { BODY_LIMIT } from '../deps';
import {
  SCIM,
  SCIM_CONTENT_TYPE,
  SCIM_PREFIX,
  ScimAttributesQuery,
  ScimError,
  ScimPatchBody,
  ScimResourceType,
  ScimSchemaDefinition,
  ScimSearchRequest,
  ScimServiceProviderConfig,
  ScimUserProjected,
  ScimUserInput,
  ScimUsersQuery,
  scimError,
  scimListOf,
} from '../../domain/scim';
import { projected } from './attributes';
import { authenticateScim, type ScimAuth } from './auth';
import { authorizationOf } from '../auth';
import { listOf, serviceProviderConfig, userResourceType, userSchema } from './discovery';
import { ScimProblem, scimErrorHandler, sendScim } from './errors';
import { utf8JsonParser } from '../body-text';
import { RESPONSE_HEADERS } from '../routes/common';
import { scimBase, usersService } from './users';

// ---- The OpenAPI description ----

const REFUSALS: Record<number, string> = {
  401: 'No SCIM token, or one that is not valid (WWW-Authenticate: Bearer realm="scim").',
  404: 'No such resource here (a user of another workspace, or one deleted over SCIM, is not found either).',
  409: 'The userName is another user\'s in this workspace (scimType uniqueness).',
  413: 'The body is larger than 10 MB.',
  501: 'Not served by this service provider (optional in RFC 7644).',
  415: 'The body is neither application/scim+json nor application/json, declares a charset other than UTF-8, or is compressed (Content-Encoding).',
  503:
    'The user\'s deletion wizard did not answer within 10 seconds (Retry-After says when to try again); ' +
    'a later GET shows whether the change applied.',
};

/** The endpoints RFC 7644 makes optional and this service provider does not serve (501). */
const NOT_SERVED = {
  // §3.11: a service provider without /Me answers 501.
  me: 'This service provider does not serve /Me: a SCIM token acts for the identity provider, not for a user.',
  // §3.4.2.1, §3.4.3.
  root: 'This service provider does not query at the root: query /Users (GET, or POST /Users/.search).',
  // §3.7, as ServiceProviderConfig says.
  bulk: 'This service provider does not take bulk requests (ServiceProviderConfig bulk.supported is false): send each operation on its own.',
};

// Why a route answers 400, with the scimType each reason carries.
const BAD_QUERY = 'a filter this service does not support (invalidFilter), or a filter, startIndex or count it cannot read (invalidValue)';
const TWICE = 'a query parameter SCIM defines (filter, count, attributes, ...) given more than once (invalidValue)';
const BAD_BODY = 'the body is not JSON or not a JSON object (invalidSyntax), or a value in it is not what SCIM expects (invalidValue)';
const REFUSED_CHANGE = 'a business rule refuses the change, such as deactivating the last owner (mutability)';

/** The SCIM errors a route answers (RFC 7644 §3.12), as OpenAPI responses; a 400 says the reasons it has. */
function refusals(codes: number[], why400: string[] = []) {
  return Object.fromEntries(
    codes.map((code) => [
      code,
      {
        description: code === 400 ? `Refused: ${why400.join('; ')}.` : REFUSALS[code]!,
        content: { [SCIM_CONTENT_TYPE]: { schema: ScimError } },
        ...(code === 401 ? { headers: RESPONSE_HEADERS.wwwAuthenticate } : code === 503 ? { headers: RESPONSE_HEADERS.retryAfter } : {}),
      },
    ]),
  );
}

function answer(schema: z.ZodType, description: string, headers?: object) {
  return { description, content: { [SCIM_CONTENT_TYPE]: { schema } }, ...(headers ? { headers } : {}) };
}

const PROJECTED = ' With `attributes` or `excludedAttributes`, only the attributes asked for (and always `schemas` and `id`).';
const UserList = scimListOf(ScimUserProjected);
const UserId = z.object({ id: z.string().meta({ description: 'The user\'s id (the `id` of its User resource).' }) });
const WITH_BODY = ['application/scim+json', 'application/json'];
const WAITS = 503;

/** A SCIM route's schema: tag scim, the scimBearer token, SCIM bodies. */
function scimRoute(summary: string, schema: FastifySchema): { schema: FastifySchema } {
  return {
    schema: {
      tags: ['scim'],
      summary,
      security: [{ scimBearer: [] }],
      ...(schema.body ? { consumes: WITH_BODY } : {}),
      ...schema,
    },
  };
}

/** The query parameters RFC 7644 defines for the endpoints served here (§3.4.2, §3.9). */
const SCIM_QUERY_PARAMETERS = ['filter', 'startIndex', 'count', 'attributes', 'excludedAttributes', 'sortBy', 'sortOrder'] as const;

/** The SearchRequest attributes (RFC 7644 §3.4.3), by their lower case: names are case-insensitive (RFC 7643 §2.1). */
const SEARCH_KEYS = new Map(['schemas', ...SCIM_QUERY_PARAMETERS].map((k) => [k.toLowerCase(), k]));

/** What each SearchRequest member must be, in words, for its refusal. */
const SEARCH_MEMBER_TYPES: Record<string, string> = {
  schemas: 'a list of schema URNs',
  filter: 'a filter string',
  startIndex: 'a whole number',
  count: 'a whole number',
  attributes: 'a list of attribute names, or one comma-separated string of them',
  excludedAttributes: 'a list of attribute names, or one comma-separated string of them',
  sortBy: 'a string',
  sortOrder: 'a string',
};

/**
 * A SearchRequest body (RFC 7644 §3.4.3) as the query of GET /Users: its
 * attribute names in any case (`Filter`), its attribute lists as comma
 * lists; other members are ignored. Two spellings of one name: the RFC's wins.
 */
function searchQuery(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimProblem(400, 'Send a SearchRequest JSON object as the body (application/scim+json).', 'invalidSyntax');
  }
  const query: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const key = SEARCH_KEYS.get(k.toLowerCase());
    if (key !== undefined && (!(key in query) || key === k)) query[key] = v;
  }
  // Each member of the type RFC 7644 §3.4.3 gives it (numbers may also come as their digits, as in a query
  // string): one of another type is refused, not read as absent (a list filtered to nothing returns everything).
  const checked = ScimSearchRequest.safeParse(query);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    const member = String(issue.path[0] ?? '');
    // Of the right type but refused all the same (a filter over its length): what is wrong with it.
    if (issue.code === 'too_big' || issue.code === 'too_small' || issue.code === 'invalid_format') {
      throw new ScimProblem(400, `The SearchRequest's ${member} ${issue.message}.`, 'invalidValue');
    }
    throw new ScimProblem(400, `The SearchRequest's ${member} must be ${SEARCH_MEMBER_TYPES[member] ?? 'as RFC 7644 §3.4.3 gives it'}.`, 'invalidValue');
  }
  for (const key of ['attributes', 'excludedAttributes']) {
    const v = query[key];
    if (Array.isArray(v)) query[key] = v.join(',');
  }
  return query;
}

export function scimRoutes(
  app: FastifyInstance,
  deps: ApiDeps,
  /** The methods the server's routes serve at a path (for 405 and its Allow header). */
  allowedAt: (urlPath: string) => string[] = () => [],
): void {
  const users = usersService(deps);
  const authOf = new WeakMap<FastifyRequest, ScimAuth>();
  const auth = (req: FastifyRequest): ScimAuth => {
    const a = authOf.get(req);
    if (!a) throw new ScimProblem(401, 'Send the SCIM token as "Authorization: Bearer <token>".');
    return a;
  };

  // The schemas describe; the handlers validate (see the top of this file).
  app.setValidatorCompiler(() => () => true);
  app.setErrorHandler(scimErrorHandler);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/scim+json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, utf8JsonParser(parseJson));
  app.addHook('onRequest', async (req) => {
    authOf.set(req, await authenticateScim(deps.prisma, authorizationOf(req)));
  });
  // Each query parameter SCIM defines takes one value (RFC 7644 §3.4.2, §3.9): one given twice is
  // refused before anything is read or changed, naming it. Parameters SCIM does not define are not read.
  app.addHook('preValidation', async (req) => {
    const query = (req.query ?? {}) as Record<string, unknown>;
    const twice = SCIM_QUERY_PARAMETERS.find((name) => Array.isArray(query[name]));
    if (twice) throw new ScimProblem(400, `${twice} is given more than once; give it once.`, 'invalidValue');
  });
  const notServed = (reply: FastifyReply, what: keyof typeof NOT_SERVED) => sendScim(reply, 501, scimError(501, NOT_SERVED[what]));
  app.setNotFoundHandler(async (req, reply) => {
    const urlPath = req.url.split('?')[0] ?? '';
    const rest = urlPath.slice(SCIM_PREFIX.length);
    // The routes below serve these paths as written; here, in any case (`/me`) and below /Me.
    if (/^\/Me(\/|$)/i.test(rest)) return notServed(reply, 'me');
    if (((req.method === 'GET' || req.method === 'HEAD') && /^\/?$/.test(rest)) || (req.method === 'POST' && /^\/\.search$/i.test(rest))) {
      return notServed(reply, 'root');
    }
    if (/^\/Bulk\/?$/i.test(rest)) return notServed(reply, 'bulk');
    const allowed = allowedAt(urlPath);
    if (allowed.length > 0 && !allowed.includes(req.method)) {
      reply.header('allow', allowed.join(', '));
      return sendScim(reply, 405, scimError(405, `${req.method} is not served at ${urlPath}; use ${allowed.join(' or ')}.`));
    }
    return sendScim(reply, 404, scimError(404, `No SCIM endpoint ${req.method} ${urlPath}.`));
  });

  // ---- Not served (501): routes of their own, so that the document lists them ----
  const UNSERVED_BODY = [400, 401, 413, 415, 501];
  const unserved = (summary: string, method: string) =>
    scimRoute(summary, { response: refusals(method === 'GET' ? [400, 401, 501] : UNSERVED_BODY, [method === 'GET' ? TWICE : `${TWICE}; ${BAD_BODY}`]) });
  app.get('', unserved('A query at the root (RFC 7644 §3.4.2.1): not served, 501', 'GET'), async (_req, reply) => notServed(reply, 'root'));
  app.post('/.search', unserved('A SearchRequest at the root (RFC 7644 §3.4.3): not served, 501', 'POST'), async (_req, reply) => notServed(reply, 'root'));
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    app.route({ method, url: '/Bulk', ...unserved('Bulk operations (RFC 7644 §3.7): not served, 501', method), handler: async (_req, reply) => notServed(reply, 'bulk') });
    app.route({ method, url: '/Me', ...unserved('The authenticated subject (RFC 7644 §3.11): not served, 501', method), handler: async (_req, reply) => notServed(reply, 'me') });
  }

  // ---- Discovery ----
  app.get(
    '/ServiceProviderConfig',
    scimRoute('What this service provider supports (RFC 7644 §5)', {
      response: { 200: answer(ScimServiceProviderConfig, 'PATCH and filter yes; bulk, sort, etag and password changes no.'), ...refusals([400, 401], [TWICE]) },
    }),
    async (req, reply) => sendScim(reply, 200, serviceProviderConfig(scimBase(req))),
  );
  app.get(
    '/ResourceTypes',
    scimRoute('The resource types served: User only', {
      response: { 200: answer(scimListOf(ScimResourceType), 'A ListResponse of the one resource type, User.'), ...refusals([400, 401], [TWICE]) },
    }),
    async (req, reply) => sendScim(reply, 200, listOf([userResourceType(scimBase(req))])),
  );
  app.get(
    '/ResourceTypes/:id',
    scimRoute('One resource type (User)', {
      params: z.object({ id: z.string().meta({ description: '`User`, the only resource type here.' }) }),
      response: { 200: answer(ScimResourceType, 'The User resource type.'), ...refusals([400, 401, 404], [TWICE]) },
    }),
    async (req, reply) => {
      if ((req.params as { id: string }).id !== 'User') throw new ScimProblem(404, 'The only resource type here is User.');
      return sendScim(reply, 200, userResourceType(scimBase(req)));
    },
  );
  app.get(
    '/Schemas',
    scimRoute('The schemas served: the core User schema, with the attributes kept here', {
      response: { 200: answer(scimListOf(ScimSchemaDefinition), 'A ListResponse of the one schema, User.'), ...refusals([400, 401], [TWICE]) },
    }),
    async (req, reply) => sendScim(reply, 200, listOf([userSchema(scimBase(req))])),
  );
  app.get(
    '/Schemas/:id',
    scimRoute('One schema (the core User schema)', {
      params: z.object({ id: z.string().meta({ description: `\`${SCIM.User}\`, the only schema here.` }) }),
      response: { 200: answer(ScimSchemaDefinition, 'The core User schema.'), ...refusals([400, 401, 404], [TWICE]) },
    }),
    async (req, reply) => {
      if ((req.params as { id: string }).id !== SCIM.User) throw new ScimProblem(404, `The only schema here is ${SCIM.User}.`);
      return sendScim(reply, 200, userSchema(scimBase(req)));
    },
  );

  // ---- Users ----
  // Every answer that carries Users honours `attributes` / `excludedAttributes` (RFC 7644 §3.9).
  const listed = async (req: FastifyRequest, reply: FastifyReply, query: unknown) => {
    const list = await users.list(auth(req), query, scimBase(req));
    return sendScim(reply, 200, { ...list, Resources: list.Resources.map((u) => projected(u, query)) });
  };
  const LISTED = answer(UserList, `A ListResponse of the workspace's users, in the order they were created.${PROJECTED}`);
  app.get(
    '/Users',
    scimRoute('List or filter the workspace\'s users', {
      querystring: ScimUsersQuery,
      response: { 200: LISTED, ...refusals([400, 401], [BAD_QUERY]) },
    }),
    async (req, reply) => listed(req, reply, req.query),
  );
  // RFC 7644 §3.4.3: the same query as a SearchRequest body.
  app.post(
    '/Users/.search',
    scimRoute('List or filter the workspace\'s users, the query as a SearchRequest body', {
      body: ScimSearchRequest,
      response: { 200: LISTED, ...refusals([400, 401, 413, 415], [BAD_BODY, BAD_QUERY]) },
    }),
    async (req, reply) => listed(req, reply, searchQuery(req.body)),
  );
  app.post(
    '/Users',
    scimRoute('Create a user (an ACTIVE MEMBER; created inactive, it is offboarded at once)', {
      description:
        'A userName deleted over SCIM whose deletion wizard is not finished brings that user back ' +
        '(active unless the body says otherwise) instead of 409.',
      querystring: ScimAttributesQuery,
      body: ScimUserInput,
      response: {
        201: answer(ScimUserProjected, `The user created, its URL in Location.${PROJECTED}`, RESPONSE_HEADERS.location),
        ...refusals([400, 401, 409, 413, 415, WAITS], [`${BAD_BODY}; userName must be an email address`, REFUSED_CHANGE]),
      },
    }),
    async (req, reply) => {
      const created = await users.create(auth(req), req.body, scimBase(req));
      reply.header('location', created.meta.location);
      return sendScim(reply, 201, projected(created, req.query));
    },
  );
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  const THE_USER = answer(ScimUserProjected, `The user.${PROJECTED}`);
  app.get(
    '/Users/:id',
    scimRoute('Read a user', { params: UserId, querystring: ScimAttributesQuery, response: { 200: THE_USER, ...refusals([400, 401, 404], [TWICE]) } }),
    async (req, reply) => sendScim(reply, 200, projected(await users.get(auth(req), idOf(req), scimBase(req)), req.query)),
  );
  app.put(
    '/Users/:id',
    scimRoute('Replace a user (active false offboards, active true before CONFIRM cancels that)', {
      description:
        'Setting active to false starts the user\'s deletion wizard (or joins the open one) and freezes the user; ' +
        'active true before the wizard\'s CONFIRM cancels the wizard the identity provider started.',
      params: UserId,
      querystring: ScimAttributesQuery,
      body: ScimUserInput,
      response: {
        200: answer(ScimUserProjected, `The whole user as it is now.${PROJECTED}`),
        ...refusals([400, 401, 404, 409, 413, 415, WAITS], [BAD_BODY, REFUSED_CHANGE]),
      },
    }),
    async (req, reply) => sendScim(reply, 200, projected(await users.replace(auth(req), idOf(req), req.body, scimBase(req)), req.query)),
  );
  app.patch(
    '/Users/:id',
    scimRoute('Change a user with PatchOp operations (active false offboards, active true before CONFIRM cancels that)', {
      description: 'Deactivating or reactivating works as in PUT.',
      params: UserId,
      querystring: ScimAttributesQuery,
      body: ScimPatchBody,
      response: {
        200: answer(ScimUserProjected, `The whole user as it is now.${PROJECTED}`),
        ...refusals(
          [400, 401, 404, 409, 413, 415, WAITS],
          [BAD_BODY, 'an operation or a path this service does not read (invalidSyntax, invalidPath, noTarget)', REFUSED_CHANGE],
        ),
      },
    }),
    async (req, reply) => sendScim(reply, 200, projected(await users.patch(auth(req), idOf(req), req.body, scimBase(req)), req.query)),
  );
  app.delete(
    '/Users/:id',
    scimRoute('Delete a user: offboards it as deactivation does; from then on it is 404 here', {
      params: UserId,
      // 413 and 415: a DELETE may carry a body, which is read (and then ignored).
      response: {
        204: z.undefined().meta({ description: 'Deleted: the user\'s deletion wizard is started or joined.' }),
        ...refusals([400, 401, 404, 413, 415, WAITS], [REFUSED_CHANGE]),
      },
    }),
    async (req, reply) => {
      await users.remove(auth(req), idOf(req));
      return reply.code(204).send();
    },
  );
}
