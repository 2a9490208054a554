// A request body as text. api.md: JSON in and out, UTF-8. Bytes that are not
// UTF-8 are the client's mistake (400), never text with U+FFFD stored in
// their place; a body declared in another charset is not one we read (415).
// The /v1 routes, SCIM and the HR hook (after its signature) read bodies here.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BadInput } from '../domain/errors';
import { HttpProblem } from './problems';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/** The charset `contentType` declares is UTF-8, or none: else 415. */
function requireUtf8Charset(contentType: string | undefined): void {
  const charset = CHARSET.exec(contentType ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpProblem(415, `Send the body in UTF-8 (charset=utf-8, or no charset), not ${charset === '' ? 'an empty charset' : charset}.`);
  }
}

/**
 * The body comes as it is (no Content-Encoding, or `identity`): else 415,
 * with `Accept-Encoding: identity` (RFC 9110 §15.5.16). Compressed bytes
 * would otherwise be read as text that is not UTF-8 (400), which misnames
 * the sender's trouble.
 */
function requireIdentityEncoding(contentEncoding: string | string[] | undefined): void {
  const codings = [contentEncoding ?? []]
    .flat()
    .flatMap((v) => v.split(','))
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > 0) {
    throw new HttpProblem(415, `Send the body uncompressed: Content-Encoding ${codings.join(', ')} is not taken.`, { 'accept-encoding': 'identity' });
  }
}

/** The body's text; 400 when its bytes are not UTF-8. */
function utf8Text(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new HttpProblem(400, 'The body is not valid UTF-8: send JSON encoded in UTF-8.');
  }
}

/**
 * Why Fastify's JSON parser refused `text`: JSON that names `__proto__` (or
 * `constructor.prototype`), which it never accepts, is said so and named
 * (400, as any unknown field); anything else stays `notJson`, the refusal of
 * text that is not JSON at all.
 */
export function jsonRefusal(text: string, notJson: Error): Error {
  let named: string | null = null;
  try {
    JSON.parse(text, function (this: unknown, key: string, value: unknown) {
      if (key === '__proto__') named ??= '__proto__';
      else if (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value) named ??= 'constructor';
      return value;
    });
  } catch {
    return notJson;
  }
  if (named === null) return notJson;
  return new BadInput(`The body names "${named}", which is not a field of any request; send it without.`, [
    { path: `body.${named}`, message: 'is not a known field' },
  ]);
}

/**
 * A request body's text, as every JSON body is read: sent as it is (no
 * Content-Encoding, else 415), declared UTF-8 or nothing (else 415), and
 * UTF-8 bytes (else 400).
 */
export function bodyText(req: FastifyRequest, bytes: Buffer): string {
  requireIdentityEncoding(req.headers['content-encoding']);
  requireUtf8Charset(req.headers['content-type']);
  return utf8Text(bytes);
}

type ParseJson = ReturnType<FastifyInstance['getDefaultJsonParser']>;
type Done = (err: Error | null, body?: unknown) => void;

/**
 * A content-type parser (`parseAs: 'buffer'`) for a JSON body type: UTF-8
 * only, then Fastify's own JSON parser `parseJson`; an empty or blank body
 * reads as no body.
 */
export function utf8JsonParser(parseJson: ParseJson) {
  return (req: FastifyRequest, body: string | Buffer, done: Done): void => {
    let text: string;
    try {
      text = bodyText(req, body as Buffer);
    } catch (err) {
      return done(err as Error, undefined);
    }
    if (/^\s*$/.test(text)) return done(null, undefined);
    parseJson(req, text, (err, value) => (err ? done(jsonRefusal(text, err), undefined) : done(null, value)));
  };
}
