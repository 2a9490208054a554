// Test support: a secured Temporal frontend on this machine. An HTTP/2 TLS
// server (optionally requiring a client certificate) forwards every gRPC call
// to the run's plain dev server and records the request headers it saw, so a
// test can check TLS, mTLS and where the API key went. Certificates are made
// per test run with openssl (a CA, a server certificate, client certificates).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
  /** The name in the server certificate (connect to 127.0.0.1 with this server name). */
  serverName: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, a server certificate for `temporal.test`, a client certificate of that CA, and one of another CA. */
export function makePki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-pki-'));
  const ca = (name: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`], dir);
  };
  const leaf = (name: string, caName: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`],
      dir,
    );
  };
  ca('test-ca');
  ca('stranger-ca');
  leaf('server', 'test-ca', 'subjectAltName=DNS:temporal.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  leaf('client', 'test-ca', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  leaf('stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const p = (f: string) => path.join(dir, f);
  return {
    dir,
    caCert: p('test-ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    strangerCert: p('stranger.pem'),
    strangerKey: p('stranger.key'),
    serverName: 'temporal.test',
  };
}

export interface TlsProxy {
  address: string;
  /** Headers of every gRPC call that reached the proxy. */
  calls: { path: string; headers: http2.IncomingHttpHeaders; clientCertCn: string | null }[];
  close(): Promise<void>;
}

export async function startTlsProxy(opts: { pki: TestPki; upstream: string; requireClientCert: boolean }): Promise<TlsProxy> {
  const { pki } = opts;
  const calls: TlsProxy['calls'] = [];
  const upstream = http2.connect(`http://${opts.upstream}`);
  upstream.on('error', () => {});
  const server = http2.createSecureServer({
    key: fs.readFileSync(pki.serverKey),
    cert: fs.readFileSync(pki.serverCert),
    ca: fs.readFileSync(pki.caCert),
    requestCert: opts.requireClientCert,
    rejectUnauthorized: opts.requireClientCert,
    ALPNProtocols: ['h2'],
  });
  server.on('stream', (stream, headers) => {
    const socket = stream.session?.socket as TLSSocket | undefined;
    const peer = socket?.getPeerCertificate?.();
    calls.push({ path: String(headers[':path']), headers, clientCertCn: peer && 'subject' in peer && peer.subject ? String(peer.subject.CN) : null });
    const forward: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') && name !== ':method' && name !== ':path') continue;
      forward[name] = value;
    }
    const req = upstream.request(forward);
    stream.pipe(req);
    let trailers: http2.IncomingHttpHeaders = {};
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('response', (responseHeaders, flags) => {
      if (stream.destroyed) return;
      // A trailers-only response (an error status) ends in its headers.
      if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        stream.respond(responseHeaders, { endStream: true });
        return;
      }
      stream.respond(responseHeaders, { waitForTrailers: true });
      stream.on('wantTrailers', () => {
        const out: http2.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(trailers)) if (!name.startsWith(':')) out[name] = value;
        stream.sendTrailers(out);
      });
      req.pipe(stream);
    });
    req.on('error', () => stream.destroy());
    stream.on('error', () => req.close());
    stream.on('close', () => {
      if (!req.closed) req.close();
    });
  });
  server.on('sessionError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: async () => {
      for (const s of sessions) s.destroy();
      upstream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
