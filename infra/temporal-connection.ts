// The one way every process of ours reaches Temporal: the API's client, the
// worker, the namespace setup, scripts. Address, namespace, API key and TLS
// come from the typed config (infra/config.ts), read through Temporal's own
// environment configuration package (@temporalio/envconfig) so the variables
// mean exactly what they mean to the Temporal CLI and the other SDKs:
//
//   Temporal Cloud, API key:  TEMPORAL_ADDRESS=<ns>.<acct>.tmprl.cloud:7233 TEMPORAL_NAMESPACE=<ns>.<acct> TEMPORAL_API_KEY=…
//   mTLS:                     TEMPORAL_TLS_CLIENT_CERT_PATH=client.pem TEMPORAL_TLS_CLIENT_KEY_PATH=client.key
//                             [TEMPORAL_TLS_SERVER_CA_CERT_PATH=ca.pem] [TEMPORAL_TLS_SERVER_NAME=temporal.internal]
//
// A bad certificate or key stops the process with one sentence naming the
// setting, before any connection is tried.
import crypto from 'node:crypto';
import fs from 'node:fs';
import tls from 'node:tls';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import { ConfigError, temporalAddress, type Config } from './config';

/** The settings of ours that Temporal's envconfig reads (same names). */
const ENVCONFIG_KEYS = [
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
] as const;

type TemporalSettings = Pick<Config, 'TEMPORAL_NAMESPACE' | 'TEMPORAL_PORT' | 'TEMPORAL_ADDRESS'> &
  Partial<Pick<Config, (typeof ENVCONFIG_KEYS)[number]>>;

/** Connection options shared by the client (grpc-js) and the worker (Rust core): both take these fields. */
export interface TemporalConnectOptions {
  address: string;
  namespace: string;
  tls?: NativeConnectionOptions['tls'];
  apiKey?: string;
  metadata?: NativeConnectionOptions['metadata'];
}

export function temporalConnectOptions(config: TemporalSettings): TemporalConnectOptions {
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: temporalAddress(config as Config),
    TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
  };
  for (const key of ENVCONFIG_KEYS) {
    const value = config[key];
    if (value !== undefined && value !== '') env[key] = String(value);
  }
  checkClientCertificate(env);
  let profile;
  try {
    // The TOML file is read only when TEMPORAL_CONFIG_FILE names one: the
    // service's settings are its environment, never a file in someone's home.
    profile = loadClientConfigProfile({ overrideEnvVars: env, disableFile: !env.TEMPORAL_CONFIG_FILE });
  } catch (err) {
    throw new ConfigError(`The Temporal connection settings could not be read (${(err as Error).message}); fix TEMPORAL_CONFIG_FILE or the TEMPORAL_TLS_* variables.`);
  }
  let options;
  try {
    options = toClientOptions(profile);
  } catch (err) {
    throw new ConfigError(`A TEMPORAL_TLS_* file could not be read (${(err as Error).message}); point the variable at a readable PEM file.`);
  }
  const { connectionOptions } = options;
  return {
    address: connectionOptions.address ?? env.TEMPORAL_ADDRESS!,
    namespace: options.namespace ?? config.TEMPORAL_NAMESPACE,
    ...(connectionOptions.tls !== undefined ? { tls: connectionOptions.tls } : {}),
    ...(typeof connectionOptions.apiKey === 'string' ? { apiKey: connectionOptions.apiKey } : {}),
    ...(connectionOptions.metadata ? { metadata: connectionOptions.metadata } : {}),
  };
}

/** Options for `Connection.connect`/`Connection.lazy` (the client). */
export function clientConnectionOptions(opts: TemporalConnectOptions, extra: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const { namespace: _namespace, ...rest } = opts;
  return { ...rest, ...extra } as ConnectionOptions;
}

/** Options for `NativeConnection.connect` (the worker). */
export function nativeConnectionOptions(opts: TemporalConnectOptions): NativeConnectionOptions {
  const { namespace: _namespace, ...rest } = opts;
  return rest as NativeConnectionOptions;
}

/** A client connection, opened now (one sentence if Temporal refuses us). */
export async function connectClient(opts: TemporalConnectOptions, extra: Partial<ConnectionOptions> = {}): Promise<Connection> {
  try {
    return await Connection.connect(clientConnectionOptions(opts, extra));
  } catch (err) {
    // grpc-js hides a refused handshake behind "Failed to connect before the
    // deadline": ask the server ourselves, with the same certificates, why.
    const why = opts.tls ? await tlsRefusal(opts) : null;
    throw explainConnectError(opts, why ? new Error(why, { cause: err }) : err);
  }
}

/** A client connection opened on first use (the API starts while Temporal is away). */
export function lazyClient(opts: TemporalConnectOptions, extra: Partial<ConnectionOptions> = {}): Connection {
  return Connection.lazy(clientConnectionOptions(opts, extra));
}

