// The SCIM 2.0 service provider (api.md "SCIM 2.0"), registered under
// /scim/v2 in its own scope: its own bearer tokens (auth.ts), its own body
// type (application/scim+json, application/json too), and every refusal as a
// SCIM error (errors.ts). Described by its own discovery endpoints, not by
// the v1 OpenAPI document (hidden there).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps';
import { BODY_LIMIT } from '../deps';
import type { Api } from '../routes/common';
import { SCIM, scimError } from '../../domain/scim';
import { projected } from './attributes';
import { authenticateScim, type ScimAuth } from './auth';
import { listOf, serviceProviderConfig, userResourceType, userSchema } from './discovery';
import { ScimProblem, scimErrorHandler, sendScim } from './errors';
import { scimBase, usersService } from './users';


const hidden = { schema: { hide: true } } as const;

/** The SearchRequest attributes (RFC 7644 §3.4.3), by their lower case: names are case-insensitive (RFC 7643 §2.1). */
const SEARCH_KEYS = new Map(
  ['schemas', 'filter', 'startIndex', 'count', 'attributes', 'excludedAttributes', 'sortBy', 'sortOrder'].map((k) => [k.toLowerCase(), k]),
);

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
  for (const key of ['attributes', 'excludedAttributes']) {
    const v = query[key];
    if (Array.isArray(v)) query[key] = v.filter((a) => typeof a === 'string').join(',');
  }
  return query;
}

export function scimRoutes(app: Api, deps: ApiDeps): void {
  const users = usersService(deps);
  const authOf = new WeakMap<FastifyRequest, ScimAuth>();
  const auth = (req: FastifyRequest): ScimAuth => {
    const a = authOf.get(req);
    if (!a) throw new ScimProblem(401, 'Send the SCIM token as "Authorization: Bearer <token>".');
    return a;
  };

  app.setErrorHandler(scimErrorHandler);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/scim+json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    const text = body as string;
    if (/^\s*$/.test(text)) return done(null, undefined);
    parseJson(req, text, done);
  });
  app.addHook('onRequest', async (req) => {
    authOf.set(req, await authenticateScim(deps.prisma, req.headers.authorization));
  });
  app.setNotFoundHandler(async (req, reply) =>
    sendScim(reply, 404, scimError(404, `No SCIM endpoint ${req.method} ${req.url.split('?')[0]}.`)),
  );

  // ---- Discovery ----
  app.get('/ServiceProviderConfig', hidden, async (req, reply) => sendScim(reply, 200, serviceProviderConfig(scimBase(req))));
  app.get('/ResourceTypes', hidden, async (req, reply) => sendScim(reply, 200, listOf([userResourceType(scimBase(req))])));
  app.get('/ResourceTypes/:id', hidden, async (req, reply) => {
    if ((req.params as { id: string }).id !== 'User') throw new ScimProblem(404, 'The only resource type here is User.');
    return sendScim(reply, 200, userResourceType(scimBase(req)));
  });
  app.get('/Schemas', hidden, async (req, reply) => sendScim(reply, 200, listOf([userSchema(scimBase(req))])));
  app.get('/Schemas/:id', hidden, async (req, reply) => {
    if ((req.params as { id: string }).id !== SCIM.User) throw new ScimProblem(404, `The only schema here is ${SCIM.User}.`);
    return sendScim(reply, 200, userSchema(scimBase(req)));
  });

  // ---- Users ----
  // Every answer that carries Users honours `attributes` / `excludedAttributes` (RFC 7644 §3.9).
  const listed = async (req: FastifyRequest, reply: FastifyReply, query: unknown) => {
    const list = await users.list(auth(req), query, scimBase(req));
    return sendScim(reply, 200, { ...list, Resources: list.Resources.map((u) => projected(u, query)) });
  };
  app.get('/Users', hidden, async (req, reply) => listed(req, reply, req.query));
  // RFC 7644 §3.4.3: the same query as a SearchRequest body.
  app.post('/Users/.search', hidden, async (req, reply) => listed(req, reply, searchQuery(req.body)));
  app.post('/Users', hidden, async (req, reply) => {
    const created = await users.create(auth(req), req.body, scimBase(req));
    reply.header('location', created.meta.location);
    return sendScim(reply, 201, projected(created, req.query));
  });
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  app.get('/Users/:id', hidden, async (req, reply) =>
    sendScim(reply, 200, projected(await users.get(auth(req), idOf(req), scimBase(req)), req.query)),
  );
  app.put('/Users/:id', hidden, async (req, reply) =>
    sendScim(reply, 200, projected(await users.replace(auth(req), idOf(req), req.body, scimBase(req)), req.query)),
  );
  app.patch('/Users/:id', hidden, async (req, reply) =>
    sendScim(reply, 200, projected(await users.patch(auth(req), idOf(req), req.body, scimBase(req)), req.query)),
  );
  app.delete('/Users/:id', hidden, async (req, reply) => {
    await users.remove(auth(req), idOf(req));
    return reply.code(204).send();
  });
}
