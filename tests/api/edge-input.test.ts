// api.md Conventions: the edge refuses what the database would (strings that
// are not well-formed Unicode or hold a NUL, timestamps outside 1970–9999,
// cursors this server did not issue), with 400 naming the field, before
// anything reaches a wizard. Each case here once hung or answered 500.
import { signHookBody } from '../../api/hook-signature';
import { makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, listenTestServer, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
let secret: string;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, {
    owner: 'OWNER',
    admin: 'ADMIN',
    leaver: 'MEMBER',
    quitter: 'MEMBER',
    hired: 'MEMBER',
    stepper: 'MEMBER',
    distant: 'MEMBER',
  });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;
const paths = (r: { body: { errors?: { path: string }[] } }) => (r.body.errors ?? []).map((e) => e.path);

/** A cursor as this server encodes them (base64url JSON), with any content. */
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

describe('strings that are not well-formed Unicode, or hold a NUL', () => {
  // The raw JSON escape: what a client sends when it cuts a reason in the middle of an emoji.
  const loneSurrogate = '{"reason":"left \\ud83d"}';

  test('a start reason with a lone surrogate is 400 naming reason; nothing starts', async () => {
    const r = await admin('POST', `/v1/users/${id('leaver')}/deletion`, loneSurrogate);
    expectProblem(r, 400);
    expect(paths(r)).toEqual(['reason']);
    expectProblem(await admin('POST', `/v1/users/${id('leaver')}/deletion`, '{"reason":"\\udc00"}'), 400);
    expectProblem(await admin('POST', `/v1/users/${id('leaver')}/deletion`, '{"reason":"a\\u0000b"}'), 400);
    expect((await admin('GET', `/v1/users/${id('leaver')}`)).body.status).toBe('ACTIVE');
    expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: id('leaver') } })).toBe(0);
    // A whole emoji (a surrogate pair) is well-formed and accepted.
    const ok = await admin('POST', `/v1/users/${id('leaver')}/deletion`, '{"reason":"left \\ud83d\\ude00"}');
    expect(ok.status).toBe(201);
    expect(ok.body.reason).toBe('left 😀');
  });

  test('a cancel reason with a lone surrogate is 400 naming reason; the wizard stays open and cancellable', async () => {
    const started = await admin('POST', `/v1/users/${id('quitter')}/deletion`, {});
    expect(started.status).toBe(201);
    const r = await admin('POST', `/v1/deletions/${started.body.id}/cancel`, loneSurrogate);
    expectProblem(r, 400);
    expect(paths(r)).toEqual(['reason']);
    expect((await admin('GET', `/v1/deletions/${started.body.id}`)).body.status).toBe('IN_PROGRESS');
    const cancelled = await admin('POST', `/v1/deletions/${started.body.id}/cancel`, { reason: 'by mistake' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('CANCELLED');
  });

  test('the lead step (one of two body shapes) names the field inside the shape it was sent as', async () => {
    const started = await admin('POST', `/v1/users/${id('stepper')}/deletion`, {});
    expect(started.status).toBe(201);
    const d = started.body.id;
    const one = await admin('POST', `/v1/deletions/${d}/leads`, '{"targetUserId":"\\ud800"}');
    expectProblem(one, 400);
    expect(paths(one)).toEqual(['targetUserId']);
    const split = await admin('POST', `/v1/deletions/${d}/leads`, '{"distribution":[{"userId":"a\\u0000","weight":100}]}');
    expectProblem(split, 400);
    expect(paths(split)).toEqual(['distribution.0.userId']);
    expect((await admin('GET', `/v1/deletions/${d}`)).body.leads.state).toBe('PENDING');
    expect((await admin('POST', `/v1/deletions/${d}/cancel`, {})).body.status).toBe('CANCELLED');
  });

  test('every string field of the directory refuses them too, naming the field', async () => {
    const cases: [string, string, string][] = [
      ['/v1/users', `{"name":"N\\ud800","email":"n@x.test","role":"MEMBER"}`, 'name'],
      ['/v1/leads/bulk', `{"leads":[{"name":"L","phone":"\\udfff","ownerId":"${id('hired')}"}]}`, 'leads.0.phone'],
      ['/v1/automations', `{"name":"A","distribution":[{"userId":"x\\u0000","weight":100}]}`, 'distribution.0.userId'],
      ['/v1/integrations', `{"name":"I","source":"\\ud800","distribution":[{"userId":"${id('hired')}","weight":100}]}`, 'source'],
    ];
    for (const [path, body, field] of cases) {
      const r = await admin('POST', path, body);
      expect({ path, status: r.status, fields: paths(r) }).toEqual({ path, status: 400, fields: [field] });
    }
    expect(await api.prisma.lead.count({ where: { workspaceId: ws.id } })).toBe(0);
  });

  test('a query string with a NUL is 400 naming the parameter', async () => {
    const r = await admin('GET', '/v1/leads?ownerId=a%00b');
    expectProblem(r, 400);
    expect(paths(r)).toEqual(['query.ownerId']);
  });
});

