// Reaching a secured Temporal: the client (API), the worker and the health
// check all connect through infra/temporal-connection.ts, over TLS with a
// client certificate, or with an API key; a wrong certificate or key is one
// sentence naming the setting. The "server" is a TLS gRPC proxy in front of
// this run's dev server, with certificates made for this run.
import fs from 'node:fs';
import { loadConfig, type Config } from '../../infra/config';
import { ConfigError } from '../../infra/config';
import { connectClient, connectWorker, temporalConnectOptions } from '../../infra/temporal-connection';
import { makeHealthCheck } from '../../api/health';
import { ensureNamespace } from '../../infra/temporal-namespace';
import { createPrisma } from '../../infra/database';
import { testEnv } from '../support/env';
import { makePki, startTlsProxy, type TestPki, type TlsProxy } from './tls-proxy';

const env = testEnv();
let pki: TestPki;

beforeAll(() => {
  pki = makePki();
});
afterAll(() => fs.rmSync(pki.dir, { recursive: true, force: true }));

function config(over: Record<string, string>): Config {
  return loadConfig({ TEMPORAL_NAMESPACE: env.namespace, DATA_DIR: '/nonexistent', ...over });
}

function oneSentence(message: string): void {
  expect(message).not.toMatch(/\n/);
  expect(message.trim()).toMatch(/\.$/);
  expect(message.slice(0, -1)).not.toMatch(/\.\s+[A-Z]/);
}

describe('mTLS', () => {
  let proxy: TlsProxy;
  beforeAll(async () => {
    proxy = await startTlsProxy({ pki, upstream: env.temporalAddress, requireClientCert: true });
  });
  afterAll(() => proxy.close());

  const mtls = () =>
    config({
      TEMPORAL_ADDRESS: proxy.address,
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
    });

  test('the client and the worker connect with the client certificate, and the health check sees Temporal', async () => {
    const options = temporalConnectOptions(mtls());
    const client = await connectClient(options);
    try {
      const described = await client.workflowService.describeNamespace({ namespace: env.namespace });
      expect(described.namespaceInfo?.name).toBe(env.namespace);
    } finally {
      await client.close();
    }
    const worker = await connectWorker(options);
    try {
      const info = await worker.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
    } finally {
      await worker.close();
    }
    const prisma = createPrisma(env.databaseUrl);
    const health = makeHealthCheck({ prisma, temporalAddress: options.address, namespace: options.namespace, temporal: options, timeoutMs: 10_000 });
    try {
      expect(await health()).toEqual({ database: true, temporal: true });
    } finally {
      await health.close();
      await prisma.$disconnect();
    }
    expect(proxy.calls.length).toBeGreaterThan(0);
    expect(new Set(proxy.calls.map((c) => c.clientCertCn))).toEqual(new Set(['client']));
  });

  test('the namespace setup (scripts/temporal-setup.ts, npm start) readies a namespace over mTLS', async () => {
    const options = temporalConnectOptions(mtls());
    const before = proxy.calls.length;
    const result = await ensureNamespace({ address: options.address, namespace: options.namespace, connection: options, log: () => {}, waitForServerMs: 10_000 });
    expect(result).toEqual({ createdNamespace: false, addedAttributes: [] });
    expect(proxy.calls.slice(before).map((c) => c.path)).toEqual(expect.arrayContaining([expect.stringMatching(/ListSearchAttributes$/)]));
    expect(new Set(proxy.calls.slice(before).map((c) => c.clientCertCn))).toEqual(new Set(['client']));
  });

  test('without TLS settings the secured server is not reached', async () => {
    const before = proxy.calls.length;
    const err = await connectClient(temporalConnectOptions(config({ TEMPORAL_ADDRESS: proxy.address })), { connectTimeout: 3_000 }).then(
      (c) => c.close().then(() => null),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(proxy.calls.length).toBe(before);
  });

  test('a certificate the server does not trust fails in one sentence naming the TLS settings', async () => {
    const options = temporalConnectOptions(
      config({
        TEMPORAL_ADDRESS: proxy.address,
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.strangerCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.strangerKey,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
        TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      }),
    );
    for (const connect of [() => connectWorker(options), () => connectClient(options, { connectTimeout: 5_000 })]) {
      const err = await connect().then(
        async (c) => {
          await c.close();
          return null;
        },
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.message).toMatch(/^Temporal at 127\.0\.0\.1:\d+ refused the TLS connection .*TEMPORAL_TLS_CLIENT_CERT_PATH/);
      oneSentence(err!.message);
    }
  });

  test('a server certificate from an untrusted CA is refused by us', async () => {
    const options = temporalConnectOptions(
      config({
        TEMPORAL_ADDRESS: proxy.address,
        TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.strangerCert,
        TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      }),
    );
    const err = await connectWorker(options).then(
      async (c) => {
        await c.close();
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/TEMPORAL_TLS_SERVER_CA_CERT_PATH/);
    oneSentence(err!.message);
  });
});

describe('a wrong key or certificate file is named before connecting', () => {
  test.each([
    ['the key of another certificate', () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.strangerKey }), /TEMPORAL_TLS_CLIENT_KEY_PATH \(.*stranger\.key\) is not the private key of the certificate/],
    ['a key where the certificate belongs', () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientKey, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey }), /TEMPORAL_TLS_CLIENT_CERT_PATH \(.*\) is not a PEM certificate/],
    ['a certificate where the key belongs', () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientCert }), /TEMPORAL_TLS_CLIENT_KEY_PATH \(.*\) is not a PEM private key/],
    ['a certificate without its key', () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert }), /^TEMPORAL_TLS_CLIENT_KEY_PATH is not set/],
    ['a file that is not there', () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: `${pki.dir}/nope.pem`, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey }), /TEMPORAL_TLS_CLIENT_CERT_PATH \(.*nope\.pem\) cannot be read \(ENOENT\)/],
  ])('%s', (_what, settings, expected) => {
    let caught: unknown;
    try {
      temporalConnectOptions(config({ TEMPORAL_ADDRESS: '127.0.0.1:1', ...settings() }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toMatch(expected);
    oneSentence((caught as Error).message);
  });
});

describe('API key', () => {
  let proxy: TlsProxy;
  beforeAll(async () => {
    proxy = await startTlsProxy({ pki, upstream: env.temporalAddress, requireClientCert: false });
  });
  afterAll(() => proxy.close());

  test('the client and the worker send it as a bearer token, over TLS', async () => {
    const options = temporalConnectOptions(
      config({
        TEMPORAL_ADDRESS: proxy.address,
        TEMPORAL_API_KEY: 'test-api-key-123',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
        TEMPORAL_TLS_SERVER_NAME: pki.serverName,
      }),
    );
    expect(options.apiKey).toBe('test-api-key-123');
    const client = await connectClient(options);
    try {
      await client.workflowService.describeNamespace({ namespace: env.namespace });
    } finally {
      await client.close();
    }
    const clientCalls = proxy.calls.length;
    const worker = await connectWorker(options);
    try {
      await worker.workflowService.getSystemInfo({});
    } finally {
      await worker.close();
    }
    expect(clientCalls).toBeGreaterThan(0);
    expect(proxy.calls.length).toBeGreaterThan(clientCalls);
    const describe = proxy.calls.filter((c) => c.path.endsWith('/DescribeNamespace'));
    expect(describe.length).toBeGreaterThan(0);
    for (const call of proxy.calls) expect(call.headers.authorization).toBe('Bearer test-api-key-123');
  });
});
