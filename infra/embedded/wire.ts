// The wire-protocol multiplexer: many TCP clients, one PGlite backend.
// Invariants:
//   - A client owns the backend from its first message until PGlite answers
//     ReadyForQuery with status Idle ('I'): a whole query cycle or a whole
//     transaction. Other clients' messages wait, in FIFO order.
//   - An owner that sends nothing for `idleLimitMs` (idle inside a transaction,
//     or between the messages of one cycle) has its work rolled back and its
//     connection closed with PostgreSQL's own FATAL 25P03, so it cannot
//     starve the others.
//   - A client that disconnects while owning the backend has its unfinished
//     work rolled back, and the backend is released.
import type { PGlite } from '@electric-sql/pglite';
import type { Log } from '../logger';

/** A backend message: type byte, int32 length, body. */
export function backendMessage(type: string, body: Buffer): Buffer {
  const msg = Buffer.alloc(5 + body.length);
  msg.write(type, 0);
  msg.writeInt32BE(4 + body.length, 1);
  body.copy(msg, 5);
  return msg;
}

/** A PostgreSQL ErrorResponse. */
export function errorResponse(severity: 'ERROR' | 'FATAL', code: string, message: string): Buffer {
  return backendMessage('E', Buffer.from(`S${severity}\0V${severity}\0C${code}\0M${message}\0\0`));
}

const simpleQuery = (sql: string) => backendMessage('Q', Buffer.from(`${sql}\0`));
const SYNC = Uint8Array.from([0x53, 0, 0, 0, 4]); // 'S'
const TERMINATE = 0x58; // 'X'

/**
 * Scans a stream of backend messages for ReadyForQuery ('Z', length 5, status
 * byte), across chunk boundaries. `status` is the last status seen, or null.
 */
class ReadyForQueryScanner {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private inReady = false;
  status: string | null = null;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        if (this.inReady) this.status = String.fromCharCode(chunk[i + take - 1]!);
        this.remaining -= take;
        i += take;
        continue;
      }
      const take = Math.min(5 - this.header.length, chunk.length - i);
      this.header = Buffer.concat([this.header, Buffer.from(chunk.subarray(i, i + take))]);
      i += take;
      if (this.header.length === 5) {
        this.inReady = this.header[0] === 0x5a; // 'Z'
        this.remaining = this.header.readInt32BE(1) - 4;
        this.header = Buffer.alloc(0);
      }
    }
  }
}

interface Queued {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

/**
 * Gives the single PGlite backend to one client at a time (see the top of
 * this file). Implements the `queryQueue` interface of pglite-socket's
 * PGLiteSocketHandler, which frames each connection's messages.
 */
export class SessionQueue {
  private queue: Queued[] = [];
  private owner: number | null = null;
  private running = false;
  private idleTimer: NodeJS.Timeout | null = null;
  /** How to close each client's connection, by handler id. */
  private readonly closers = new Map<number, (farewell: Buffer) => void>();
  /** Clients closed for idling: none of their messages runs any more. */
  private readonly expired = new Set<number>();

  constructor(
    private readonly db: PGlite,
    private readonly idleLimitMs: number,
    private readonly log: Log,
  ) {}

  /** Registers how to close a client's connection when it overstays its ownership. */
  register(handlerId: number, close: (farewell: Buffer) => void): void {
    this.closers.set(handlerId, close);
  }

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    // Terminate: the socket closes next and detach releases the backend; PGlite
    // has no backend process to end.
    if (message.length === 5 && message[0] === TERMINATE) return Promise.resolve(0);
    if (this.expired.has(handlerId)) return Promise.reject(new Error('connection closed after its idle-in-transaction timeout'));
    if (handlerId === this.owner) this.stopIdleTimer();
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.pump();
    });
  }

  clearQueueForHandler(handlerId: number): void {
    this.queue = this.queue.filter((q) => {
      if (q.handlerId !== handlerId) return true;
      q.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  /** Called when a client goes away: undo whatever it left half done, then let the others in. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    this.closers.delete(handlerId);
    this.expired.delete(handlerId);
    if (this.owner !== handlerId) return;
    while (this.running) await new Promise((r) => setImmediate(r)); // a message of it still executing
    if (this.owner !== handlerId) return;
    await this.release();
  }

  /** Stops the idle timer (the server is closing). */
  close(): void {
    this.stopIdleTimer();
  }

  /** Rolls back what the owner left unfinished and gives the backend to the next client. */
  private async release(): Promise<void> {
    this.stopIdleTimer();
    this.running = true;
    try {
      await this.db.runExclusive(async () => {
        // ROLLBACK as a simple query aborts an unfinished extended-protocol
        // cycle (or is ignored while the backend skips to Sync after an error);
        // Sync then returns the backend to idle; a remaining BEGIN block is
        // rolled back last.
        await this.db.execProtocolRaw(simpleQuery('ROLLBACK'));
        await this.db.execProtocolRaw(SYNC);
        if (this.db.isInTransaction()) await this.db.execProtocolRaw(simpleQuery('ROLLBACK'));
      });
    } catch (err) {
      this.log(`embedded database: rolling back a client's unfinished work failed: ${(err as Error).message}`, 'warn');
    } finally {
      this.running = false;
    }
    this.owner = null;
    void this.pump();
  }

  private startIdleTimer(handlerId: number): void {
    this.stopIdleTimer();
    if (this.idleLimitMs <= 0) return;
    this.idleTimer = setTimeout(() => void this.expire(handlerId), this.idleLimitMs);
    this.idleTimer.unref();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** The owner sent nothing for idleLimitMs: roll it back and close its connection. */
  private async expire(handlerId: number): Promise<void> {
    this.idleTimer = null;
    if (this.owner !== handlerId || this.running || this.queue.some((q) => q.handlerId === handlerId)) return;
    this.log(`embedded database: closing a connection idle in a transaction for more than ${this.idleLimitMs} ms`, 'warn');
    // Nothing more of it runs: a statement sent now would otherwise run after the rollback, outside its transaction.
    this.expired.add(handlerId);
    this.closers.get(handlerId)?.(errorResponse('FATAL', '25P03', 'terminating connection due to idle-in-transaction timeout'));
    await this.release();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const idx = this.owner === null ? (this.queue.length > 0 ? 0 : -1) : this.queue.findIndex((q) => q.handlerId === this.owner);
        if (idx === -1) break;
        const item = this.queue.splice(idx, 1)[0]!;
        const scanner = new ReadyForQueryScanner();
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                scanner.push(data);
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          item.reject(err as Error);
          continue;
        }
        // null: mid-cycle; 'T'/'E': inside a transaction. Either way it keeps the backend.
        this.owner = scanner.status === 'I' ? null : item.handlerId;
        item.resolve(bytes);
      }
    } finally {
      this.running = false;
    }
    if (this.owner !== null) this.startIdleTimer(this.owner);
  }
}
