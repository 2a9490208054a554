// Every refusal leaves the server as application/problem+json (RFC 9457).
// The named errors of domain/errors.ts are mapped to statuses here, once;
// anything unexpected becomes a 500 with a generic detail (and is logged).
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { BadInput, NotFound, RuleViolation, StepConflict, Unavailable } from '../domain/errors';
import type { Problem } from '../domain/schemas';
import { SCIM_CONTENT_TYPE, scimError, underScim } from '../domain/scim';
import { classifyDbError } from '../infra/db-errors';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A stable `type` URI per status: clients switch on `status`, humans read `title`. */
function typeFor(status: number): string {
  return `https://httpstatuses.io/${status}`;
}

export function problem(status: number, detail: string, errors?: Problem['errors']): Problem {
  const p: Problem = { type: typeFor(status), title: TITLES[status] ?? 'Error', status, detail };
  if (errors && errors.length > 0) p.errors = errors;
  return p;
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type(PROBLEM_CONTENT_TYPE).send(p);
}

/** A refusal thrown by a hook or handler that already knows its status (401, 403, 405, ...). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

type Issue = { path: string; message: string };

/** Dotted path of a validation issue: `leads.3.name` in the body, `query.limit`, `params.id`. */
function issuePath(context: string | undefined, instancePath: string): string {
  const inner = instancePath.split('/').filter((s) => s.length > 0).join('.');
  const prefix = context === 'querystring' ? 'query' : context === 'params' ? 'params' : context === 'headers' ? 'headers' : '';
  return [prefix, inner].filter((s) => s.length > 0).join('.') || (prefix || '(body)');
}

/** A zod issue as it arrives inside a union's `errors` (paths relative to the union). */
type ZodIssueLike = { code?: string; path?: (string | number)[]; message?: string; keys?: unknown; errors?: unknown };

/**
 * A refused union's branches: each one's issues, the body's fields each does
 * not know (at the union's own level: a field unknown inside one of a
 * branch's items is that branch's issue, not a sign of another branch), and
 * the fields no branch knows.
 */
function unionBranches(errors: unknown) {
  const lists = Array.isArray(errors) ? errors.filter((b): b is ZodIssueLike[] => Array.isArray(b)) : [];
  const unknownTo = lists.map(
    (branch) =>
      new Set(branch.flatMap((i) => (i.code === 'unrecognized_keys' && Array.isArray(i.keys) && !i.path?.length ? i.keys.map(String) : []))),
  );
  // A field no branch knows is simply unknown, and says nothing about which branch was meant.
  const nobodys = new Set([...(unknownTo[0] ?? [])].filter((field) => unknownTo.every((keys) => keys.has(field))));
  return { lists, unknownTo, nobodys };
}
type UnionBranches = ReturnType<typeof unionBranches>;

/**
 * A union refused: when exactly one branch knows all of the body's fields
 * (apart from those no branch knows), the body was meant as that branch, and
 * its issues name the fields ({targetUserId: "\ud800"} names targetUserId,
 * not the body; {targetUserId, foo} names foo). Otherwise the union itself is
 * the issue.
 */
function unionIssues(at: string, { lists, unknownTo, nobodys }: UnionBranches): ZodIssueLike[] | null {
  const fitting = lists.filter((_, i) => [...unknownTo[i]!].every((field) => nobodys.has(field)));
  if (fitting.length !== 1) return null;
  return fitting[0]!.map((i) => ({ ...i, path: [...at.split('/').filter((x) => x.length > 0), ...(i.path ?? [])] }));
}

/**
 * A union of objects none of whose branches fits the body alone (none of its
 * fields given, or fields of two): the fields that tell the branches apart
 * (each missing from one branch, or known to one and not to another), and
 * the fields no branch knows; each by name (the same answer whichever way
 * the body is wrong).
 */
function unionFields({ lists, unknownTo, nobodys }: UnionBranches): { alternatives: string[]; unknown: string[] } {
  const named = new Set<string>();
  for (const branch of lists) for (const i of branch) if (i.code !== 'unrecognized_keys' && i.path?.length) named.add(String(i.path[0]));
  for (const keys of unknownTo) keys.forEach((key) => named.add(key));
  return { alternatives: [...named].filter((field) => !nobodys.has(field)).sort(), unknown: [...nobodys].sort() };
}

function zodIssues(context: string | undefined, issue: ZodIssueLike, into: Issue[]): void {
  const at = `/${(issue.path ?? []).join('/')}`;
  if (issue.code === 'unrecognized_keys' && Array.isArray(issue.keys)) {
    for (const key of issue.keys) into.push({ path: issuePath(context, `${at}/${String(key)}`), message: 'is not a known field' });
    return;
  }
  if (issue.code === 'invalid_union') {
    const branches = unionBranches(issue.errors);
    const inner = unionIssues(at, branches);
    if (inner) {
      for (const i of inner) zodIssues(context, i, into);
      return;
    }
    // ({} or {targetUserId, distribution} for the lead step: each field named, with the rule.)
    const { alternatives, unknown } = unionFields(branches);
    if (alternatives.length > 1) {
      const rule = `give exactly one of ${alternatives.slice(0, -1).join(', ')} or ${alternatives.at(-1)}`;
      for (const field of unknown) into.push({ path: issuePath(context, `${at}/${field}`), message: 'is not a known field' });
      for (const field of alternatives) into.push({ path: issuePath(context, `${at}/${field}`), message: rule });
      return;
    }
  }
  into.push({ path: issuePath(context, at), message: issue.message ?? 'is invalid' });
}

