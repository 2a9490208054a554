// GET /v1/deletions/{id}: the read a page open on a wizard repeats every
// 500 ms, a hundred pages at once on a layoff day. The caller's token, its
// user, the wizard's row and its moves' committed counts come in ONE
// statement, and that statement is shared: the reads that reach the API in
// the same turn of its event loop, or while the statements in flight are
// busy, go out together as one statement over arrays of (token hash,
// deletion id), so under load the database sees a statement per batch rather
// than two per request.
//
// Freshness is that of a statement per request: a read is only ever answered
// by a statement that began after the read arrived (batches are formed from
// waiting reads, never joined once sent), so a client that has seen its step
// applied sees it in its next read.
//
// Traces: each read is a span `deletion read` in its request's trace; the
// shared statement runs in a span `deletion reads` under the first read of
// its batch, linked both ways with every other read's span (OpenTelemetry's
// way for one operation serving several traces).
import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import DataLoader from 'dataloader';
import { Unavailable } from '../domain/errors';
import type { PrismaClient } from '../generated/prisma/client';
import type { TokenRow } from './types';

/** A deletion row as reads need it: the mirrored document and its moves' committed counts (null: no such move). */
export interface DeletionRead {
  id: string;
  workspaceId: string;
  userId: string;
  state: unknown;
  moveMoved: number | null;
  sweepMoved: number | null;
  /** The row's `effective_at`: HR's date, or where a later offboarding brought it forward to. */
  effectiveAt: Date | string | null;
  /** When a batch of its moves last committed (null: no move yet). */
  movedAt: Date | string | null;
}

export interface TokenAndDeletion {
  token: TokenRow | null;
  deletion: DeletionRead | null;
}

interface Key {
  tokenHash: string;
  deletionId: string;
  /** The read's span, in its request's trace. */
  span: Span;
}

interface Row {
  n: number;
  tokenHash: string | null;
  workspaceId: string | null;
  userId: string | null;
  userWorkspaceId: string | null;
  role: TokenRow['role'] | null;
  status: string | null;
  deletionId: string | null;
  deletionUserId: string | null;
  state: unknown;
  moveMoved: number | null;
  sweepMoved: number | null;
  effectiveAt: Date | string | null;
  movedAt: Date | string | null;
}

/** Most reads one statement answers (a bigger wave is split into several). */
export const MAX_READS_PER_STATEMENT = 256;
/** Statements of these reads in flight at once; reads arriving meanwhile wait together for the next. */
export const READ_STATEMENTS_IN_FLIGHT = 2;
/**
 * A statement not answered by then is given up (its reads answer 503, Retry-After) and its place
 * freed: a database that hangs must not leave every later read queued behind it.
 */
export const READ_TIMEOUT_MS = 10_000;

const keyOf = (k: Key) => `${k.tokenHash}\u0000${k.deletionId}`;

/**
 * Reads of (token hash, deletion id), batched. The deletion is only looked
 * for in the token's own workspace: another workspace's wizard is `null`,
 * exactly as one that does not exist.
 */
