// Temporal payloads encrypted end to end: the server, its database and its Web
// UI only ever hold ciphertext of names, emails and reasons. AES-256-GCM, a
// fresh 96-bit nonce per payload, the key id in the payload's metadata (and
// bound to the ciphertext as associated data), so keys rotate: the first key
// of PAYLOAD_ENCRYPTION_KEYS encrypts, every key listed decrypts.
//
// A payload without our encoding metadata is passed through as it is: that is
// how histories written before encryption (and tests/fixtures/histories,
// recorded in clear) keep decoding and replaying. Codecs run outside the
// workflow sandbox (the client, the worker's activation path, the replayer),
// so the workflow bundle does not carry this file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { workspaceOfWorkflowId } from '../domain/wizard-state';
import { ConfigError, type Config } from './config';

export const ENCODING = 'binary/encrypted';
export const KEY_ID = 'encryption-key-id';
/**
 * The workspace whose wizard a payload belongs to (from the workflow id of
 * Temporal's serialization context), bound into the encryption (additional
 * data: changing it breaks decryption), so the codec endpoint decrypts a
 * payload only for that workspace's admins (api/codec.ts). Absent on payloads
 * with no wizard to name, and on those written before it existed.
 */
export const WORKSPACE = 'encryption-workspace';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const fromUtf8 = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : '');

export interface PayloadKey {
  id: string;
  key: Buffer;
}

export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: PayloadKey;

  /**
   * `keys[0]` encrypts; all of them decrypt. `sealWorkspace` false: payloads
   * are sealed for no workspace, as before 2026-12-03 (releases from then on
   * read both).
   */
  constructor(
    keys: PayloadKey[],
    private readonly sealWorkspace = true,
  ) {
    if (keys.length === 0) throw new ConfigError('No payload encryption key was given: set PAYLOAD_ENCRYPTION_KEYS.');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return this.encodeFor(payloads, this.sealWorkspace ? workspaceOfWorkflowId(context?.workflowId) : null);
  }

  /** Encrypts each payload as belonging to `workspaceId` (WORKSPACE), or to none. */
  encodeFor(payloads: Payload[], workspaceId: string | null): Payload[] {
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const nonce = crypto.randomBytes(NONCE_BYTES);
      const cipher = crypto.createCipheriv('aes-256-gcm', this.current.key, nonce);
      cipher.setAAD(additionalData(this.current.id, workspaceId));
      const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      const metadata: Record<string, Uint8Array> = { encoding: utf8(ENCODING), [KEY_ID]: utf8(this.current.id) };
      if (workspaceId !== null) metadata[WORKSPACE] = utf8(workspaceId);
      return { metadata, data: sealed };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!encrypted(payload)) return payload; // written in clear (before encryption)
      const id = fromUtf8(payload.metadata?.[KEY_ID]);
      const key = this.byId.get(id);
      if (!key) {
        throw new Error(`A payload is encrypted with key "${id}", which is not in PAYLOAD_ENCRYPTION_KEYS: add that key back (keep retired keys for decryption).`);
      }
      const sealed = Buffer.from(payload.data ?? new Uint8Array());
      if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error(`A payload encrypted with key "${id}" is truncated.`);
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE_BYTES));
      decipher.setAAD(additionalData(id, payloadWorkspace(payload)));
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new Error(`A payload does not decrypt with key "${id}": the key under that id in PAYLOAD_ENCRYPTION_KEYS is not the one it was encrypted with.`);
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** What a payload's encryption binds besides its ciphertext: its key id, and its workspace when it names one. */
function additionalData(keyId: string, workspaceId: string | null): Buffer {
  return Buffer.from(workspaceId === null ? keyId : `${keyId}\u0000${workspaceId}`, 'utf8');
}

/** The workspace an encrypted payload was sealed for (WORKSPACE), or null. */
export function payloadWorkspace(payload: Payload): string | null {
  const tag = payload.metadata?.[WORKSPACE];
  return tag ? fromUtf8(tag) : null;
}

