// Every refusal under /scim/v2 leaves as a SCIM error (RFC 7644 §3.12) with
// application/scim+json, never as the v1 API's problem+json. The named errors
// of domain/errors.ts map here once, as api/problems.ts maps them for /v1.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SCIM_CONTENT_TYPE, scimError, type ScimError, type ScimErrorType } from '../../domain/scim';
import { toProblem } from '../problems';

/** A refusal that already knows its SCIM status and scimType. */
export class ScimProblem extends Error {
  override name = 'ScimProblem' as const;
  constructor(
    readonly status: number,
    message: string,
    readonly scimType?: ScimErrorType,
  ) {
    super(message);
  }
}

export function sendScim(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .type(`${SCIM_CONTENT_TYPE}; charset=utf-8`)
    .serializer((b: unknown) => JSON.stringify(b))
    .send(body);
}

export function toScimError(err: unknown): { status: number; body: ScimError; headers: Record<string, string>; unexpected: boolean } {
  if (err instanceof ScimProblem) {
    // RFC 6750 §3: a refused bearer token names the scheme.
    const headers: Record<string, string> = err.status === 401 ? { 'www-authenticate': 'Bearer realm="scim"' } : {};
    return { status: err.status, body: scimError(err.status, err.message, err.scimType), headers, unexpected: false };
  }
  const name = (err as { name?: string } | undefined)?.name;
  const message = (err as { message?: string } | undefined)?.message ?? '';
  // A business rule (the last owner, ...) or a wizard past CONFIRM: the
  // requested change does not fit the user's current state.
  if (name === 'RuleViolation' || name === 'StepConflict') {
    return { status: 400, body: scimError(400, message, 'mutability'), headers: {}, unexpected: false };
  }
  // Everything else as /v1 would answer it (bad JSON, body too large, a
  // service away), re-dressed as a SCIM error.
  const { problem, headers, unexpected } = toProblem(err);
  if (name === 'Unavailable') {
    // /v1's answer tells an admin to read the deletion; an identity provider has none to read.
    const detail =
      "The user's deletion wizard did not answer in time. Send the same request again after Retry-After: " +
      'it applies once (a GET of the user shows whether it already did).';
    return { status: problem.status, body: scimError(problem.status, detail), headers, unexpected };
  }
  const scimType: ScimErrorType | undefined = problem.status === 400 ? (name === 'BadInput' ? 'invalidValue' : 'invalidSyntax') : undefined;
  return { status: problem.status, body: scimError(problem.status, problem.detail, scimType), headers, unexpected };
}

/** The HTTP status the SCIM error handler answers this error with. */
export function scimStatusOf(err: unknown): number {
  return toScimError(err).status;
}

export function scimErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body, headers, unexpected } = toScimError(err);
  if (unexpected) request.log.error({ err }, 'unexpected error');
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return sendScim(reply, status, body);
}
