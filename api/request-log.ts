// A request as the API's log lines show it. The query string is where callers
// put personal data (an identity provider's `filter=userName eq "<email>"`, a
// lead owner, a cursor), and README promises no emails in the log: a line
// keeps the path and the query's parameter names, and a value only where the
// parameter is a number or an enum word of ours.
import type { FastifyRequest } from 'fastify';
import { DeletionStatus, UserStatus } from '../domain/schemas';

export const REDACTED = '[redacted]';

/** Parameters whose value is kept when it looks like what they take (a count, a status); every other is redacted. */
const HARMLESS: Record<string, RegExp> = {
  limit: /^\d{1,9}$/,
  count: /^\d{1,9}$/,
  startIndex: /^\d{1,9}$/,
  status: new RegExp(`^(?:${[...UserStatus.options, ...DeletionStatus.options].join('|')})$`),
  sortOrder: /^(?:ascending|descending)$/,
};
/** A parameter name that can be written as it is (an email or a sentence given as a name is not). */
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** `url` with each query value that could carry personal data, and each odd parameter name, as `[redacted]`. */
export function urlForLog(url: string): string {
  const at = url.indexOf('?');
  if (at < 0) return url;
  const parts: string[] = [];
  for (const [name, value] of new URLSearchParams(url.slice(at + 1))) {
    const shown = value === '' || (NAME.test(name) && HARMLESS[name]?.test(value)) ? value : REDACTED;
    parts.push(`${NAME.test(name) ? name : REDACTED}=${shown}`);
  }
  return parts.length === 0 ? url.slice(0, at) : `${url.slice(0, at)}?${parts.join('&')}`;
}

/** The `req` of Fastify's request lines: the URL as it came (before `rewriteUrl`), its query as `urlForLog` keeps it. */
export function requestForLog(req: FastifyRequest) {
  const version = req.headers['accept-version'];
  return {
    method: req.method,
    url: urlForLog(req.originalUrl ?? req.url),
    version: typeof version === 'string' ? version : undefined,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
