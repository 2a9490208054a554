// One data folder, one server, across processes. Invariants:
//   - DATA_DIR/pglite.lock names the one process that opens the folder's files
//     ({pid, port}); it is created with O_EXCL, so two processes never both
//     open them. The port is null while that process is still starting.
//   - A lock whose process is gone (dead pid, or a live pid that is not a node
//     process: recycled) is stale and is replaced by one stealer at a time
//     (guarded by `<lock>.steal`).
import fs from 'node:fs';
import net from 'node:net';

export interface LockInfo {
  pid: number;
  port: number | null;
  startedAt: string;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A live pid that is not a node process is a recycled pid: its lock is stale. */
export function looksLikeOurs(pid: number): boolean {
  try {
    return /node|tsx|jest/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust the pid
  }
}

export function readLock(lockPath: string): { raw: string; info: LockInfo | null } | null {
  try {
    const raw = fs.readFileSync(lockPath, 'utf8');
    try {
      const info = JSON.parse(raw) as LockInfo;
      return { raw, info: typeof info.pid === 'number' ? info : null };
    } catch {
      return { raw, info: null };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Creates the lock for this process (port not known yet); null when another lock exists. */
export function tryCreateLock(lockPath: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(lockPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, port: null, startedAt: new Date().toISOString() } satisfies LockInfo) + '\n');
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** Records the port this process serves on. */
export function publishPort(lockPath: string, port: number): void {
  fs.writeFileSync(lockPath, JSON.stringify({ pid: process.pid, port, startedAt: new Date().toISOString() } satisfies LockInfo) + '\n');
}

/** Removes the lock if it is still this process's. */
export function releaseLock(lockPath: string): void {
  if (readLock(lockPath)?.info?.pid === process.pid) fs.rmSync(lockPath, { force: true });
}

/** Replaces a stale lock file, one stealer at a time. */
export function stealStaleLock(lockPath: string, staleRaw: string): boolean {
  const guard = `${lockPath}.steal`;
  try {
    fs.writeFileSync(guard, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A stealer that died leaves its guard: remove it once it is clearly old.
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 10_000) fs.unlinkSync(guard);
    } catch {
      /* gone already */
    }
    return false;
  }
  try {
    const now = readLock(lockPath);
    if (now && now.raw === staleRaw) fs.unlinkSync(lockPath);
    return true;
  } finally {
    fs.unlinkSync(guard);
  }
}

/** Locks `takeLock` holds for this process: one naming our pid that is not here is an earlier run's, stale. */
const heldHere = new Set<string>();

/**
 * Takes `lockPath` for this process until `release`, replacing a stale lock
 * (its process gone); when a live process holds it, names that process instead.
 */
export async function takeLock(lockPath: string): Promise<{ release(): void } | { holder: LockInfo }> {
  for (;;) {
    if (tryCreateLock(lockPath)) {
      heldHere.add(lockPath);
      let released = false;
      return {
        // Once: a second release (an old handle stopped again) must not free a lock taken since.
        release: () => {
          if (released) return;
          released = true;
          heldHere.delete(lockPath);
          releaseLock(lockPath);
        },
      };
    }
    const lock = readLock(lockPath);
    if (!lock) continue; // released meanwhile
    const { info } = lock;
    if (info && (info.pid === process.pid ? heldHere.has(lockPath) : pidAlive(info.pid) && looksLikeOurs(info.pid))) return { holder: info };
    if (info === null && Date.now() - safeMtime(lockPath) < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // being written right now
      continue;
    }
    if (!stealStaleLock(lockPath, lock.raw)) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function safeMtime(p: string): number {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Does a PostgreSQL server answer on this port? An SSLRequest is answered at
 * once ('N' or 'S') by PostgreSQL and by our embedded server alike, without
 * waiting behind queries in progress.
 */
export function postgresAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4);
      socket.write(req);
    });
    socket.once('data', (d) => done(d[0] === 0x4e || d[0] === 0x53));
  });
}
