// Small pieces every route file uses.
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Problem } from '../../domain/schemas';
import type { AuthContext } from '../auth';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../problems';

export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed input: bad JSON, a missing, mistyped or unknown field, a list outside its size limits.',
  401: 'No token, or a token that is not valid (its user may be suspended or being deleted).',
  403: 'Your role may not do this.',
  404: 'An id in the path or the query string does not exist in this workspace.',
  405: 'The path exists, the method does not.',
  409: 'The request does not fit the current state.',
  413: 'The body is larger than 10 MB.',
  415: 'The body is not JSON, declares a charset other than UTF-8, or is compressed (Content-Encoding; the answer says Accept-Encoding: identity).',
  422: 'A business rule refuses the request.',
  503: 'The wizard did not answer within 10 seconds (Retry-After says when to try again); a later GET shows whether the change applied.',
};

/**
 * Response headers a client reads, as OpenAPI header schemas (JSON Schema: server.ts's swagger
 * `transform` carries them into the document, which the zod transform alone leaves out).
 */
export const RESPONSE_HEADERS = {
  wwwAuthenticate: { 'WWW-Authenticate': { type: 'string', description: 'The scheme to authenticate with: Bearer, with its realm.' } },
  retryAfter: { 'Retry-After': { type: 'integer', minimum: 0, description: 'Seconds to wait before sending the request again.' } },
  location: { Location: { type: 'string', description: 'The URL of the resource created.' } },
} as const;

/** The headers each problem carries (a token route's 401 challenges; a 503 says when to come back). */
const HEADERS: Record<number, object> = { 401: RESPONSE_HEADERS.wwwAuthenticate, 503: RESPONSE_HEADERS.retryAfter };

/** OpenAPI entries for the problems a route can answer. */
export function problems(...codes: number[]) {
  const out: Record<number, { description: string; content: Record<string, { schema: typeof Problem }>; headers?: object }> = {};
  for (const code of codes) {
    out[code] = {
      description: DESCRIPTIONS[code] ?? 'Refused.',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
      ...(HEADERS[code] ? { headers: HEADERS[code] } : {}),
    };
  }
  return out;
}

/** Problems every token route can answer: a malformed request, no valid token. */
export const TOKEN_PROBLEMS = [400, 401] as const;
/** A route that needs a role (`config.roles`): the other roles get 403. */
export const ROLE_PROBLEMS = [403] as const;
/** A route that reads a body (POST; a GET's body is never read): too large, not JSON. */
export const BODY_PROBLEMS = [413, 415] as const;

export function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new HttpProblem(401, 'Send a token as "Authorization: Bearer <token>".');
  return request.auth;
}

export const bearer = [{ bearerAuth: [] as string[] }];

/** The parameters the request's route takes in its query (its schema is a zod object); undefined when it says none. */
export function queryNames(request: FastifyRequest): ReadonlySet<string> | undefined {
  const shape = (request.routeOptions.schema?.querystring as { shape?: unknown } | undefined)?.shape;
  return shape !== null && typeof shape === 'object' ? new Set(Object.keys(shape)) : undefined;
}
