// The HR offboarding hook's signature: `X-Signature: t=<unix seconds>,v1=<hex>`
// where v1 is HMAC-SHA256("<t>.<raw body>") under the workspace's hook secret.
// Verified over the raw bytes as received, in constant time, within 5 minutes.
import { createHmac, timingSafeEqual } from 'node:crypto';

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
