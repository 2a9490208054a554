// The HR offboarding hook's two signature schemes. The first, `X-Signature: t=<unix seconds>,v1=<hex>`
// where v1 is HMAC-SHA256("<t>.<raw body>") under the workspace's hook secret.
// Verified over the raw bytes as received, in constant time, within 5 minutes.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

function mac(secret: string, t: string, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', secret)
    .update(`${t}.`, 'utf8')
    .update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody)
    .digest();
}

/** The header value a sender puts on `rawBody` (HR systems, scripts, tests). */
export function signHookBody(secret: string, rawBody: Buffer | string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${mac(secret, String(t), rawBody).toString('hex')}`;
}

/**
 * Why the signature is refused, or null when it is good. Several `v1=`
 * entries are allowed (a sender rotating secrets); one matching is enough.
 */
export function signatureProblem(
  secret: string,
  rawBody: Buffer,
  header: string | string[] | undefined,
  nowSeconds = Math.floor(Date.now() / 1000),
): string | null {
  if (typeof header !== 'string' || header.length === 0 || header.length > 2_000) {
    return 'Sign the body: X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.';
  }
  let t: string | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) candidates.push(Buffer.from(value, 'hex'));
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || candidates.length === 0) {
    return 'The X-Signature header is malformed: expected t=<unix seconds>,v1=<64 hex digits>.';
  }
  if (Math.abs(nowSeconds - Number(t)) > SIGNATURE_TOLERANCE_SECONDS) {
    return 'The signature timestamp is more than 5 minutes away from now; sign the request again.';
  }
  const expected = mac(secret, t, rawBody);
  let ok = false;
  for (const c of candidates) {
    // Every candidate is compared, matching or not, in constant time.
    if (timingSafeEqual(c, expected)) ok = true;
  }
  return ok ? null : 'The signature does not match the body.';
}

// ---- Standard Webhooks (https://www.standardwebhooks.com) -------------------
// `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC>` over
// "<id>.<timestamp>.<raw body>", keyed with the workspace's `whsec_…` secret.
// The `standardwebhooks` package does the verification (5-minute window).
export const STANDARD_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/** A new `whsec_…` secret: 32 random bytes, base64. */
export function newStandardSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * True when the request uses the Standard Webhooks scheme rather than
 * X-Signature: it carries a `webhook-signature`, or no X-Signature and some
 * Standard header. A sender's X-Signature with a `webhook-id` of its own (a
 * delivery id) is an X-Signature request.
 */
export function usesStandardWebhooks(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers['webhook-signature'] !== undefined) return true;
  return headers['x-signature'] === undefined && STANDARD_HEADERS.some((h) => headers[h] !== undefined);
}

const STANDARD_WORDS: Record<string, string> = {
  'Missing required headers': 'Send webhook-id, webhook-timestamp and webhook-signature together.',
  'Invalid Signature Headers': 'The webhook-timestamp header is not a number of unix seconds.',
  'Message timestamp too old': 'The signature timestamp is more than 5 minutes away from now; sign the request again.',
  'Message timestamp too new': 'The signature timestamp is more than 5 minutes away from now; sign the request again.',
  'No matching signature found': 'The signature does not match the body.',
};

/**
 * The longest `webhook-id` kept, in UTF-8 bytes: it keys the stored answer
 * (webhook_deliveries' primary key), and PostgreSQL refuses an index entry
 * over about 2,700 bytes; a header of 2,000 Latin-1 characters can take 4,000.
 */
export const MAX_WEBHOOK_ID_BYTES = 1_000;

/** Why a Standard Webhooks delivery is refused, or null when it is good. */
export function standardSignatureProblem(
  secret: string,
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
): string | null {
  const given: Record<string, string> = {};
  for (const h of STANDARD_HEADERS) {
    const v = headers[h];
    if (typeof v !== 'string' || v.length === 0) return STANDARD_WORDS['Missing required headers']!;
    if (v.length > 2_000) return `The ${h} header is longer than 2,000 characters.`;
    given[h] = v;
  }
  if (Buffer.byteLength(given['webhook-id']!, 'utf8') > MAX_WEBHOOK_ID_BYTES) {
    return `The webhook-id header is longer than ${MAX_WEBHOOK_ID_BYTES} bytes.`;
  }
  try {
    new Webhook(secret).verify(rawBody, given, { jsonParse: false });
    return null;
  } catch (err) {
    if (err instanceof WebhookVerificationError) return STANDARD_WORDS[err.message] ?? 'The signature does not match the body.';
    return 'The signature does not match the body.';
  }
}

/** Standard Webhooks headers a sender puts on `rawBody` (HR systems, scripts, tests). */
export function signStandard(secret: string, id: string, rawBody: string | Buffer, at = new Date()): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, rawBody),
  };
}