export function deletionReads(
  prisma: PrismaClient,
  opts: { timeoutMs?: number } = {},
): (tokenHash: string, deletionId: string) => Promise<TokenAndDeletion> {
  const timeoutMs = opts.timeoutMs ?? READ_TIMEOUT_MS;
  // Like a database's group commit: with a statement free, a read goes at
  // once (after the event loop's turn, with whatever arrived in it); with all
  // of them busy, the reads arriving meanwhile wait and go together in the
  // next. Idle, no read waits; busy, the statements grow instead of multiplying.
  let inFlight = 0;
  const queued: (() => void)[] = [];
  /** A statement ended: its slot goes to the reads waiting longest, else it is free. */
  const settled = () => {
    const next = queued.shift();
    if (next) setImmediate(next);
    else inFlight--;
  };
  const loader = new DataLoader<Key, TokenAndDeletion>(
    async (keys) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Unavailable(`The database did not answer within ${Math.round(timeoutMs / 1000)} s; try again.`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([inBatchSpan(keys, () => readAll(keys)), late]);
      } finally {
        clearTimeout(timer);
        settled();
      }
    },
    {
      // No memo between requests: every read is a fresh statement.
      cache: false,
      batchScheduleFn: (send) => {
        if (inFlight >= READ_STATEMENTS_IN_FLIGHT) return void queued.push(send);
        inFlight++;
        setImmediate(send);
      },
      maxBatchSize: MAX_READS_PER_STATEMENT,
    },
  );

  /** Links a shared read's span carries at most (OpenTelemetry's default link count limit, less one). */
  const MAX_BATCH_LINKS = 127;

  /** `read` in a span of the first read's trace, linked with the others' (the batch begins in whichever context was left). */
  function inBatchSpan<T>(keys: readonly Key[], read: () => Promise<T>): Promise<T> {
    const [first, ...others] = keys;
    return context.with(trace.setSpan(context.active(), first!.span), () =>
      tracer().startActiveSpan(
        'deletion reads',
        // Links past the SDK's limit per span (128 by default) would be dropped: the first ones are kept, the size says how many.
        { links: others.slice(0, MAX_BATCH_LINKS).map((k) => ({ context: k.span.spanContext() })), attributes: { 'db.operation.batch.size': keys.length } },
        async (batch) => {
          for (const k of others) k.span.addLink({ context: batch.spanContext() });
          try {
            return await read();
          } finally {
            batch.end();
          }
        },
      ),
    );
  }

  async function readAll(keys: readonly Key[]): Promise<TokenAndDeletion[]> {
      const unique = [...new Map(keys.map((k) => [keyOf(k), k])).values()];
      const hashes = unique.map((k) => k.tokenHash);
      const ids = unique.map((k) => k.deletionId);
      const rows = await prisma.$queryRaw<Row[]>`
        SELECT r.n::int AS n, t.token_hash AS "tokenHash", t.workspace_id AS "workspaceId", u.id AS "userId",
          u.workspace_id AS "userWorkspaceId", u.role::text AS "role", u.status::text AS "status",
          d.id AS "deletionId", d.user_id AS "deletionUserId", d.state, m.moved AS "moveMoved", s.moved AS "sweepMoved",
          d.effective_at AS "effectiveAt", GREATEST(m.updated_at, s.updated_at) AS "movedAt"
        FROM unnest(${hashes}::text[], ${ids}::text[]) WITH ORDINALITY AS r(hash, id, n)
        LEFT JOIN api_tokens t ON t.token_hash = r.hash
        LEFT JOIN users u ON u.id = t.user_id
        LEFT JOIN deletions d ON d.id = r.id AND d.workspace_id = t.workspace_id
        LEFT JOIN lead_moves m ON m.deletion_id = d.id AND m.kind = 'MOVE'
        LEFT JOIN lead_moves s ON s.deletion_id = d.id AND s.kind = 'SWEEP'`;
      const answers = new Map<string, TokenAndDeletion>();
      for (const row of rows) {
        const key = unique[row.n - 1]!;
        answers.set(keyOf(key), {
          token:
            row.tokenHash !== null && row.userId !== null
              ? {
                  tokenHash: row.tokenHash,
                  workspaceId: row.workspaceId!,
                  userId: row.userId,
                  userWorkspaceId: row.userWorkspaceId!,
                  role: row.role!,
                  status: row.status!,
                }
              : null,
          deletion:
            row.deletionId !== null
              ? {
                  id: row.deletionId,
                  workspaceId: row.workspaceId!,
                  userId: row.deletionUserId!,
                  state: row.state,
                  moveMoved: row.moveMoved,
                  sweepMoved: row.sweepMoved,
                  effectiveAt: row.effectiveAt,
                  movedAt: row.movedAt,
                }
              : null,
        });
      }
      return keys.map((k) => answers.get(keyOf(k)) ?? { token: null, deletion: null });
  }
  return (tokenHash, deletionId) =>
    tracer().startActiveSpan('deletion read', async (span) => {
      try {
        return await loader.load({ tokenHash, deletionId, span });
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
}

const tracer = () => trace.getTracer('crm-offboarding-api');
