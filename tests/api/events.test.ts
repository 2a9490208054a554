// GET /v1/deletions/{id}/events: the wizard pushed as Server-Sent Events, on a
// real server with a real worker and Temporal. A subscriber sees every step,
// the lead move's progress on the way, and the stream ends after the final
// state (COMPLETED, or CANCELLED once a stopped move settled); refusals are
// the same as every deletion route's, before any byte of a stream.
import type { FastifyInstance } from 'fastify';
import { deletionFeed, FEED_INTERVAL_MS } from '../../api/routes/events';
import type { Deletion } from '../../domain/schemas';
import { MovePace } from '../support/move-pace';
import { eventually, makeWorkspace, wizardHarness, type TestWorkspace, type WizardHarness } from '../support/wizard';
import { client, expectProblem, listenTestServer, tokenOf, type Call } from './support';

/** A book of many small batches; the move is held at its gate (MovePace) so the stream surely sees it mid-way. */
const BOOK = 20_000;
const BATCH = 100;
/** Short heartbeats here, so the tests see them (the server's default is 15 s). */
const HEARTBEAT = 500;

let h: WizardHarness;
const pace = new MovePace();
let app: FastifyInstance;
let url: string;
let ws: TestWorkspace;
let admin: Call;
let adminToken: string;

beforeAll(async () => {
  h = await wizardHarness({ batchSize: BATCH, pace });
  ({ app, url } = await listenTestServer(h, { events: { heartbeatMs: HEARTBEAT } }));
  ws = await makeWorkspace(
    h.prisma,
    { owner: 'OWNER', admin: 'ADMIN', member: 'MEMBER', leaver: 'MEMBER', quitter: 'MEMBER', done: 'MEMBER', ann: 'MEMBER', bob: 'MEMBER' },
    { leaver: BOOK, quitter: BOOK, done: 3 },
  );
  adminToken = await tokenOf(h.prisma, ws, 'admin');
  admin = client(url, adminToken);
});

// A test that failed while holding the move must not leave the next one waiting.
afterEach(() => pace.open());

afterAll(async () => {
  await app?.close();
  await h?.close();
});

interface Stream {
  status: number;
  contentType: string;
  /** Each `deletion` event, as it arrived. */
  events: Deletion[];
  /** Each `problem` event (why the server ends the stream early), as it arrived. */
  problems: { type: string; title: string; status: number; detail: string }[];
  heartbeats: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Resolves with the first event (from now on, or already received) that passes `ok`. */
  next(ok: (d: Deletion) => boolean, what: string): Promise<Deletion>;
  close(): void;
}

