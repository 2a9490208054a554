// GET /v1/deletions/{id}/events: the wizard's `Deletion` pushed as
// Server-Sent Events (text/event-stream) instead of polled.
//
// One feed per wizard per process, shared by every subscriber: while anyone
// listens it reads the wizard once per `FEED_INTERVAL_MS` (the same one-query
// read as GET /v1/deletions/{id}, so what it sends is exactly what a GET would
// answer) and sends the Deletion to each subscriber when it differs from what
// that subscriber last got: each step, the move's progress (at most every
// interval, so a few times a second), the end. Nobody listening: no reads.
// What a request of this process has just changed (a step, a cancel, an HR
// offboarding: `publishing`) is sent at once, so steps posted faster than the
// reads still each reach the stream, in order: a state is never sent to a
// subscriber after one further on (`progressOf`; at equal progress, the read
// begun later wins, by the feed's clock; one held back as older is followed
// by the next read), and one who came while a read ran gets the next read, at
// once. A change made through another API process is seen by the next read.
// PostgreSQL LISTEN/NOTIFY would save the idle reads, but the embedded PGlite
// behind its wire-protocol server does not deliver notifications to other
// connections, and the move's progress is committed with each batch (not
// notified), so reading is what works on both databases.
//
// A stream sends the current Deletion at once, then each change; a comment
// line (`: heartbeat`) every `HEARTBEAT_MS` keeps proxies from closing it and
// re-checks the token, as does a change to send once the last check is
// `TOKEN_RECHECK_MS` old (a token revoked meanwhile ends the stream with an
// `event: problem` holding the 401 or 403 problem); it ends
// after sending the final state. Same auth and roles as every deletion route;
// another workspace's id is 404 before any byte of the stream.
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { NotFound } from '../../domain/errors';
import { DELETION_ROLES } from '../../domain/rules';
import { Deletion, IdParams, type Problem } from '../../domain/schemas';
import { plausibleId } from '../directory/common';
import { authenticate, authorizationOf, requireRole } from '../auth';
import { HttpProblem, toProblem } from '../problems';
import type { WizardApi } from '../../client/types';
import type { ApiDeps } from '../deps';
import { authOf, bearer, problems, ROLE_PROBLEMS, TOKEN_PROBLEMS, type Api } from './common';

/** How often a watched wizard is read while it changes (only while someone listens). */
export const FEED_INTERVAL_MS = 300;
/**
 * How often at most a watched wizard that stopped changing is read (waiting at
 * a form): each unchanged read doubles the wait from FEED_INTERVAL_MS up to
 * this; a change brings it back. A change made through this process is sent
 * at once whatever the wait (`publishing`); through another, within this.
 */
export const FEED_QUIET_INTERVAL_MS = 1_000;
/** A comment line this often, so idle connections stay open through proxies; each checks the token again. */
export const HEARTBEAT_MS = 15_000;
/**
 * A change is sent only to a token found allowed within this many
 * milliseconds; one older is checked again first (a database read at most
 * this often per stream that is sent changes): a revoked token gets nothing
 * more than a second (or one check, when a check takes longer) after.
 */
export const TOKEN_RECHECK_MS = 1_000;

export const EVENT_STREAM = 'text/event-stream';

/** Nothing about this wizard changes any more (a cancelled move settles first: its count is still arriving). */
export function isFinal(d: Deletion): boolean {
  return d.status === 'COMPLETED' || d.status === 'FAILED' || (d.status === 'CANCELLED' && d.leads.state !== 'MOVING');
}

/** The Deletion as a GET answers it (same schema, same encoding). */
function encode(d: Deletion): string {
  return JSON.stringify(z.encode(Deletion, d));
}

type FeedEvent = { deletion: Deletion; json: string } | { gone: true };
type Listener = (event: FeedEvent) => void;