/** The worker's connection (one sentence if Temporal refuses us). */
export async function connectWorker(opts: TemporalConnectOptions): Promise<NativeConnection> {
  // Imported here: the API process never loads the worker's native module.
  const { NativeConnection } = await import('@temporalio/worker');
  try {
    return await NativeConnection.connect(nativeConnectionOptions(opts));
  } catch (err) {
    const why = opts.tls ? await tlsRefusal(opts) : null;
    throw explainConnectError(opts, why ? new Error(why, { cause: err }) : err);
  }
}

/**
 * A failed connection as one sentence: a TLS refusal names the TLS settings,
 * anything else says where we tried to go. The original error is the cause.
 */
export function explainConnectError(opts: TemporalConnectOptions, err: unknown): Error {
  const detail = String((err as Error)?.message ?? err);
  const tls = Boolean(opts.tls) || Boolean(opts.apiKey);
  const looksTls = /tls|ssl|certificate|handshake|alert|x509|InvalidCertificate|UnknownIssuer|BadSignature|transport error|wrong version/i.test(detail);
  const message =
    tls && looksTls
      ? `Temporal at ${opts.address} refused the TLS connection (${oneLine(detail)}); check TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_NAME.`
      : `Could not connect to Temporal at ${opts.address}${tls ? ' over TLS' : ''} (${oneLine(detail)}); check TEMPORAL_ADDRESS${tls ? ' and the TEMPORAL_TLS_* settings' : ''}.`;
  return new ConfigError(message, { cause: err });
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

/**
 * A client certificate and key are checked here, where we can name the
 * setting, rather than deep in a TLS handshake: both or neither, each parses,
 * and the key is the certificate's.
 */
function checkClientCertificate(env: Record<string, string>): void {
  const cert = pem(env, 'TEMPORAL_TLS_CLIENT_CERT');
  const key = pem(env, 'TEMPORAL_TLS_CLIENT_KEY');
  if (!cert && !key) return;
  if (!cert || !key) {
    const missing = cert ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH';
    throw new ConfigError(`${missing} is not set: mTLS needs both a client certificate and its private key.`);
  }
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(cert.data);
  } catch {
    throw new ConfigError(`${cert.from} is not a PEM certificate: give the client certificate Temporal issued or trusts.`);
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key.data);
  } catch {
    throw new ConfigError(`${key.from} is not a PEM private key: give the unencrypted key of the client certificate.`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(`${key.from} is not the private key of the certificate in ${cert.from}: give the key that belongs to that certificate.`);
  }
}

function pem(env: Record<string, string>, prefix: string): { data: Buffer; from: string } | null {
  const pathKey = `${prefix}_PATH`;
  const dataKey = `${prefix}_DATA`;
  if (env[dataKey]) return { data: Buffer.from(env[dataKey]!), from: dataKey };
  const file = env[pathKey];
  if (!file) return null;
  try {
    return { data: fs.readFileSync(file), from: `${pathKey} (${file})` };
  } catch (err) {
    throw new ConfigError(`${pathKey} (${file}) cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): point it at the PEM file.`);
  }
}

/** The TLS error a handshake with `opts` ends in, or null if it goes through. */
function tlsRefusal(opts: TemporalConnectOptions): Promise<string | null> {
  const config = typeof opts.tls === 'object' && opts.tls ? opts.tls : {};
  const [host, port] = splitAddress(opts.address);
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const socket = tls.connect({
      host,
      port,
      servername: config.serverNameOverride ?? (/^[\d.:]+$/.test(host) ? undefined : host),
      ...(config.serverRootCACertificate ? { ca: Buffer.from(config.serverRootCACertificate) } : {}),
      ...(config.clientCertPair ? { cert: Buffer.from(config.clientCertPair.crt), key: Buffer.from(config.clientCertPair.key) } : {}),
      ALPNProtocols: ['h2'],
    });
    // TLS 1.3 servers refuse a client certificate after the client thinks the
    // handshake is done: speak first and wait for the alert.
    let secure = false;
    socket.on('secureConnect', () => {
      secure = true;
      socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    });
    socket.on('data', () => done(null));
    socket.on('error', (err) => done(`TLS: ${err.message}`));
    // Some servers drop a refused client certificate without an alert.
    socket.on('close', () =>
      done(
        !secure
          ? 'TLS: the connection closed during the handshake'
          : config.clientCertPair
            ? 'TLS: the server closed the connection right after the handshake, so it did not accept the client certificate'
            : null,
      ),
    );
    const timer = setTimeout(() => done(null), 3_000);
  });
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  return [host, Number(address.slice(at + 1)) || 7233];
}