/** Opens the stream as a browser page would: fetch, with the token in the Authorization header. */
async function subscribe(deletionId: string, token = adminToken, base = url): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${base}/v1/deletions/${deletionId}/events`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  const events: Deletion[] = [];
  const problems: Stream['problems'] = [];
  const waiters: { ok: (d: Deletion) => boolean; resolve: (d: Deletion) => void }[] = [];
  const stream: Stream = {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    events,
    problems,
    heartbeats: 0,
    ended: Promise.resolve(),
    next(ok, what) {
      const seen = events.find(ok);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ ok, resolve });
        void stream.ended.then(() => reject(new Error(`the stream ended before ${what}`)));
      });
    },
    close: () => abort.abort(),
  };
  stream.ended = (async () => {
    if (!res.ok || !res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          if (block.startsWith(':')) {
            stream.heartbeats += 1;
            continue;
          }
          const lines = block.split('\n');
          const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          const names = lines.filter((l) => l.startsWith('event:'));
          if (names.length > 0) {
            // The one named event: why the stream ends early (never what EventSource's `onmessage` gets).
            expect(names).toEqual(['event: problem']);
            problems.push(JSON.parse(data));
            continue;
          }
          // A plain message (no `event:` field): what EventSource's `onmessage` receives.
          const d = JSON.parse(data) as Deletion;
          events.push(d);
          for (const w of waiters.splice(0)) {
            if (w.ok(d)) w.resolve(d);
            else waiters.push(w);
          }
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return stream;
}

async function start(handle: string): Promise<Deletion> {
  const r = await admin('POST', `/v1/users/${ws.users[handle]!.id}/deletion`, {});
  expect(r.status).toBe(201);
  return r.body;
}

test('a subscriber sees the move progress, every step, and the end; then the stream closes', async () => {
  const d = await start('leaver');
  const s = await subscribe(d.id);
  expect(s.status).toBe(200);
  expect(s.contentType).toMatch(/^text\/event-stream/);
  const first = await s.next(() => true, 'the current state');
  expect(first).toMatchObject({ id: d.id, step: 'LEADS', leads: { total: BOOK, state: 'PENDING' } });

  const split = { distribution: [{ userId: ws.users.ann!.id, weight: 50 }, { userId: ws.users.bob!.id, weight: 50 }] };
  // The move runs two batches, then waits until the stream has told of them; then two more.
  pace.hold();
  pace.let(2);
  expect((await admin('POST', `/v1/deletions/${d.id}/leads`, split)).status).toBe(202);
  const early = await s.next((e) => e.leads.state === 'MOVING' && e.leads.moved > 0, 'the first batches');
  pace.let(2);
  await s.next((e) => e.leads.state === 'MOVING' && e.leads.moved > early.leads.moved, 'more batches');
  pace.open();
  const moved = await s.next((e) => e.step === 'AUTOMATIONS', 'step 2');
  expect(pace.passed).toBeGreaterThanOrEqual(BOOK / BATCH); // every batch went through the gate
  expect(moved.leads).toMatchObject({ total: BOOK, moved: BOOK, state: 'DONE' });

  // The move as the stream told it: counts on the way, never going back, each sent once.
  const progress = s.events.filter((e) => e.leads.state === 'MOVING').map((e) => e.leads.moved);
  const midway = progress.filter((m) => m > 0 && m < BOOK);
  expect(midway.length).toBeGreaterThanOrEqual(2);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  expect(new Set(progress).size).toBe(progress.length);
  // Two events in a row never say the same thing.
  for (let i = 1; i < s.events.length; i++) expect(s.events[i]).not.toEqual(s.events[i - 1]);

  // Each later step is posted only once the stream has shown it.
  expect((await admin('POST', `/v1/deletions/${d.id}/automations`, { overrides: [] })).status).toBe(200);
  await s.next((e) => e.step === 'INTEGRATIONS', 'step 3');
  expect((await admin('POST', `/v1/deletions/${d.id}/integrations`, { overrides: [] })).status).toBe(200);
  await s.next((e) => e.step === 'LABELS', 'step 4');
  expect((await admin('POST', `/v1/deletions/${d.id}/labels`, { replacements: [] })).status).toBe(200);
  await s.next((e) => e.step === 'CONFIRM', 'confirm');
  expect((await admin('POST', `/v1/deletions/${d.id}/confirm`, { confirmation: 'CONFIRM' })).status).toBe(202);
  const last = await s.next((e) => e.status === 'COMPLETED', 'the end');
  await s.ended;

  expect(last).toMatchObject({ status: 'COMPLETED', step: 'DONE' });
  expect(s.events[s.events.length - 1]).toEqual(last);
  const steps = s.events.map((e) => e.step).filter((step, i, all) => step !== all[i - 1]);
  expect(steps).toEqual(['LEADS', 'AUTOMATIONS', 'INTEGRATIONS', 'LABELS', 'CONFIRM', 'DONE']);
  // What the stream said last is what a read says.
  expect((await admin('GET', `/v1/deletions/${d.id}`)).body).toEqual(last);
});

test('cancel during the move: the stream ends CANCELLED once the move has settled', async () => {
  const d = await start('quitter');
  const s = await subscribe(d.id);
  // Two batches, then the move waits until the cancel is on its way.
  pace.hold();
  pace.let(2);
  expect((await admin('POST', `/v1/deletions/${d.id}/leads`, { targetUserId: ws.users.ann!.id })).status).toBe(202);
  await s.next((e) => e.leads.state === 'MOVING' && e.leads.moved > 0, 'the move under way');
  const cancel = admin('POST', `/v1/deletions/${d.id}/cancel`, { reason: 'changed our minds' });
  pace.open();
  expect((await cancel).status).toBe(200);
  await s.ended;
  const last = s.events[s.events.length - 1]!;
  expect(last).toMatchObject({ status: 'CANCELLED', leads: { state: 'DONE' } });
  expect(last.leads.moved).toBeLessThanOrEqual(BOOK);
  expect((await admin('GET', `/v1/deletions/${d.id}`)).body).toEqual(last);
});

test('a finished wizard: its final state, then the end', async () => {
  const d = await start('done');
  expect((await admin('POST', `/v1/deletions/${d.id}/cancel`, {})).status).toBe(200);
  const s = await subscribe(d.id);
  await s.ended;
  expect(s.events).toEqual([expect.objectContaining({ id: d.id, status: 'CANCELLED' })]);
});

/** A wizard of a workspace of its own, its stream followed by a second ADMIN (`second`) who has had the current state. */
async function followedBySecondAdmin() {
  const other = await makeWorkspace(h.prisma, { admin: 'ADMIN', second: 'ADMIN', leaver: 'MEMBER' }, { leaver: 1 });
  const token = await tokenOf(h.prisma, other, 'second');
  const { body: d } = await client(url, token)('POST', `/v1/users/${other.users.leaver!.id}/deletion`, {});
  const s = await subscribe(d.id, token);
  await s.next(() => true, 'the current state');
  return { other, s };
}

test('heartbeats keep an idle stream open; a token revoked meanwhile ends it, saying why', async () => {
  const { other, s } = await followedBySecondAdmin();
  // Nothing changes at step 1 until someone acts: only heartbeats arrive.
  for (let seen = 0; seen < 2; seen = s.heartbeats) await new Promise((r) => setTimeout(r, 100));
  expect(s.events).toHaveLength(1);
  // Suspending the user makes every token of theirs invalid: the stream ends at the next heartbeat.
  await h.prisma.user.update({ where: { id: other.users.second!.id }, data: { status: 'SUSPENDED' } });
  await s.ended;
  expect(s.events).toHaveLength(1);
  // Its last words say why, as the same request would be refused now: a client can tell this end
  // (do not reconnect with that token) from a dropped connection (reconnect).
  expect(s.problems).toEqual([expect.objectContaining({ status: 401, detail: expect.any(String), title: expect.any(String) })]);
});

test('a token whose user is no longer allowed to follow deletions (now a MEMBER) ends the stream with a 403 problem', async () => {
  const { other, s } = await followedBySecondAdmin();
  await h.prisma.user.update({ where: { id: other.users.second!.id }, data: { role: 'MEMBER' } });
  await s.ended;
  expect(s.events).toHaveLength(1);
  expect(s.problems).toEqual([expect.objectContaining({ status: 403 })]);
});

// Security probe 38: the token was checked again only with each heartbeat (15 s by default): a
// revoked token's stream went on receiving the wizard (names, emails) for up to that long.
test('a token revoked is not sent another change: the next one ends the stream with the problem, heartbeats far off', async () => {
  const server = await listenTestServer(h, { events: { heartbeatMs: 60_000 } });
  try {
    const other = await makeWorkspace(h.prisma, { admin: 'ADMIN', second: 'ADMIN', leaver: 'MEMBER' }, { leaver: 1 });
    const second = await tokenOf(h.prisma, other, 'second');
    const { body: d } = await client(server.url, second)('POST', `/v1/users/${other.users.leaver!.id}/deletion`, {});
    const s = await subscribe(d.id, second, server.url);
    await s.next(() => true, 'the current state');
    // Past the moment its opening checked the token, a change comes after the revocation.
    await new Promise((r) => setTimeout(r, 1_500));
    await h.prisma.user.update({ where: { id: other.users.second!.id }, data: { status: 'SUSPENDED' } });
    expect((await client(server.url, await tokenOf(h.prisma, other, 'admin'))('POST', `/v1/deletions/${d.id}/cancel`, {})).status).toBe(200);
    await s.ended;
    expect(s.events.map((e) => e.status)).toEqual(['IN_PROGRESS']);
    expect(s.problems).toEqual([expect.objectContaining({ status: 401 })]);
    expect(s.heartbeats).toBe(0);
  } finally {
    await server.app.close();
  }
});

test('closing the server ends its open streams (a stream never holds a shutdown)', async () => {
  const { app: second, url: secondUrl } = await listenTestServer(h);
  const other = await makeWorkspace(h.prisma, { admin: 'ADMIN', leaver: 'MEMBER' }, { leaver: 1 });
  const token = await tokenOf(h.prisma, other, 'admin');
  const { body: d } = await client(url, token)('POST', `/v1/users/${other.users.leaver!.id}/deletion`, {});
  const res = await fetch(`${secondUrl}/v1/deletions/${d.id}/events`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  expect((await reader.read()).done).toBe(false); // the current state
  await second.close();
  let done = false;
  while (!done) done = (await reader.read()).done;
});

test('refusals as for every deletion route, before any stream: 401, 403 for a MEMBER, 404 for an unknown or another workspace’s id', async () => {
  const d = await start('member');
  expectProblem(await client(url)('GET', `/v1/deletions/${d.id}/events`), 401);
  expectProblem(await client(url, await tokenOf(h.prisma, ws, 'ann'))('GET', `/v1/deletions/${d.id}/events`), 403);
  expectProblem(await admin('GET', '/v1/deletions/del_nothing/events'), 404);
  const elsewhere = await makeWorkspace(h.prisma, { admin: 'ADMIN' });
  expectProblem(await client(url, await tokenOf(h.prisma, elsewhere, 'admin'))('GET', `/v1/deletions/${d.id}/events`), 404);
  // No HEAD: it would open a stream with nowhere to send it.
  expect((await admin('HEAD', `/v1/deletions/${d.id}/events`)).status).toBe(405);
});

test('the OpenAPI document describes the stream', async () => {
  const doc = (await client(url)('GET', '/openapi.json')).body;
  const op = doc.paths['/v1/deletions/{id}/events'].get;
  expect(op.security).toEqual([{ bearerAuth: [] }]);
  expect(Object.keys(op.responses['200'].content)).toEqual(['text/event-stream']);
  expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '403', '404']));
});

describe('the feed: one reader per wizard, shared', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const wizardAt = (moved: number, status: Deletion['status'] = 'IN_PROGRESS') =>
    ({ id: 'd', status, step: 'LEADS', leads: { total: 1_000, moved, swept: 0, state: 'MOVING', distribution: null } }) as unknown as Deletion;

  test('subscribers of one wizard share each read; a count that changes reaches them at least once a second', async () => {
    let reads = 0;
    const feed = deletionFeed(async () => wizardAt(++reads), { intervalMs: FEED_INTERVAL_MS, encode: JSON.stringify });
    const a: number[] = [];
    const b: number[] = [];
    const offA = feed.subscribe('w', 'd', (e) => 'deletion' in e && a.push(e.deletion.leads.moved));
    const offB = feed.subscribe('w', 'd', (e) => 'deletion' in e && b.push(e.deletion.leads.moved));
    for (let second = 1; second <= 5; second++) {
      const before = a.length;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(a.length).toBeGreaterThan(before);
    }
    expect(a).toEqual(b);
    expect(reads).toBe(a.length); // one read per change, whatever the number of subscribers
    expect(a.length).toBeLessThanOrEqual(5_000 / FEED_INTERVAL_MS); // at most one per interval
    offA();
    offB();
    const after = reads;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(reads).toBe(after); // nobody listens: no reads
    expect(feed.watching).toBe(0);
  });

  /** A feed of the wizard `state()` returns, with one subscriber: what it got, and how many reads were made. */
  function followed(state: () => Deletion) {
    let reads = 0;
    const feed = deletionFeed(
      async () => {
        reads += 1;
        return state();
      },
      { encode: JSON.stringify },
    );
    const got: Deletion[] = [];
    feed.subscribe('w', 'd', (e) => 'deletion' in e && got.push(e.deletion));
    return { feed, got, reads: () => reads };
  }

  test('an unchanged wizard sends nothing; the final state is sent and the reading stops', async () => {
    let state = wizardAt(10);
    const { feed, got, reads } = followed(() => state);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(got).toHaveLength(1);
    state = { ...wizardAt(10, 'COMPLETED'), leads: { ...state.leads, state: 'DONE' } };
    await jest.advanceTimersByTimeAsync(3_000);
    expect(got.map((d) => d.status)).toEqual(['IN_PROGRESS', 'COMPLETED']);
    const after = reads();
    await jest.advanceTimersByTimeAsync(3_000);
    expect(reads()).toBe(after);
    expect(feed.watching).toBe(0);
  });

  test('a wizard waiting at a form is read less often (up to once a second), and at full pace again once it changes', async () => {
    // Every open page follows its wizard at every form (a change from another tab or admin shows): a
    // hundred pages at rest must not read as often as a hundred moves.
    let state = { ...wizardAt(0), step: 'AUTOMATIONS', leads: { ...wizardAt(0).leads, state: 'DONE' } } as Deletion;
    const { got, reads } = followed(() => state);
    await jest.advanceTimersByTimeAsync(3_000);
    const first = reads();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(reads() - first).toBeGreaterThanOrEqual(9); // still read about once a second
    expect(reads() - first).toBeLessThanOrEqual(11); // not every FEED_INTERVAL_MS
    // Another API process moved it on: seen within a second, and then read at full pace while it changes.
    state = { ...state, step: 'INTEGRATIONS' } as Deletion;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(got.at(-1)!.step).toBe('INTEGRATIONS');
    let moved = 0;
    state = { ...state, step: 'LEADS', leads: { ...state.leads, state: 'MOVING' } } as Deletion;
    const reading = setInterval(() => (state = { ...state, leads: { ...state.leads, moved: ++moved } } as Deletion), 10);
    await jest.advanceTimersByTimeAsync(2_000); // back to full pace
    const busy = reads();
    await jest.advanceTimersByTimeAsync(3_000);
    clearInterval(reading);
    expect(reads() - busy).toBeGreaterThanOrEqual(3_000 / FEED_INTERVAL_MS - 1);
  });

  /** A feed whose reads wait to be released, one by one, with the state each finds. */
  function heldFeed() {
    const release: ((d: Deletion) => void)[] = [];
    const feed = deletionFeed(() => new Promise<Deletion>((resolve) => release.push(resolve)), { encode: JSON.stringify });
    const follow = () => {
      const got: number[] = [];
      const off = feed.subscribe('w', 'd', (e) => 'deletion' in e && got.push(e.deletion.leads.moved));
      return { got, off };
    };
    return { feed, release, follow };
  }
  const finished = (moved: number) => ({ ...wizardAt(moved, 'COMPLETED'), leads: { ...wizardAt(moved).leads, state: 'DONE' } }) as Deletion;

  test('a change published while a read runs: that read (older) is not sent after it; a final one published ends it', async () => {
    const { feed, release, follow } = heldFeed();
    const a = follow();
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    expect(release).toHaveLength(1);
    // The read in flight holds 10; meanwhile a request's answer is 20.
    feed.publish('w', wizardAt(20), feed.mark());
    release[0]!(wizardAt(10));
    await jest.advanceTimersByTimeAsync(0);
    expect(a.got).toEqual([20]);
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    expect(release).toHaveLength(2);
    release[1]!(wizardAt(30));
    await jest.advanceTimersByTimeAsync(0);
    expect(a.got).toEqual([20, 30]);
    // A final state published while a read runs: sent, whatever that read finds, and the reading stops.
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    expect(release).toHaveLength(3);
    feed.publish('w', finished(30), feed.mark());
    release[2]!(wizardAt(30));
    await jest.advanceTimersByTimeAsync(3_000);
    expect(a.got).toEqual([20, 30, 30]);
    expect(release).toHaveLength(3);
    expect(feed.watching).toBe(0);
  });

  test('a state read for a request before a newer one was sent is not sent (a review: the step went back from AUTOMATIONS to LEADS)', async () => {
    const { feed, release, follow } = heldFeed();
    const a = follow();
    // A request marks, and reads the wizard (35) slowly; the feed's read begins after it and finds 40.
    const begun = feed.mark();
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    release[0]!(wizardAt(40));
    await jest.advanceTimersByTimeAsync(0);
    feed.publish('w', wizardAt(35), begun);
    expect(a.got).toEqual([40]);
    expect(feed.watched('w', 'd')).toBe(true);
    expect(feed.watched('w', 'other')).toBe(false);
  });

  test("a request's answer, asked before a read began that ends after it with the state before the change: that state is not sent after the answer (a review)", async () => {
    const { feed, release, follow } = heldFeed();
    const a = follow();
    const asked = feed.mark(); // the step is asked
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS); // the feed's read begins, before the step commits
    feed.publish('w', { ...wizardAt(1_000), step: 'AUTOMATIONS', leads: { ...wizardAt(1_000).leads, state: 'DONE' } } as Deletion, asked);
    release[0]!(wizardAt(900)); // what that read found: the move not yet done
    await jest.advanceTimersByTimeAsync(0);
    expect(a.got).toEqual([1_000]);
  });

  test('at equal progress, a read begun before an answer came is not sent after it (a review: a confirm\'s updatedAt went back)', async () => {
    const { feed, release, follow } = heldFeed();
    const a = follow();
    const asked = feed.mark();
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS); // a read begins before the change commits
    feed.publish('w', { ...wizardAt(5), updatedAt: 'after' } as Deletion, asked, feed.mark());
    release[0]!({ ...wizardAt(5), updatedAt: 'before' } as Deletion);
    await jest.advanceTimersByTimeAsync(0);
    expect(a.got).toEqual([5]);
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS); // the next read, begun after: sent if it differs
    release[1]!({ ...wizardAt(5), updatedAt: 'later' } as Deletion);
    await jest.advanceTimersByTimeAsync(0);
    expect(a.got).toEqual([5, 5]);
  });

  test('a subscriber come after a state was sent to the others gets the next read, unchanged for them', async () => {
    const feed = deletionFeed(async () => wizardAt(50), { encode: JSON.stringify });
    const a: number[] = [];
    const b: number[] = [];
    feed.subscribe('w', 'd', (e) => 'deletion' in e && a.push(e.deletion.leads.moved));
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    expect(a).toEqual([50]);
    // B read the wizard itself before subscribing (maybe before that 50): the next read reaches B, not A again.
    feed.subscribe('w', 'd', (e) => 'deletion' in e && b.push(e.deletion.leads.moved));
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    expect(b).toEqual([50]);
    expect(a).toEqual([50]);
  });

  test('a subscriber come while a read runs does not keep it from the others; it gets the next read, at once, and the final state ends both', async () => {
    // A review: each new subscriber threw the read under way away for everyone, so arrivals could starve them.
    const { feed, release, follow } = heldFeed();
    const a = follow();
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    const b = follow(); // while the read runs
    release[0]!(finished(60));
    await jest.advanceTimersByTimeAsync(0);
    expect(a.got).toEqual([60]);
    expect(b.got).toEqual([]);
    expect(feed.watching).toBe(1); // not over for B yet
    expect(release).toHaveLength(2); // read again at once for B
    release[1]!(finished(60));
    await jest.advanceTimersByTimeAsync(0);
    expect(b.got).toEqual([60]);
    expect(a.got).toEqual([60]);
    expect(feed.watching).toBe(0);
  });

  test('the last subscriber leaving while a read runs: nothing is sent, nothing read after it', async () => {
    const { feed, release, follow } = heldFeed();
    const a = follow();
    await jest.advanceTimersByTimeAsync(FEED_INTERVAL_MS);
    a.off();
    expect(feed.watching).toBe(0);
    release[0]!(wizardAt(70));
    await jest.advanceTimersByTimeAsync(5_000);
    expect(a.got).toEqual([]);
    expect(release).toHaveLength(1);
  });
});

test('steps posted back to back, without waiting for the stream: it tells each one, in order', async () => {
  // Found by a probe: steps 0.1-0.3 s apart reached the stream as LEADS → LABELS → COMPLETED, the
  // states between them never sent (the feed reads the wizard every 300 ms).
  const quick = await h.prisma.user.create({ data: { workspaceId: ws.id, name: 'quick', email: `quick@${ws.slug}.test`, role: 'MEMBER' } });
  const r = await admin('POST', `/v1/users/${quick.id}/deletion`, {});
  expect(r.status).toBe(201);
  const d = r.body as Deletion;
  const s = await subscribe(d.id);
  await s.next(() => true, 'the current state');
  expect((await admin('POST', `/v1/deletions/${d.id}/leads`, { targetUserId: ws.users.ann!.id })).status).toBe(202);
  await eventually(async () => ((await admin('GET', `/v1/deletions/${d.id}`)).body.step === 'AUTOMATIONS' ? true : undefined), 60_000, 'the move');
  expect((await admin('POST', `/v1/deletions/${d.id}/automations`, { overrides: [] })).status).toBe(200);
  expect((await admin('POST', `/v1/deletions/${d.id}/integrations`, { overrides: [] })).status).toBe(200);
  expect((await admin('POST', `/v1/deletions/${d.id}/labels`, { replacements: [] })).status).toBe(200);
  expect((await admin('POST', `/v1/deletions/${d.id}/confirm`, { confirmation: 'CONFIRM' })).status).toBe(202);
  await s.next((e) => e.status === 'COMPLETED', 'the end');
  await s.ended;
  const steps = s.events.map((e) => e.step).filter((step, i, all) => step !== all[i - 1]);
  expect(steps).toEqual(['LEADS', 'AUTOMATIONS', 'INTEGRATIONS', 'LABELS', 'CONFIRM', 'DONE']);
});

test("a client gone while its stream's first read runs leaves nothing behind: no feed reading, no heartbeat", async () => {
  // Found by a review: the response's 'close' fired before the stream listened for it, so the stream
  // stayed subscribed (the wizard read every 300 ms) until the server closed.
  let reads = 0;
  const slow = {
    ...h.wizard,
    get: async (workspaceId: string, id: string) => {
      reads += 1;
      if (reads === 1) await new Promise((resolve) => setTimeout(resolve, 500));
      return h.wizard.get(workspaceId, id);
    },
  };
  const other = await listenTestServer({ ...h, wizard: slow }, { events: { heartbeatMs: HEARTBEAT } });
  try {
    const { deletion } = await h.wizard.start({ workspaceId: ws.id, userId: ws.users.bob!.id, actor: { type: 'USER', id: ws.users.admin!.id }, source: 'ADMIN' });
    const leaving = new AbortController();
    const asked = fetch(`${other.url}/v1/deletions/${deletion.id}/events`, { headers: { authorization: `Bearer ${adminToken}` }, signal: leaving.signal }).catch(
      () => undefined,
    );
    await eventually(async () => (reads === 1 ? true : undefined), 5_000, 'the first read');
    leaving.abort();
    await asked;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(reads).toBe(1);
    expect((await h.wizard.cancel(ws.id, deletion.id, { type: 'USER', id: ws.users.admin!.id }, {})).status).toBe('CANCELLED');
  } finally {
    await other.app.close();
  }
});