interface Follower {
  /** The last state it was sent (undefined: none yet, send it the next one): its JSON, progress, and when its read began. */
  last: { json: string; progress: number[]; begun: number } | undefined;
  /** When (on the feed's clock) it came, having just read the wizard itself: a read begun before may be older. */
  since: number;
}

const STEP_RANK: Record<Deletion['step'], number> = { LEADS: 0, AUTOMATIONS: 1, INTEGRATIONS: 2, LABELS: 3, CONFIRM: 4, DONE: 5 };
const LEADS_RANK: Record<Deletion['leads']['state'], number> = { PENDING: 0, MOVING: 1, DONE: 2 };

/**
 * How far a wizard has come, in an order its states only ever go up: ended
 * or not, its step, its move's state, leads moved, leads swept. Two states
 * read at different times compare by it; where it is equal (an `attention`
 * set or cleared, suggestions at a routing step), by when their reads began.
 */
export function progressOf(d: Deletion): number[] {
  return [d.status === 'IN_PROGRESS' ? 0 : 1, STEP_RANK[d.step], LEADS_RANK[d.leads.state], d.leads.moved, d.leads.swept];
}

function compareProgress(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

interface Watch {
  key: string;
  workspaceId: string;
  deletionId: string;
  listeners: Map<Listener, Follower>;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A read runs now; `again`: read once more as soon as it ends. */
  reading: boolean;
  again: boolean;
  /** What the last read found, and the wait before the next (longer while nothing changes). */
  lastRead?: string;
  delayMs: number;
}

/**
 * One reader per watched wizard, shared by its subscribers; it stops when the
 * last one leaves or the wizard reaches its final state.
 */
export function deletionFeed(
  read: (workspaceId: string, deletionId: string) => Promise<Deletion>,
  opts: { intervalMs?: number; warn?: (err: unknown, msg: string) => void; encode?: (d: Deletion) => string } = {},
) {
  const intervalMs = opts.intervalMs ?? FEED_INTERVAL_MS;
  const encodeOf = opts.encode ?? encode;
  const watches = new Map<string, Watch>();
  /** The feed's clock: ticks at each read's start, each request's mark and each subscriber come. */
  let clock = 0;
  let closed = false;

  function stop(w: Watch): void {
    clearTimeout(w.timer);
    w.timer = undefined;
    if (watches.get(w.key) === w) watches.delete(w.key);
  }

  function schedule(w: Watch, delayMs: number): void {
    clearTimeout(w.timer);
    w.timer = setTimeout(() => void tick(w), delayMs);
  }

  /** Read again at once (once the read under way, if any, has ended). */
  function soon(w: Watch): void {
    if (watches.get(w.key) !== w) return;
    if (w.reading) w.again = true;
    else schedule(w, 0);
  }

  /**
   * `deletion`, read from `begun` on, to each subscriber it is news to and not
   * older than what it was last sent (by progress; at equal progress, by when
   * the reads began): 'sent'; 'late' if a subscriber came after that read
   * began (not sent to them: the wizard is read again at once); 'older' if
   * it was kept from one as maybe older than what it has (the next read
   * tells). `encoded`: its JSON, when the caller has made it already.
   */
  function offer(w: Watch, deletion: Deletion, begun: number, tie = begun, encoded?: string): 'sent' | 'late' | 'older' {
    const progress = progressOf(deletion);
    let json = encoded;
    let late = false;
    let older = false;
    for (const [listener, follower] of [...w.listeners]) {
      if (!w.listeners.has(listener)) continue;
      if (begun <= follower.since) {
        late = true;
        continue;
      }
      const last = follower.last;
      const order = last ? compareProgress(progress, last.progress) : 1;
      if (order < 0 || (order === 0 && last && tie <= last.begun)) {
        older = true;
        continue;
      }
      json ??= encodeOf(deletion);
      if (last && json === last.json) {
        last.begun = tie;
        continue;
      }
      follower.last = { json, progress, begun: tie };
      listener({ deletion, json });
    }
    return late ? 'late' : older ? 'older' : 'sent';
  }

  async function tick(w: Watch): Promise<void> {
    w.timer = undefined;
    w.reading = true;
    w.again = false;
    let final = false;
    let delayMs = intervalMs;
    const begun = ++clock;
    try {
      const deletion = await read(w.workspaceId, w.deletionId);
      // Stopped meanwhile (a final state published, everyone gone): nothing more to send.
      if (watches.get(w.key) !== w) return;
      const found = encodeOf(deletion);
      const outcome = offer(w, deletion, begun, begun, found);
      final = outcome === 'sent' && isFinal(deletion);
      w.delayMs = found === w.lastRead ? Math.min(w.delayMs * 2, Math.max(intervalMs, FEED_QUIET_INTERVAL_MS)) : intervalMs;
      w.lastRead = found;
      delayMs = w.delayMs;
      // A subscriber come while it was read has not had it: read again at once.
      if (outcome === 'late') delayMs = 0;
    } catch (err) {
      if (err instanceof NotFound) {
        for (const l of [...w.listeners.keys()]) l({ gone: true });
        final = true;
      } else {
        // The database is busy or away: say so, and read again next time.
        opts.warn?.(err, 'deletion feed: read failed');
      }
    } finally {
      w.reading = false;
    }
    if (final) return stop(w);
    if (w.listeners.size > 0 && watches.get(w.key) === w) schedule(w, w.again ? 0 : delayMs);
  }

  return {
    /**
     * Calls `listener` on each change of the wizard after now (its subscriber
     * has just read the wizard itself); returns the unsubscribe.
     */
    subscribe(workspaceId: string, deletionId: string, listener: Listener): () => void {
      if (closed) return () => {};
      const key = `${workspaceId}\u0000${deletionId}`;
      let w = watches.get(key);
      if (!w) {
        w = { key, workspaceId, deletionId, listeners: new Map(), timer: undefined, reading: false, again: false, delayMs: intervalMs };
        watches.set(key, w);
        schedule(w, intervalMs);
      }
      const watch = w;
      watch.listeners.set(listener, { last: undefined, since: ++clock });
      return () => {
        watch.listeners.delete(listener);
        if (watch.listeners.size === 0) stop(watch);
      };
    },
    /** Whether anyone follows this wizard here now. */
    watched(workspaceId: string, deletionId: string): boolean {
      return watches.has(`${workspaceId}\u0000${deletionId}`);
    },
    /** The feed's clock now: a state read (or brought about) from then on is published with it. */
    mark(): number {
      return ++clock;
    },
    /**
     * A state of the wizard a request of this process read, or brought about
     * (its answer), from `begun` (its mark) on: sent now to each subscriber it
     * is news to and not older for (`offer`); one come since `begun` gets the
     * next read, at once.
     */
    publish(workspaceId: string, deletion: Deletion, begun: number, settled?: number): void {
      const w = watches.get(`${workspaceId}\u0000${deletion.id}`);
      if (!w) return;
      // An answer is as new as when it came (`settled`): at equal progress, a read begun before then is older.
      const outcome = offer(w, deletion, begun, settled);
      if (outcome === 'sent' && isFinal(deletion)) stop(w);
      else if (outcome === 'late') soon(w);
    },
    /** Wizards being read now (for tests and metrics). */
    get watching(): number {
      return watches.size;
    },
    /** Closed with the server: no more watches (a stream come after is ended by its route). */
    get closed(): boolean {
      return closed;
    },
    close(): void {
      closed = true;
      for (const w of [...watches.values()]) stop(w);
    },
  };
}

export type DeletionFeed = ReturnType<typeof deletionFeed>;

/**
 * `wizard`, its changes told to `feed` as they are answered: the state each
 * one's answer carries goes to the wizard's subscribers at once (a step, a
 * cancel, a start joined by HR or SCIM), not at the feed's next read.
 */
export function publishing(wizard: WizardApi, feed: DeletionFeed): WizardApi {
  const told =
    <A extends [string, string, ...unknown[]]>(change: (...args: A) => Promise<Deletion>) =>
    async (...args: A): Promise<Deletion> => {
      const [workspaceId, deletionId] = args;
      // Watched: the state the change is made on goes first (a step the worker brought, the move's end,
      // may not have been read yet), unless a newer one was sent meanwhile; then the change. Nobody
      // watching: no read. Each is stamped with when it began to be read (the answer is read at its end).
      if (feed.watched(workspaceId, deletionId)) {
        const begun = feed.mark();
        const before = await wizard.get(workspaceId, deletionId).catch(() => null);
        if (before) feed.publish(workspaceId, before, begun);
      }
      const asked = feed.mark();
      const deletion = await change(...args);
      feed.publish(workspaceId, deletion, asked, feed.mark());
      return deletion;
    };
  return {
    ...wizard,
    async start(args) {
      const asked = feed.mark();
      const started = await wizard.start(args);
      feed.publish(args.workspaceId, started.deletion, asked, feed.mark());
      return started;
    },
    submitLeads: told(wizard.submitLeads),
    submitAutomations: told(wizard.submitAutomations),
    submitIntegrations: told(wizard.submitIntegrations),
    submitLabels: told(wizard.submitLabels),
    confirm: told(wizard.confirm),
    cancel: told(wizard.cancel),
    retry: told(wizard.retry),
  };
}

export function eventRoutes(app: Api, deps: ApiDeps, feed: DeletionFeed): void {
  const roles = DELETION_ROLES;
  const heartbeatMs = deps.events?.heartbeatMs ?? HEARTBEAT_MS;
  /** Open streams, ended when the server closes (an open stream would hold `close` forever). */
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
    feed.close();
  });

  app.get('/v1/deletions/:id/events', {
    config: { auth: 'token', roles },
    // A HEAD would open a stream with no body to send it in.
    exposeHeadRoute: false,
    schema: {
      tags: ['deletions'],
      summary: 'Follow a deletion wizard as it changes (Server-Sent Events)',
      description:
        'A text/event-stream. Each event is a plain message (no `event:` field, so EventSource `onmessage` gets it) ' +
        'whose `data:` is the Deletion as GET /v1/deletions/{id} ' +
        'answers it: the current one at once, then each time it changes (each step; the lead move’s progress at most a ' +
        'few times a second; the end). A comment line `: heartbeat` every 15 s. The token is checked again with each ' +
        'heartbeat, and before a change is sent when it was last checked over a second before: ' +
        'revoked, or its user suspended or no longer OWNER or ADMIN, the stream ends with one named event, ' +
        '`event: problem`, whose data is the 401 or 403 Problem the request would get now (never seen by `onmessage`). ' +
        'The stream ends after sending a final ' +
        'state (COMPLETED, FAILED, or CANCELLED with the move settled); a stream that ends otherwise dropped, and a ' +
        'client reconnects or reads GET /v1/deletions/{id}. Same auth and roles as every deletion route.',
      security: bearer,
      params: IdParams,
      response: {
        200: {
          description: 'A stream of messages (no event name), each data line one Deletion as JSON, and heartbeat comments; ' +
            'at most one `event: problem` (a Problem as JSON), last, when the token no longer may follow the wizard.',
          content: { [EVENT_STREAM]: { schema: z.string() } },
        },
        ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, 404),
      },
    },
    handler: async (req, reply) => {
      const auth = authOf(req);
      const id = req.params.id;
      if (!plausibleId(id)) throw new NotFound(`Deletion ${id} does not exist in this workspace.`);
      // 404 (and any other refusal) as problem+json, before the stream starts.
      const first = await deps.wizard.get(auth.workspaceId, id);

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': `${EVENT_STREAM}; charset=utf-8`,
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        'x-request-id': req.id,
      });
      res.flushHeaders();

      let sent = '';
      /** The latest event not yet written because the client reads slowly (older ones are dropped). */
      let held: string | null = null;
      let ended = false;
      let unsubscribe = () => {};

      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      const write = (chunk: string) => {
        if (ended || res.destroyed) return;
        if (res.writableNeedDrain) {
          held = chunk;
          return;
        }
        res.write(chunk);
      };
      res.on('drain', () => {
        if (held === null) return;
        const chunk = held;
        held = null;
        write(chunk);
      });
      const send = (d: Deletion, json: string) => {
        if (json !== sent) {
          sent = json;
          // No `event:` name: api.md names none, so a client written to it listens with `onmessage`.
          write(`data: ${json}\n\n`);
        }
        if (isFinal(d)) {
          if (held === null) end();
          else res.once('drain', end);
        }
      };

      // The token may have been revoked, or its user suspended or made a MEMBER, since the stream
      // began: checked again with each heartbeat, and before any change is sent once the last check
      // is TOKEN_RECHECK_MS old. Refused, its last words are the problem the same request would get
      // now (an `event: problem`, which `onmessage` never sees), so a client tells this end from a
      // dropped connection.
      /** When the token was last found allowed (the request's own authentication, just before the stream). */
      let allowedAt = Date.now();
      let checking = false;
      /** The latest change come while a check runs: sent once it passes. */
      let waiting: { d: Deletion; json: string } | null = null;
      const stillAllowed = async (): Promise<boolean> => {
        // It vouches for the token as it was when the check began, not when it ends.
        const began = Date.now();
        const refusal = await refusalNow(req);
        if (!refusal) {
          allowedAt = Math.max(allowedAt, began);
          return true;
        }
        if (ended) return false;
        // Nothing more for this token: no later Deletion (a held one is dropped), the problem last.
        // res.end() sends what is buffered first, so there is no drain to wait for.
        clearInterval(heartbeat);
        unsubscribe();
        held = null;
        if (!res.destroyed) res.write(`event: problem\ndata: ${JSON.stringify(refusal)}\n\n`);
        end();
        return false;
      };
      const deliver = (d: Deletion, json: string) => {
        // While a check runs every change waits behind it (the latest kept): none overtakes another.
        waiting = { d, json };
        if (checking) return;
        if (Date.now() - allowedAt < TOKEN_RECHECK_MS) {
          waiting = null;
          return send(d, json);
        }
        checking = true;
        void stillAllowed()
          .catch(() => false)
          .then((allowed) => {
            checking = false;
            const next = waiting;
            waiting = null;
            // The latest change come meanwhile, sent on this check's word (a slow check, over a second,
            // must not start another before it: a final state would wait for good).
            if (allowed && next && !ended) send(next.d, next.json);
          });
      };

      const heartbeat = setInterval(() => {
        // Not to a client still reading what was sent: it is not idle, and a held Deletion must not be replaced.
        if (!res.writableNeedDrain) write(': heartbeat\n\n');
        void stillAllowed();
      }, heartbeatMs);
      open.add(end);
      // The response's close is the client going away (the request's own
      // 'close' fires as soon as its empty body has been read).
      res.on('close', end);
      res.on('error', end);
      // Gone already, while the wizard was read: its 'close' has fired before anyone listened (a review);
      // or the server closed meanwhile (its streams were ended before this one was open).
      if (res.destroyed || feed.closed) return end();

      send(first, encode(first));
      if (ended) return;
      unsubscribe = feed.subscribe(auth.workspaceId, id, (event) => {
        if ('gone' in event) end();
        else deliver(event.deletion, event.json);
      });
    },
  });

  /** The problem (401, 403) the stream's request would be refused with now; null while it is still allowed. */
  async function refusalNow(req: FastifyRequest): Promise<Problem | null> {
    try {
      requireRole(await authenticate(deps.prisma, authorizationOf(req)), roles);
      return null;
    } catch (err) {
      // A database that is away is not a revoked token: keep the stream.
      if (!(err instanceof HttpProblem && (err.status === 401 || err.status === 403))) return null;
      return toProblem(err).problem;
    }
  }
}