/** Whether a payload is encrypted by this codec. */
export function encrypted(payload: Payload): boolean {
  return fromUtf8(payload.metadata?.encoding) === ENCODING;
}

/**
 * `id=base64,id=base64`: each key 32 bytes (e.g. `k2=$(openssl rand -base64 32)`),
 * the first one encrypts. One sentence on a bad value.
 */
export function parsePayloadKeys(value: string): PayloadKey[] {
  const entries = value.split(',').map((s) => s.trim()).filter(Boolean);
  const keys = entries.map((entry) => {
    const at = entry.indexOf('=');
    const id = at > 0 ? entry.slice(0, at) : '';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
      throw new ConfigError(`PAYLOAD_ENCRYPTION_KEYS has an entry without a key id: write each key as <id>=<base64 of 32 bytes>, separated by commas.`);
    }
    const key = Buffer.from(entry.slice(at + 1), 'base64');
    if (key.length !== 32) {
      throw new ConfigError(`PAYLOAD_ENCRYPTION_KEYS key "${id}" is ${key.length} bytes, not 32: make one with \`openssl rand -base64 32\`.`);
    }
    return { id, key };
  });
  if (keys.length === 0) throw new ConfigError('PAYLOAD_ENCRYPTION_KEYS is empty: give at least one <id>=<base64 of 32 bytes>.');
  const ids = keys.map((k) => k.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new ConfigError(`PAYLOAD_ENCRYPTION_KEYS names key "${twice}" twice: give each key its own id.`);
  return keys;
}

export const KEY_FILE = 'payload-encryption-keys';

/**
 * The config with PAYLOAD_ENCRYPTION_KEYS filled in, for the processes that
 * start the service. Production (TEMPORAL_ADDRESS set) without keys is
 * refused; embedded mode makes a key once and keeps it in DATA_DIR (0600), so
 * the next start reads its own histories.
 */
export function withPayloadKeys(config: Config): Config {
  if (config.PAYLOAD_ENCRYPTION_KEYS) {
    parsePayloadKeys(config.PAYLOAD_ENCRYPTION_KEYS);
    return config;
  }
  if (config.TEMPORAL_ADDRESS) {
    throw new ConfigError(
      'PAYLOAD_ENCRYPTION_KEYS is not set: with TEMPORAL_ADDRESS the service only runs with encrypted payloads, so set it to k1=<base64 of 32 random bytes> (openssl rand -base64 32), the same on the API and every worker.',
    );
  }
  const file = path.join(config.DATA_DIR, KEY_FILE);
  let value: string;
  if (fs.existsSync(file)) {
    value = fs.readFileSync(file, 'utf8').trim();
  } else {
    fs.mkdirSync(config.DATA_DIR, { recursive: true });
    value = `local-${new Date().toISOString().slice(0, 10)}=${crypto.randomBytes(32).toString('base64')}`;
    try {
      fs.writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      value = fs.readFileSync(file, 'utf8').trim(); // another process of ours made it first
    }
  }
  parsePayloadKeys(value);
  return { ...config, PAYLOAD_ENCRYPTION_KEYS: value };
}

/** The codec of the configured keys, or null when none are (payloads in clear). */
export function payloadCodec(config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'> & Partial<Pick<Config, 'PAYLOAD_SEAL_WORKSPACE'>>): AesGcmCodec | null {
  if (!config.PAYLOAD_ENCRYPTION_KEYS) return null;
  return new AesGcmCodec(parsePayloadKeys(config.PAYLOAD_ENCRYPTION_KEYS), config.PAYLOAD_SEAL_WORKSPACE !== 'false');
}

/** The data converter for clients, workers and replayers (Temporal's own, plus encryption when keys are set). */
export function dataConverter(config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'> & Partial<Pick<Config, 'PAYLOAD_SEAL_WORKSPACE'>>): DataConverter {
  const codec = payloadCodec(config);
  return codec ? { payloadCodecs: [codec] } : {};
}