function validationIssues(err: FastifyError & { validationContext?: string }): Issue[] {
  if (!hasZodFastifySchemaValidationErrors(err)) {
    return (err.validation ?? []).map((v) => ({
      path: issuePath(err.validationContext, v.instancePath ?? ''),
      message: v.message ?? 'is invalid',
    }));
  }
  const issues: Issue[] = [];
  for (const v of err.validation) {
    const params = v.params as ZodIssueLike;
    zodIssues(
      err.validationContext,
      { ...params, code: v.keyword, message: v.message, path: v.instancePath.split('/').filter((x) => x.length > 0) },
      issues,
    );
  }
  return issues;
}

function describeIssues(issues: Issue[]): string {
  const shown = issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`);
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  return `The request is malformed: ${shown.join('; ')}${more}.`;
}

/**
 * Maps anything thrown during a request to a problem. Recognises the named
 * errors by class and by `name` (an error that crossed a module or process
 * boundary keeps its name but not its class).
 */
export function toProblem(err: unknown): { problem: Problem; headers: Record<string, string>; unexpected: boolean } {
  const e = err as (FastifyError & { validationContext?: string }) | undefined;
  const name = typeof e?.name === 'string' ? e.name : '';
  const message = typeof e?.message === 'string' && e.message.length > 0 ? e.message : '';

  if (err instanceof HttpProblem) {
    return { problem: problem(err.status, err.message), headers: err.headers, unexpected: false };
  }
  if (e && Array.isArray(e.validation)) {
    const issues = validationIssues(e);
    return { problem: problem(400, describeIssues(issues), issues), headers: {}, unexpected: false };
  }
  if (err instanceof BadInput || name === 'BadInput') {
    const errors = (err as BadInput).errors ?? [];
    return { problem: problem(400, message || 'The request is malformed.', errors), headers: {}, unexpected: false };
  }
  if (err instanceof NotFound || name === 'NotFound') {
    return { problem: problem(404, message || 'Not found.'), headers: {}, unexpected: false };
  }
  if (err instanceof StepConflict || name === 'StepConflict') {
    return { problem: problem(409, message || 'The request does not fit the current state.'), headers: {}, unexpected: false };
  }
  if (err instanceof RuleViolation || name === 'RuleViolation') {
    return { problem: problem(422, message || 'A business rule refuses this request.'), headers: {}, unexpected: false };
  }
  if (err instanceof Unavailable || name === 'Unavailable') {
    const seconds = (err as Unavailable).retryAfterSeconds ?? 5;
    return {
      problem: problem(503, message || 'The wizard did not answer in time; try again shortly.'),
      headers: { 'retry-after': String(seconds) },
      unexpected: false,
    };
  }
  // Fastify's own client errors (bad JSON, body too large, wrong media type, ...).
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 0;
  if (status >= 400 && status < 500) {
    return { problem: problem(status, clientErrorDetail(e!, status)), headers: {}, unexpected: false };
  }
  // A transaction past its limit (REQUEST_TRANSACTION_LIMITS: the database too busy, or a lock held
  // long) was rolled back, nothing of it kept: 503, to be sent again.
  if (name === 'PrismaClientKnownRequestError' && (e as { code?: unknown } | undefined)?.code === 'P2028') {
    return {
      problem: problem(503, 'The database was too busy to finish this request in time; nothing of it was kept. Try again shortly.'),
      headers: { 'retry-after': '5' },
      unexpected: false,
    };
  }
  // Our dependencies being away is not the client's fault either: 503, retry later.
  if (name === 'ServiceError' || name === 'PrismaClientInitializationError' || name === 'TransportError') {
    return {
      problem: problem(503, 'A service this request needs is unavailable right now; try again shortly.'),
      headers: { 'retry-after': '5' },
      unexpected: true,
    };
  }
  // The database away, or asking to try again (a restart, a deadlock, too many connections): 503 too
  // (operator probe 38: with PostgreSQL down every request answered 500).
  if (classifyDbError(err).kind === 'transient') {
    return {
      problem: problem(503, 'The database is unavailable right now; try again shortly.'),
      headers: { 'retry-after': '5' },
      unexpected: true,
    };
  }
  return {
    problem: problem(500, 'Something went wrong on our side. The request id in the logs identifies it.'),
    headers: {},
    unexpected: true,
  };
}

function clientErrorDetail(e: FastifyError, status: number): string {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The body is not valid JSON.';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The body is larger than the 10 MB limit.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Send the body as application/json.';
    default:
      if (status === 400 && /proto/i.test(e.message)) return 'The body is not acceptable JSON.';
      return e.message || TITLES[status] || 'The request was refused.';
  }
}

export function errorHandler(this: unknown, err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { problem: p, headers, unexpected } = toProblem(err);
  if (unexpected) request.log.error({ err }, 'unexpected error');
  else if (p.status >= 500) request.log.warn({ err }, 'refused');
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return sendProblem(reply, p);
}

/**
 * Requests Node refuses before Fastify sees them (headers or URL over Node's
 * 16 KB limit, a malformed request line, a client too slow): problem+json
 * too, as Fastify's default handler answers plain JSON.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request line or headers are larger than the server accepts; send long values in a body.']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request took too long to arrive.']
        : [400, 'The request is not valid HTTP.'];
  const title = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : TITLES[400]!;
  // Under /scim/v2 (as far as the request line arrived) the identity provider reads SCIM errors only.
  const packet = (err as { rawPacket?: unknown }).rawPacket;
  const path = Buffer.isBuffer(packet) ? /^[A-Z]+ (\S+)/.exec(packet.subarray(0, 64).toString('latin1'))?.[1] : undefined;
  const [type, body] = path !== undefined && underScim(path)
    ? [SCIM_CONTENT_TYPE, JSON.stringify(scimError(status, detail))]
    : [PROBLEM_CONTENT_TYPE, JSON.stringify({ type: typeFor(status), title, status, detail })];
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${type}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}