describe('cursors this server did not issue', () => {
  test('a cursor whose id holds a NUL, or whose time is year 0 or past 9999, is 400 naming query.cursor', async () => {
    const first = await admin('GET', '/v1/users?limit=1');
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const bad = [
      cursorOf({ c: '2026-01-01T00:00:00.000Z', i: 'a\u0000b' }),
      cursorOf({ c: '0000-01-01T00:00:00.000Z', i: id('owner') }),
      cursorOf({ c: '+010000-01-01T00:00:00.000Z', i: id('owner') }),
      cursorOf({ c: '2026-01-01T00:00:00.000Z', i: 'a\ud800' }),
    ];
    for (const list of ['/v1/users', '/v1/automations', '/v1/integrations', '/v1/labels', '/v1/deletions']) {
      for (const cursor of bad) {
        const r = await admin('GET', `${list}?cursor=${cursor}`);
        expect({ list, cursor, status: r.status, fields: paths(r) }).toEqual({ list, cursor, status: 400, fields: ['query.cursor'] });
      }
    }
    // The one it handed out still works.
    expect((await admin('GET', `/v1/users?limit=1&cursor=${first.body.nextCursor}`)).status).toBe(200);
  });

  test('a cursor made by hand is 400 even when it names a real position', async () => {
    const [first] = await api.prisma.user.findMany({ where: { workspaceId: ws.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: 1 });
    const made = cursorOf({ c: first!.createdAt.toISOString(), i: first!.id });
    const r = await admin('GET', `/v1/users?limit=1&cursor=${made}`);
    expect({ status: r.status, fields: paths(r) }).toEqual({ status: 400, fields: ['query.cursor'] });
    // A handed-out cursor with one character changed is not one it handed out either.
    const given: string = (await admin('GET', '/v1/users?limit=1')).body.nextCursor;
    const last = given.slice(-1);
    const changed = given.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    expect((await admin('GET', `/v1/users?limit=1&cursor=${changed}`)).status).toBe(400);
  });

  test("a cursor is the list's and the workspace's that it was handed out for", async () => {
    const users: string = (await admin('GET', '/v1/users?limit=1')).body.nextCursor;
    // Another list in the same order (creation order) refuses it.
    const onLabels = await admin('GET', `/v1/labels?limit=1&cursor=${encodeURIComponent(users)}`);
    expect({ status: onLabels.status, fields: paths(onLabels) }).toEqual({ status: 400, fields: ['query.cursor'] });
    // So does the same list in another workspace.
    const other = await makeWorkspace(api.prisma, { owner: 'OWNER', one: 'MEMBER', two: 'MEMBER' });
    const otherAdmin = client(api.url, await tokenOf(api.prisma, other, 'owner'));
    const there = await otherAdmin('GET', `/v1/users?limit=1&cursor=${encodeURIComponent(users)}`);
    expect({ status: there.status, fields: paths(there) }).toEqual({ status: 400, fields: ['query.cursor'] });
    expect((await otherAdmin('GET', '/v1/users?limit=1')).body.nextCursor).toEqual(expect.any(String));
  });

  test("a cursor is the filter's it was handed out with: followed without it, or with another, it is 400", async () => {
    const active: string = (await admin('GET', '/v1/users?status=ACTIVE&limit=1')).body.nextCursor;
    expect((await admin('GET', `/v1/users?status=ACTIVE&limit=2&cursor=${encodeURIComponent(active)}`)).status).toBe(200);
    for (const query of ['limit=1', 'status=SUSPENDED&limit=1']) {
      const r = await admin('GET', `/v1/users?${query}&cursor=${encodeURIComponent(active)}`);
      expect({ query, status: r.status, fields: paths(r) }).toEqual({ query, status: 400, fields: ['query.cursor'] });
    }
  });

  test('a cursor handed out by one API server is followed by another over the same database', async () => {
    const all = (await admin('GET', '/v1/users?limit=500')).body.items.map((u: { id: string }) => u.id);
    const first = await admin('GET', '/v1/users?limit=2');
    const replica = await listenTestServer({ prisma: api.prisma, wizard: api.wizard, config: api.harness.config });
    try {
      const next = await client(replica.url, await tokenOf(api.prisma, ws, 'admin'))('GET', `/v1/users?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      expect(next.status).toBe(200);
      expect(next.body.items.map((u: { id: string }) => u.id)).toEqual(all.slice(2, 4));
    } finally {
      await replica.app.close();
    }
  });

  test("an audit's cursor is checked before the wizard is looked up (400 before 404)", async () => {
    const r = await admin('GET', `/v1/deletions/${'0'.repeat(25)}/audit?cursor=${cursorOf({ c: '2026-01-01T00:00:00.000Z', i: 'x' })}`);
    expect({ status: r.status, fields: paths(r) }).toEqual({ status: 400, fields: ['query.cursor'] });
  });
});

describe('HR effectiveAt outside 1970–9999', () => {
  const hook = (raw: string) =>
    client(api.url)('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(secret, raw) });

  test('year 0 (and 1969, and 10000) is 400 naming effectiveAt; nothing starts', async () => {
    for (const effectiveAt of ['0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '+10000-01-01T00:00:00Z']) {
      const raw = JSON.stringify({ email: ws.users.hired!.email, employeeId: `E-${effectiveAt}`, effectiveAt });
      const r = await hook(raw);
      expect({ effectiveAt, status: r.status, fields: paths(r) }).toEqual({ effectiveAt, status: 400, fields: ['effectiveAt'] });
    }
    expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: id('hired') } })).toBe(0);
    expect((await admin('GET', `/v1/users/${id('hired')}`)).body.status).toBe('ACTIVE');
  });

  test('a NUL or a lone surrogate in a signed body is 400 naming its field (the schema refuses it); nothing starts', async () => {
    const email = ws.users.hired!.email;
    const cases: [string, string[]][] = [
      [`{"email":"${email}","employeeId":"E\\u0000"}`, ['employeeId']],
      [`{"email":"${email}","employeeId":"E\\ud800"}`, ['employeeId']],
      [`{"email":"${email.replace('@', '\\u0000@')}"}`, ['email']],
    ];
    for (const [raw, fields] of cases) {
      const r = await hook(raw);
      expect({ raw, status: r.status, fields: paths(r) }).toEqual({ raw, status: 400, fields });
    }
    // A NUL in a field's name: no such field, 400.
    expectProblem(await hook(`{"email":"${email}","a\\u0000":1}`), 400);
    expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: id('hired') } })).toBe(0);
    expect((await admin('GET', `/v1/users/${id('hired')}`)).body.status).toBe('ACTIVE');
  });

  test('the last moment of 9999 is accepted: 202, and the user is SUSPENDED until then', async () => {
    const raw = JSON.stringify({ email: ws.users.distant!.email, employeeId: 'E-9999', effectiveAt: '9999-12-31T23:59:59Z' });
    const r = await hook(raw);
    expect(r.status).toBe(202);
    expect((await admin('GET', `/v1/users/${id('distant')}`)).body.status).toBe('SUSPENDED');
  });
});
