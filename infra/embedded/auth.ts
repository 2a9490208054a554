// Who may use the embedded database: whoever knows the password of its data
// folder. Invariants:
//   - A data folder's password is random, made on its first start and kept in
//     DATA/password with mode 0600 (owner only); an in-memory database gets a
//     fresh one per start.
//   - A client is served only after an MD5 password exchange (the method
//     every `pg` client speaks); a wrong password gets PostgreSQL's FATAL
//     28P01 and the connection is closed. SSL and GSS encryption are refused
//     ('N'); cancel requests are dropped (PGlite has no backend to signal).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type net from 'node:net';
import { backendMessage, errorResponse } from './wire';

const PASSWORD_FILE = 'password';

const newPassword = () => crypto.randomBytes(24).toString('base64url');

/** The password of a data folder, or null when it has none yet. */
export function readPassword(dataDir: string): string | null {
  try {
    return fs.readFileSync(path.join(dataDir, PASSWORD_FILE), 'utf8').trim() || null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The password of a data folder, made (mode 0600) if it has none; a fresh one for an in-memory database. */
export function ensurePassword(dataDir: string | undefined): string {
  if (!dataDir) return newPassword();
  const file = path.join(dataDir, PASSWORD_FILE);
  const existing = readPassword(dataDir);
  if (existing) {
    if ((fs.statSync(file).mode & 0o777) !== 0o600) fs.chmodSync(file, 0o600);
    return existing;
  }
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${newPassword()}\n`, { mode: 0o600, flag: 'w' });
  fs.chmodSync(tmp, 0o600); // whatever the umask
  fs.renameSync(tmp, file);
  return readPassword(dataDir)!;
}

/** The URL our processes connect with. */
export function embeddedUrl(port: number, password: string): string {
  return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const STARTUP_TIMEOUT_MS = 30_000;

const md5 = (data: Buffer | string) => crypto.createHash('md5').update(data).digest('hex');

/**
 * Runs the startup of one connection up to a checked password. Resolves with
 * the client's StartupMessage and whatever bytes followed it, for the
 * multiplexer to pass on to PGlite (which answers AuthenticationOk and the
 * parameters); resolves null when the client was refused or went away.
 */
export function authenticate(socket: net.Socket, password: string): Promise<{ startup: Buffer; rest: Buffer } | null> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    let startup: Buffer | null = null;
    let user = '';
    const salt = crypto.randomBytes(4);
    // A client that never finishes its startup does not keep a connection slot.
    const timer = setTimeout(() => {
      socket.destroy();
      finish(null);
    }, STARTUP_TIMEOUT_MS);
    const finish = (result: { startup: Buffer; rest: Buffer } | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(result);
    };
    const refuse = (code: string, message: string) => {
      socket.end(errorResponse('FATAL', code, message));
      finish(null);
    };
    const onClose = () => finish(null);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (startup === null && buf.length >= 8) {
        const len = buf.readInt32BE(0);
        const code = buf.readInt32BE(4);
        if (len < 8 || len > 10_000) return refuse('08P01', 'invalid startup packet');
        if (buf.length < len) return;
        const packet = buf.subarray(0, len);
        buf = buf.subarray(len);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write('N');
        } else if (code === CANCEL_REQUEST) {
          socket.destroy();
          return finish(null);
        } else if (code === PROTOCOL_3) {
          startup = Buffer.from(packet);
          const params = packet.subarray(8).toString('utf8').split('\0');
          for (let i = 0; i + 1 < params.length; i += 2) if (params[i] === 'user') user = params[i + 1]!;
          socket.write(backendMessage('R', Buffer.concat([Buffer.from([0, 0, 0, 5]), salt]))); // AuthenticationMD5Password
        } else {
          return refuse('0A000', 'unsupported frontend protocol');
        }
      }
      if (startup === null || buf.length < 5) return;
      const len = buf.readInt32BE(1);
      if (buf[0] !== 0x70 /* 'p' */ || len < 4 || len > 10_000) return refuse('08P01', 'expected a password message');
      if (buf.length < 1 + len) return;
      const given = buf.subarray(5, 1 + len).toString('utf8').replace(/\0$/, '');
      const expected = `md5${md5(Buffer.concat([Buffer.from(md5(password + user)), salt]))}`;
      const ok = given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
      if (!ok) return refuse('28P01', `password authentication failed for user "${user}"`);
      socket.pause(); // what follows waits for the multiplexer
      finish({ startup, rest: Buffer.from(buf.subarray(1 + len)) });
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}
