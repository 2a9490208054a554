// Encrypted payloads: what Temporal stores of a whole wizard holds no name,
// email or reason in clear, the history still replays through the codec,
// keys rotate, histories from before encryption still decode, production
// refuses to start without a key, and the Web UI's codec endpoint decodes
// behind the API's auth with the CORS the UI needs.
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { buildServer } from '../../api/server';
import { AesGcmCodec, ENCODING, KEY_FILE, WORKSPACE, dataConverter, encrypted, parsePayloadKeys, payloadCodec, payloadWorkspace, withPayloadKeys } from '../../infra/codec';
import { ConfigError, loadConfig } from '../../infra/config';
import { createApiToken } from '../../infra/tokens';
import { testEnv } from '../support/env';
import { makeWorkspace, wizardHarness, type WizardHarness } from '../support/wizard';
import { runWholeWizard, type WizardRun } from './wizard-run';

const execFileAsync = promisify(execFile);
const key = (id: string) => ({ id, key: crypto.randomBytes(32) });
const clear = (text: string): Payload => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(text)) });

describe('the codec', () => {
  test('encrypts each payload under the current key id, and decrypts it back', async () => {
    const k1 = key('k1');
    const codec = new AesGcmCodec([k1]);
    const [sealed] = await codec.encode([clear('zelda@example.test')]);
    expect(Buffer.from(sealed!.metadata!.encoding!).toString()).toBe(ENCODING);
    expect(Buffer.from(sealed!.metadata!['encryption-key-id']!).toString()).toBe('k1');
    expect(Buffer.from(sealed!.data!).includes('zelda')).toBe(false);
    const [back] = await codec.decode([sealed!]);
    expect(Buffer.from(back!.data!).toString()).toBe('"zelda@example.test"');
    // A fresh nonce each time: the same value never looks the same twice.
    const [again] = await codec.encode([clear('zelda@example.test')]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(sealed!.data!))).toBe(false);
  });

  test("a wizard's payload is sealed for its workspace, named from the workflow id; the name cannot be changed", async () => {
    const codec = new AesGcmCodec([key('k1')]);
    const [sealed] = await codec.encode([clear('zelda@example.test')], { type: 'workflow', namespace: 'ns', workflowId: 'deletion-ws1-user1' });
    expect(payloadWorkspace(sealed!)).toBe('ws1');
    expect(Buffer.from((await codec.decode([sealed!]))[0]!.data!).toString()).toBe('"zelda@example.test"');
    // Another workspace written in its place does not decrypt (the name is part of what is authenticated).
    const moved = { ...sealed!, metadata: { ...sealed!.metadata, [WORKSPACE]: Buffer.from('ws2') } };
    await expect(codec.decode([moved])).rejects.toThrow(/does not decrypt/);
    // Not a wizard's (or no context): sealed for none.
    const [none] = await codec.encode([clear('x')], { type: 'workflow', namespace: 'ns', workflowId: 'something-else' });
    expect(payloadWorkspace(none!)).toBeNull();
  });

  test('PAYLOAD_SEAL_WORKSPACE=false seals for no workspace, as releases before it read; the codec reads both', async () => {
    const k1 = key('k1');
    const keys = `k1=${k1.key.toString('base64')}`;
    const wizard = { type: 'workflow' as const, namespace: 'ns', workflowId: 'deletion-ws1-user1' };
    const [unsealed] = await payloadCodec({ PAYLOAD_ENCRYPTION_KEYS: keys, PAYLOAD_SEAL_WORKSPACE: 'false' })!.encode([clear('a')], wizard);
    const [sealed] = await payloadCodec({ PAYLOAD_ENCRYPTION_KEYS: keys })!.encode([clear('b')], wizard);
    expect([payloadWorkspace(unsealed!), payloadWorkspace(sealed!)]).toEqual([null, 'ws1']);
    // What a release before it did to decrypt: the key id alone as the additional data.
    const asBefore = (p: Payload) => {
      const data = Buffer.from(p.data!);
      const decipher = crypto.createDecipheriv('aes-256-gcm', k1.key, data.subarray(0, 12));
      decipher.setAAD(Buffer.from('k1'));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
    };
    expect(() => asBefore(unsealed!)).not.toThrow();
    expect(() => asBefore(sealed!)).toThrow();
    const codec = new AesGcmCodec([k1]);
    expect((await codec.decode([unsealed!, sealed!])).map((p) => Buffer.from(p.data!).toString())).toEqual(['"a"', '"b"']);
  });

  test('keys rotate: a new first key encrypts, the old one still decrypts; a dropped key is named', async () => {
    const [k1, k2] = [key('k1'), key('k2')];
    const [old] = await new AesGcmCodec([k1]).encode([clear('old')]);
    const rotated = new AesGcmCodec([k2, k1]);
    const [fresh] = await rotated.encode([clear('new')]);
    expect(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString()).toBe('k2');
    expect((await rotated.decode([old!, fresh!])).map((p) => Buffer.from(p.data!).toString())).toEqual(['"old"', '"new"']);
    await expect(new AesGcmCodec([k2]).decode([old!])).rejects.toThrow(/key "k1", which is not in PAYLOAD_ENCRYPTION_KEYS/);
  });

  test('a tampered payload or a wrong key under the same id does not decrypt', async () => {
    const k1 = key('k1');
    const [sealed] = await new AesGcmCodec([k1]).encode([clear('x')]);
    const bytes = Buffer.from(sealed!.data!);
    bytes[bytes.length - 20]! ^= 1;
    await expect(new AesGcmCodec([k1]).decode([{ ...sealed!, data: bytes }])).rejects.toThrow(/does not decrypt/);
    await expect(new AesGcmCodec([key('k1')]).decode([sealed!])).rejects.toThrow(/does not decrypt with key "k1"/);
  });

  test('payloads written before encryption pass through unchanged', async () => {
    const before = clear('recorded in clear');
    expect(await new AesGcmCodec([key('k1')]).decode([before])).toEqual([before]);
  });

  test.each([
    ['no key id', 'k1', /without a key id/],
    ['a short key', 'k1=c2hvcnQ=', /"k1" is 5 bytes, not 32/],
    ['one id twice', `k1=${crypto.randomBytes(32).toString('base64')},k1=${crypto.randomBytes(32).toString('base64')}`, /names key "k1" twice/],
  ])('PAYLOAD_ENCRYPTION_KEYS with %s is refused in one sentence', (_what, value, expected) => {
    expect(() => parsePayloadKeys(value)).toThrow(ConfigError);
    expect(() => parsePayloadKeys(value)).toThrow(expected);
  });

  test('production (TEMPORAL_ADDRESS set) without a key refuses to start; embedded mode makes one and keeps it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-keys-'));
    try {
      expect(() => withPayloadKeys(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', DATA_DIR: dir }))).toThrow(
        /^PAYLOAD_ENCRYPTION_KEYS is not set: with TEMPORAL_ADDRESS the service only runs with encrypted payloads, [^.]*\.$/,
      );
      expect(fs.readdirSync(dir)).toEqual([]);
      const first = withPayloadKeys(loadConfig({ DATA_DIR: dir }));
      expect(parsePayloadKeys(first.PAYLOAD_ENCRYPTION_KEYS!)).toHaveLength(1);
      expect(fs.statSync(path.join(dir, KEY_FILE)).mode & 0o777).toBe(0o600);
      expect(withPayloadKeys(loadConfig({ DATA_DIR: dir })).PAYLOAD_ENCRYPTION_KEYS).toBe(first.PAYLOAD_ENCRYPTION_KEYS);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test.each(['worker/main.ts', 'api/main.ts'])('%s with TEMPORAL_ADDRESS and no PAYLOAD_ENCRYPTION_KEYS exits 1 with one sentence', (entry) => {
  const { PAYLOAD_ENCRYPTION_KEYS: _key, ...env } = process.env;
  const run = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: path.resolve(__dirname, '../..'),
    env: { ...env, TEMPORAL_ADDRESS: testEnv().temporalAddress, DATABASE_URL: testEnv().databaseUrl, WORKER_METRICS_PORT: '0' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr.trim()).toMatch(/^PAYLOAD_ENCRYPTION_KEYS is not set: with TEMPORAL_ADDRESS the service only runs with encrypted payloads, [^\n]*\.$/);
});

describe('a whole wizard on Temporal', () => {
  let h: WizardHarness;
  let run: WizardRun;
  beforeAll(async () => {
    h = await wizardHarness({ batchSize: 1_000 });
    run = await runWholeWizard(h);
  });
  afterAll(() => h?.close());

  test("the raw history holds no name, email or reason in clear, and replays through the codec", async () => {
    expect(h.config.PAYLOAD_ENCRYPTION_KEYS).toBeTruthy();
    // The history exactly as the server stores and serves it (no codec on this path).
    const raw = await h.temporal.workflowService.getWorkflowExecutionHistory({
      namespace: testEnv().namespace,
      execution: { workflowId: run.workflowId },
      maximumPageSize: 10_000,
    });
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(raw.history!).finish());
    expect(raw.history!.events!.length).toBeGreaterThan(10);
    for (const secret of run.secrets) {
      expect({ secret, inHistory: bytes.includes(Buffer.from(secret, 'utf8')) }).toEqual({ secret, inHistory: false });
    }
    // Every payload in it is sealed for the wizard's workspace (so the codec endpoint shows it to that
    // workspace's admins only).
    const sealedFor = new Set<string | null>();
    const visit = (value: unknown): void => {
      if (!value || typeof value !== 'object') return;
      if (Array.isArray(value)) return value.forEach(visit);
      const o = value as Record<string, unknown>;
      if (o.metadata && typeof o.metadata === 'object' && 'data' in o && encrypted(o as Payload)) sealedFor.add(payloadWorkspace(o as Payload));
      else Object.values(o).forEach(visit);
    };
    visit(raw.history!.events);
    expect([...sealedFor]).toEqual([run.workspaceId]);
    // The wizard's inputs are in there, encrypted: the codec finds them.
    const started = raw.history!.events![0]!.workflowExecutionStartedEventAttributes!;
    const inputs = await payloadCodec(h.config)!.decode((started.input?.payloads ?? []) as Payload[]);
    expect(inputs.map((p) => Buffer.from(p.data!).toString()).join(' ')).toContain(run.deletionId);

    const history = await h.temporal.workflow.getHandle(run.workflowId).fetchHistory();
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: testEnv().workflowBundlePath! }, dataConverter: dataConverter(h.config) },
      history,
      run.workflowId,
    );
  });

  /** The API on a port of its own, its codec endpoint answering the Web UI at http://ui.test:8233. */
  async function codecServer() {
    const app = buildServer({
      prisma: h.prisma,
      wizard: h.wizard,
      health: async () => ({ database: true, temporal: true }),
      config: { ...h.config, CODEC_CORS_ORIGINS: 'http://ui.test:8233' },
      codec: payloadCodec(h.config)!,
      logger: false,
      webDir: '/nonexistent',
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return { app, base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
  }

  test('the Temporal CLI shows the history in clear through the codec endpoint, as the README says', async () => {
    const { app, base } = await codecServer();
    try {
      // An admin of the wizard's workspace (the codec shows a workspace's payloads to its own admins only).
      const admin = await h.prisma.user.findFirstOrThrow({ where: { workspaceId: run.workspaceId, role: 'ADMIN' } });
      const token = await createApiToken(h.prisma, { workspaceId: run.workspaceId, userId: admin.id, label: 'codec' });
      const env = testEnv();
      // The CLI sends `{}` for a list with no payloads (protobuf JSON leaves an empty list out):
      // the wizard's history has such lists (an update or activity with no result).
      const { stdout } = await execFileAsync(
        env.cliPath,
        ['workflow', 'show', '-w', run.workflowId, '--address', env.temporalAddress, '--namespace', env.namespace,
          '--codec-endpoint', `${base}/codec`, '--codec-auth', `Bearer ${token}`],
        { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      );
      for (const secret of run.inputSecrets) expect({ secret, shown: stdout.includes(secret) }).toEqual({ secret, shown: true });
      // An admin of another workspace gets the history still encrypted.
      const other = await makeWorkspace(h.prisma, { admin: 'ADMIN' });
      const otherToken = await createApiToken(h.prisma, { workspaceId: other.id, userId: other.users.admin!.id, label: 'codec' });
      const { stdout: theirs } = await execFileAsync(
        env.cliPath,
        ['workflow', 'show', '-w', run.workflowId, '--address', env.temporalAddress, '--namespace', env.namespace,
          '--codec-endpoint', `${base}/codec`, '--codec-auth', `Bearer ${otherToken}`],
        { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
      );
      for (const secret of run.inputSecrets) expect({ secret, shown: theirs.includes(secret) }).toEqual({ secret, shown: false });
    } finally {
      await app.close();
    }
  });

  test('the codec endpoint decodes for an admin of the API, with CORS for the Web UI only', async () => {
    const codec = payloadCodec(h.config)!;
    const { app, base } = await codecServer();
    const inject = async (req: { method: string; url: string; headers: Record<string, string>; payload?: string }) => {
      const res = await fetch(base + req.url, { method: req.method, headers: req.headers, ...(req.payload !== undefined ? { body: req.payload } : {}) });
      const text = await res.text();
      return { statusCode: res.status, headers: Object.fromEntries(res.headers.entries()) as Record<string, string | undefined>, json: () => JSON.parse(text) as unknown };
    };
    try {
      const ws = await makeWorkspace(h.prisma, { admin: 'ADMIN', member: 'MEMBER' });
      const adminToken = await createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users.admin!.id, label: 'codec' });
      const memberToken = await createApiToken(h.prisma, { workspaceId: ws.id, userId: ws.users.member!.id, label: 'codec' });
      const asJson = (p: Payload) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
        data: Buffer.from(p.data!).toString('base64'),
      });
      const [sealed] = codec.encodeFor([clear('annika@example.test')], ws.id);
      const body = { payloads: [asJson(sealed!)] };
      const post = (url: string, headers: Record<string, string>, payload: unknown = body) =>
        inject({ method: 'POST', url, headers: { 'content-type': 'application/json', origin: 'http://ui.test:8233', 'x-namespace': 'ns', ...headers }, payload: JSON.stringify(payload) });

      const decoded = await post('/codec/decode', { authorization: `Bearer ${adminToken}` });
      expect(decoded.statusCode).toBe(200);
      expect(decoded.headers['access-control-allow-origin']).toBe('http://ui.test:8233');
      const out = decoded.json() as { payloads: { metadata: Record<string, string>; data: string }[] };
      expect(Buffer.from(out.payloads[0]!.data, 'base64').toString()).toBe('"annika@example.test"');
      expect(Buffer.from(out.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');

      // Another workspace's payload, and one sealed for none, come back as they went: still encrypted.
      const [theirs] = codec.encodeFor([clear('bruno@example.test')], 'another-workspace');
      const [nobodys] = codec.encodeFor([clear('carla@example.test')], null);
      const mixed = await post('/codec/decode', { authorization: `Bearer ${adminToken}` }, { payloads: [asJson(theirs!), asJson(sealed!), asJson(nobodys!)] });
      expect(mixed.statusCode).toBe(200);
      const [a, b, c] = (mixed.json() as typeof out).payloads;
      expect(a).toEqual(asJson(theirs!));
      expect(Buffer.from(b!.data, 'base64').toString()).toBe('"annika@example.test"');
      expect(c).toEqual(asJson(nobodys!));

      // Encode then decode is the identity.
      const encoded = await post('/codec/encode', { authorization: `Bearer ${adminToken}` }, out);
      expect(encoded.statusCode).toBe(200);
      const reDecoded = await post('/codec/decode', { authorization: `Bearer ${adminToken}` }, encoded.json());
      expect(reDecoded.json()).toEqual(out);

      const anonymous = await post('/codec/decode', {});
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['access-control-allow-origin']).toBe('http://ui.test:8233');
      expect((await post('/codec/decode', { authorization: `Bearer ${memberToken}` })).statusCode).toBe(403);
      expect((await post('/codec/decode', { authorization: `Bearer ${adminToken}` }, { payloads: [{ data: '%%%' }] })).statusCode).toBe(400);

      const preflight = await inject({
        method: 'OPTIONS',
        url: '/codec/decode',
        headers: { origin: 'http://ui.test:8233', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('http://ui.test:8233');
      expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/authorization.*content-type.*x-namespace/);
      expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');

      const stranger = await post('/codec/decode', { authorization: `Bearer ${adminToken}`, origin: 'http://evil.test' });
      expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
      // Every answer varies by Origin, a refused origin's and one with none too: a cache must not hand
      // one origin's answer to another (found by a probe: only allowed origins got Vary: Origin).
      const strangerPreflight = await inject({ method: 'OPTIONS', url: '/codec/decode', headers: { origin: 'http://evil.test', 'access-control-request-method': 'POST' } });
      const noOrigin = await inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json' }, payload: '{}' });
      for (const answer of [decoded, anonymous, preflight, stranger, strangerPreflight, noOrigin]) expect(answer.headers.vary).toBe('Origin');

      // The served OpenAPI document says so (found by the fourth audit: it showed both routes open, answering only 200).
      const doc = (await inject({ method: 'GET', url: '/openapi.json', headers: {} })).json() as {
        paths: Record<string, { post: { security?: unknown; responses: Record<string, unknown> } }>;
      };
      for (const operation of ['decode', 'encode']) {
        const route = doc.paths[`/codec/${operation}`]!.post;
        expect(route.security).toEqual([{ bearerAuth: [] }]);
        expect(Object.keys(route.responses).sort()).toEqual(['200', '400', '401', '403', '413', '415', '422']);
      }
    } finally {
      await app.close();
    }
  });
});
