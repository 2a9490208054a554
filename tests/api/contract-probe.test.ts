// A demanding client written from api.md only: where the service disagreed
// with the contract. Each case failed before its fix, except "the lead step
// with an unknown field", kept as a guard of what api.md says there.
import { gzipSync } from 'node:zlib';
import { newStandardSecret, signHookBody, signStandard } from '../../api/hook-signature';
import { createScimToken } from '../../api/scim/auth';
import { eventually, makeAutomation, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let owner: Call;
let member: Call;
let anyone: Call;
let whsec: string;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', owner2: 'OWNER', admin: 'ADMIN', ann: 'MEMBER', bea: 'MEMBER', cid: 'MEMBER' }, { ann: 5 });
  owner = client(api.url, await tokenOf(api.prisma, ws, 'owner'));
  member = client(api.url, await tokenOf(api.prisma, ws, 'ann'));
  anyone = client(api.url);
  whsec = newStandardSecret();
  await api.prisma.workspace.update({ where: { id: ws.id }, data: { hookStandardSecret: whsec } });
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;

describe('Standard Webhooks: a webhook-id the database cannot key on', () => {
  test('a signed delivery whose webhook-id is too long to keep is 401 and starts nothing (was 500 after freezing the user)', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'hx', email: `hx@${ws.slug}.test`, role: 'MEMBER' } });
    const raw = JSON.stringify({ email: u.email });
    // 1,990 characters (under the 2,000 a header may hold) that take two bytes
    // each in UTF-8, in no repeating pattern (a pattern would be compressed).
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const longId = Array.from({ length: 1990 }, () => String.fromCharCode(0x80 + (next() % 0x7f))).join('');
    const r = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, signStandard(whsec, longId, raw));
    expectProblem(r, 401);
    expect(r.body.detail).toMatch(/webhook-id/);
    expect((await owner('GET', `/v1/users/${u.id}`)).body.status).toBe('ACTIVE');
    expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: u.id } })).toBe(0);
    // An id of ordinary length still goes through, and its answer is kept for a second delivery.
    const ok = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, signStandard(whsec, 'é'.repeat(100), raw));
    expect(ok.status).toBe(202);
    const again = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, signStandard(whsec, 'é'.repeat(100), raw));
    expect(again.body).toEqual(ok.body);
  });
});

describe('HR effectiveAt: the instant, not only the year as written, lies in 1970–9999', () => {
  test('a time written in 9999 or 1970 whose offset puts it in 10000 or 1969 is 400 naming effectiveAt; nothing starts', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'tz', email: `tz@${ws.slug}.test`, role: 'MEMBER' } });
    const secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
    for (const effectiveAt of ['9999-12-31T23:59:59-14:00', '1970-01-01T00:00:00+14:00']) {
      const raw = JSON.stringify({ email: u.email, employeeId: `E-${effectiveAt}`, effectiveAt });
      const r = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(secret, raw) });
      expect({ effectiveAt, status: r.status, fields: (r.body?.errors ?? []).map((e: { path: string }) => e.path) }).toEqual({
        effectiveAt,
        status: 400,
        fields: ['effectiveAt'],
      });
    }
    expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: u.id } })).toBe(0);
    expect((await owner('GET', `/v1/users/${u.id}`)).body.status).toBe('ACTIVE');
    // The same edges with an offset that keeps them inside are accepted.
    const raw = JSON.stringify({ email: u.email, employeeId: 'E-edge', effectiveAt: '9999-12-31T23:59:59+14:00' });
    expect((await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(secret, raw) })).status).toBe(202);
  });
});

describe('a query string that does not decode', () => {
  test('a parameter whose percent-encoding is not UTF-8 (a lone surrogate, a stray %) is 400 naming it, not a lookup of the raw text', async () => {
    for (const [path, field] of [
      ['/v1/leads?ownerId=%ED%A0%80', 'query.ownerId'],
      ['/v1/leads/count?ownerId=%ZZ', 'query.ownerId'],
      ['/v1/users?status=ACTIVE&cursor=%C3', 'query.cursor'],
    ] as const) {
      const r = await owner('GET', path);
      expectProblem(r, 400);
      expect({ path, fields: r.body.errors.map((e: { path: string }) => e.path) }).toEqual({ path, fields: [field] });
    }
    // Well-formed encodings still reach the lookup: an unknown owner is 404.
    expectProblem(await owner('GET', `/v1/leads?ownerId=${encodeURIComponent('nobody ü')}`), 404);
    // And 401 still comes first.
    expectProblem(await anyone('GET', '/v1/leads?ownerId=%ED%A0%80'), 401);
  });
});

describe('a query parameter given twice', () => {
  test('is 400 naming it once, with why (not "expected number, received NaN"), on every list, whatever the values', async () => {
    for (const [path, field] of [
      ['/v1/deletions?limit=1&limit=2', 'query.limit'],
      ['/v1/deletions?status=IN_PROGRESS&status=IN_PROGRESS', 'query.status'],
      ['/v1/leads?ownerId=a&limit=5&ownerId=a', 'query.ownerId'],
      ['/v1/users?cursor=x&cursor=y&cursor=z', 'query.cursor'],
    ] as const) {
      const r = await owner('GET', path);
      expectProblem(r, 400);
      expect({ path, errors: r.body.errors }).toEqual({ path, errors: [{ path: field, message: 'is given more than once; give it once' }] });
    }
    // A parameter the route does not take is that, given once or twice.
    for (const path of ['/v1/deletions?a=1', '/v1/deletions?a=1&a=2', '/v1/me?a=1&a=2']) {
      const r = await owner('GET', path);
      expectProblem(r, 400);
      expect({ path, errors: r.body.errors }).toEqual({ path, errors: [{ path: 'query.a', message: 'is not a known field' }] });
    }
    // The health check still answers whatever its prober adds.
    expect((await anyone('GET', '/v1/health?probe=1&probe=2')).status).toBe(200);
  });
});

describe('an id too long to be ours, in the path', () => {
  const long = 'x'.repeat(201);
  test('without a token it is still 401 first; with one, 404 as for any unknown id', async () => {
    for (const [method, path] of [
      ['GET', `/v1/deletions/${long}`],
      ['POST', `/v1/deletions/${long}/confirm`],
      ['GET', `/v1/users/${long}/deletion-preview`],
    ] as const) {
      expect({ path: path.slice(0, 30), status: (await anyone(method, path, method === 'POST' ? {} : undefined)).status }).toEqual({
        path: path.slice(0, 30),
        status: 401,
      });
      const r = await owner(method, path, method === 'POST' ? { confirmation: 'CONFIRM' } : undefined);
      expectProblem(r, 404);
      expect(r.body.detail).not.toMatch(/^No route/);
    }
    // A MEMBER is refused (403) before the id is looked at.
    expectProblem(await member('GET', `/v1/deletions/${long}`), 403);
  });

  test('an unknown workspace slug of any length answers the HR hook exactly as a bad signature does', async () => {
    const raw = JSON.stringify({ email: `owner@${ws.slug}.test` });
    const unknown = await anyone('POST', `/v1/hooks/${'s'.repeat(201)}/offboarding`, raw, { 'x-signature': 't=1,v1=00' });
    const badSignature = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': 't=1,v1=00' });
    expectProblem(unknown, 401);
    expect(unknown.body).toEqual(badSignature.body);
  });
});

describe('the lead step (one of two shapes) with an unknown field', () => {
  test('400 names the unknown field, not the whole body; nothing changes', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'lx', email: `lx@${ws.slug}.test`, role: 'MEMBER' } });
    const started = await owner('POST', `/v1/users/${u.id}/deletion`, {});
    expect(started.status).toBe(201);
    const d = started.body.id;
    for (const [body, fields] of [
      [{ targetUserId: id('bea'), extra: 1 }, ['extra']],
      [{ distribution: [{ userId: id('bea'), weight: 100 }], note: 'x' }, ['note']],
      [{ targetUserId: id('bea'), extra: 1, more: 2 }, ['extra', 'more']],
    ] as const) {
      const r = await owner('POST', `/v1/deletions/${d}/leads`, body);
      expectProblem(r, 400);
      expect({ body, fields: r.body.errors.map((e: { path: string }) => e.path) }).toEqual({ body, fields });
    }
    const after = await owner('GET', `/v1/deletions/${d}`);
    expect(after.body).toEqual(expect.objectContaining({ step: 'LEADS', leads: expect.objectContaining({ state: 'PENDING' }) }));
    expect((await owner('POST', `/v1/deletions/${d}/cancel`, {})).status).toBe(200);
  });
});

describe('a step body within the 10 MB limit but too big for the wizard to take', () => {
  // 5,000 overrides with ids of 200 characters: about 2.3 MB of valid shape.
  const big = (n: number) => ({
    overrides: Array.from({ length: n }, (_, i) => ({
      automationId: `a${i}`.padEnd(200, 'x'),
      distribution: [{ userId: 'u'.padEnd(200, 'y'), weight: 100 }],
    })),
  });

  test('is 409 at another step and 422 at its own (it names more than the step lists), never 5xx; the wizard goes on', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'big', email: `big@${ws.slug}.test`, role: 'MEMBER' } });
    await makeAutomation(api.prisma, ws.id, 'Big', [{ userId: u.id, weight: 50 }, { userId: id('bea'), weight: 50 }]);
    const d = (await owner('POST', `/v1/users/${u.id}/deletion`, {})).body.id;

    const atLeads = await owner('POST', `/v1/deletions/${d}/automations`, big(5_000));
    expectProblem(atLeads, 409);

    expect((await owner('POST', `/v1/deletions/${d}/leads`, { targetUserId: id('bea') })).status).toBe(202);
    await eventually(async () => ((await owner('GET', `/v1/deletions/${d}`)).body.step === 'AUTOMATIONS' ? true : undefined), 60_000, 'the move');
    const atOwnStep = await owner('POST', `/v1/deletions/${d}/automations`, big(5_000));
    expectProblem(atOwnStep, 422);

    // Nothing changed: the step still takes an ordinary body.
    const ok = await owner('POST', `/v1/deletions/${d}/automations`, { overrides: [] });
    expect(ok.status).toBe(200);
    expect(ok.body.step).toBe('INTEGRATIONS');
    expect((await owner('POST', `/v1/deletions/${d}/cancel`, {})).status).toBe(200);
  }, 120_000);

  test('naming only the listed items, each once, is still 422 when a rule refuses one of them (the leaver in a distribution), as the wizard would say', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'big2', email: `big2@${ws.slug}.test`, role: 'MEMBER' } });
    const automations: string[] = [];
    for (let i = 0; i < 70; i++) {
      automations.push(await makeAutomation(api.prisma, ws.id, `Big2 ${i}`, [{ userId: u.id, weight: 50 }, { userId: id('bea'), weight: 50 }]));
    }
    const d = (await owner('POST', `/v1/users/${u.id}/deletion`, {})).body.id;
    expect((await owner('POST', `/v1/deletions/${d}/leads`, { targetUserId: id('bea') })).status).toBe(202);
    await eventually(async () => ((await owner('GET', `/v1/deletions/${d}`)).body.step === 'AUTOMATIONS' ? true : undefined), 60_000, 'the move');
    // 70 listed automations, each named once, 100 members of weight 1: about 1.6 MB. The last one names the leaver.
    const members = (n: number) => Array.from({ length: 100 }, (_, m) => ({ userId: `m${n}-${m}`.padEnd(200, 'z'), weight: 1 }));
    const overrides = automations.map((automationId, n) => ({ automationId, distribution: members(n) }));
    overrides[69]!.distribution[0] = { userId: u.id, weight: 1 };
    const r = await owner('POST', `/v1/deletions/${d}/automations`, { overrides });
    expectProblem(r, 422);
    expect(r.body.detail).toContain('is the user being deleted');
    expect((await owner('POST', `/v1/deletions/${d}/cancel`, {})).status).toBe(200);
  }, 120_000);
});

describe('HR hook: the scheme is the one whose signature is sent', () => {
  test('a good X-Signature is accepted even when the sender also puts a webhook-id (a delivery id) on the request', async () => {
    const u = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'xs', email: `xs@${ws.slug}.test`, role: 'MEMBER' } });
    const secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
    const raw = JSON.stringify({ email: u.email });
    const r = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(secret, raw), 'webhook-id': 'delivery-1' });
    expect(r.status).toBe(202);
    expect((await owner('GET', `/v1/deletions/${r.body.deletionId}`)).body.user.id).toBe(u.id);
    // A bad X-Signature stays 401 with or without that header; a Standard signature without its other headers too.
    const bad = { 'x-signature': signHookBody('not-the-secret', raw) };
    expectProblem(await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { ...bad, 'webhook-id': 'delivery-2' }), 401);
    expectProblem(await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'webhook-signature': 'v1,AAAA', 'webhook-id': 'd3' }), 401);
    expect((await owner('POST', `/v1/deletions/${r.body.deletionId}/cancel`, {})).status).toBe(200);
  });
});

describe('Standard Webhooks: a refusal that names what the body held is kept for its webhook-id', () => {
  test('an unknown field whose name holds a NUL or a lone surrogate is 400 naming it, twice alike, never 500', async () => {
    const email = `owner@${ws.slug}.test`;
    for (const [n, raw] of [
      [1, `{"email":"${email}","a\\u0000":1}`],
      [2, `{"email":"${email}","\\ud800":1}`],
    ] as const) {
      const first = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, signStandard(whsec, `msg_odd_key_${n}`, raw));
      expectProblem(first, 400);
      // The answer was kept for its webhook-id (as its JSON text), and the second delivery got it back.
      const kept = await api.prisma.webhookDelivery.findUniqueOrThrow({ where: { workspaceId_webhookId: { workspaceId: ws.id, webhookId: `msg_odd_key_${n}` } } });
      expect(kept.status).toBe(400);
      expect(JSON.parse(kept.body as string)).toEqual(first.body);
      const again = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, signStandard(whsec, `msg_odd_key_${n}`, raw));
      expect(again.status).toBe(400);
      expect(again.body).toEqual(first.body);
    }
    expect((await owner('GET', `/v1/users/${id('owner')}`)).body.status).toBe('ACTIVE');
  });
});

describe('a query parameter the route does not know', () => {
  test('is 400 naming it on every /v1 route, as an unknown body field is; nothing changes', async () => {
    const started = await owner('POST', `/v1/users/${id('cid')}/deletion`, {});
    expect(started.status).toBe(201);
    const d = started.body.id as string;
    const cases: [string, string, unknown?][] = [
      ['GET', '/v1/users?colour=red'],
      ['GET', `/v1/users/${id('bea')}?colour=red`],
      ['GET', `/v1/deletions/${d}?colour=red`],
      ['GET', `/v1/users/${id('bea')}/deletion-preview?colour=red`],
      ['GET', '/v1/me?colour=red'],
      ['POST', `/v1/deletions/${d}/cancel?colour=red`, {}],
      ['POST', `/v1/users/${id('bea')}/deletion?colour=red`, {}],
    ];
    for (const [method, path, body] of cases) {
      const r = await owner(method, path, body);
      expect({ method, path, status: r.status, errors: r.body.errors }).toEqual({
        method,
        path,
        status: 400,
        errors: [{ path: 'query.colour', message: expect.any(String) }],
      });
    }
    // Nothing changed: the wizard is still open, nobody else is being deleted.
    expect((await owner('GET', `/v1/deletions/${d}`)).body.status).toBe('IN_PROGRESS');
    expect((await owner('GET', `/v1/users/${id('bea')}`)).body.status).toBe('ACTIVE');
    // The health check alone answers whatever its prober adds: it says whether the service is up.
    expect((await anyone('GET', '/v1/health?colour=red')).status).toBe(200);
  });
});

describe('a path segment that does not decode', () => {
  test('is answered in api.md order: 401 without a token, 403 for a role that may not, then 400 naming the parameter', async () => {
    for (const bad of ['%ED%A0%80', '%E0%A4%A', '%']) {
      expectProblem(await anyone('GET', `/v1/users/${bad}`), 401);
      expectProblem(await member('GET', `/v1/deletions/${bad}`), 403);
      const r = await owner('GET', `/v1/users/${bad}`);
      expect({ bad, status: r.status, fields: (r.body.errors ?? []).map((e: { path: string }) => e.path) }).toEqual({ bad, status: 400, fields: ['params.id'] });
    }
  });

  test('under /scim/v2 too: 401 without the SCIM token, then 404 as for any id no user has (RFC 7644 §3.12)', async () => {
    const scim = client(api.url, await createScimToken(api.prisma, ws.id));
    const noToken = await anyone('GET', '/scim/v2/Users/%ED%A0%80');
    expect({ status: noToken.status, type: noToken.contentType }).toEqual({ status: 401, type: expect.stringMatching(/^application\/scim\+json/) });
    for (const bad of ['%ED%A0%80', '%E0%A4%A', 'a%00b']) {
      const r = await scim('GET', `/scim/v2/Users/${bad}`);
      expect({ bad, status: r.status, type: r.contentType }).toEqual({ bad, status: 404, type: expect.stringMatching(/^application\/scim\+json/) });
    }
  });
});

describe('a body that is not UTF-8', () => {
  // "a\xff": a byte that starts no UTF-8 character.
  const notUtf8 = (json: string) => Buffer.concat([Buffer.from(json.slice(0, json.indexOf('@@'))), Buffer.from([0x61, 0xff]), Buffer.from(json.slice(json.indexOf('@@') + 2))]);

  test('is 400, not text with U+FFFD stored in its place; another charset is 415; nothing is created', async () => {
    const email = `bytes@${ws.slug}.test`;
    const body = notUtf8(`{"name":"@@","email":"${email}","role":"MEMBER"}`);
    const r = await owner('POST', '/v1/users', body);
    expectProblem(r, 400);
    expect(r.body.detail).toMatch(/UTF-8/);
    const latin1 = await owner('POST', '/v1/users', Buffer.from(`{"name":"caf\u00e9","email":"${email}","role":"MEMBER"}`, 'latin1'), {
      'content-type': 'application/json; charset=iso-8859-1',
    });
    expectProblem(latin1, 415);
    // Nor is JSON sent as text/plain read as JSON.
    expectProblem(await owner('POST', '/v1/users', `{"name":"plain","email":"${email}","role":"MEMBER"}`, { 'content-type': 'text/plain' }), 415);
    expect(await api.prisma.user.count({ where: { workspaceId: ws.id, email } })).toBe(0);
    // UTF-8, said or not, is taken.
    const ok = await owner('POST', '/v1/users', Buffer.from(`{"name":"caf\u00e9","email":"${email}","role":"MEMBER"}`), { 'content-type': 'application/json; charset=UTF-8' });
    expect({ status: ok.status, name: ok.body.name }).toEqual({ status: 201, name: 'café' });
  });

  test('under /scim/v2 it is a SCIM 400; at the HR hook a signed one is 400; nothing starts', async () => {
    const scim = client(api.url, await createScimToken(api.prisma, ws.id));
    const r = await scim('POST', '/scim/v2/Users', notUtf8(`{"userName":"scimbytes@${ws.slug}.test","displayName":"@@"}`), { 'content-type': 'application/scim+json' });
    expect({ status: r.status, type: r.contentType, scimType: r.body.scimType }).toEqual({ status: 400, type: expect.stringMatching(/^application\/scim\+json/), scimType: 'invalidSyntax' });
    expect(await api.prisma.user.count({ where: { workspaceId: ws.id, email: `scimbytes@${ws.slug}.test` } })).toBe(0);

    const raw = notUtf8(`{"email":"${ws.users.bea!.email}","employeeId":"@@"}`);
    const secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
    const hook = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(secret, raw) });
    expectProblem(hook, 400);
    expect((await owner('GET', `/v1/users/${id('bea')}`)).body.status).toBe('ACTIVE');
  });
});

describe('a compressed body (Content-Encoding)', () => {
  // What a sender's HTTP library sends with compression on: gzip bytes, which are not UTF-8 JSON.
  const gzip = (json: string) => gzipSync(Buffer.from(json));

  test('is 415 naming the coding, with Accept-Encoding: identity (was: 400 "not valid UTF-8"); nothing is created', async () => {
    const email = `gzip@${ws.slug}.test`;
    const json = `{"name":"gz","email":"${email}","role":"MEMBER"}`;
    const r = await owner('POST', '/v1/users', gzip(json), { 'content-encoding': 'gzip' });
    expectProblem(r, 415);
    expect(r.body.detail).toMatch(/gzip/);
    expect(r.headers.get('accept-encoding')).toBe('identity');
    expect(await api.prisma.user.count({ where: { workspaceId: ws.id, email } })).toBe(0);
    // identity is no coding at all.
    expect((await owner('POST', '/v1/users', json, { 'content-encoding': 'identity' })).status).toBe(201);
  });

  test('under /scim/v2 it is a SCIM 415; at the HR hook a signed one is 415; nothing starts', async () => {
    const scim = client(api.url, await createScimToken(api.prisma, ws.id));
    const r = await scim('POST', '/scim/v2/Users', gzip(`{"userName":"scimgz@${ws.slug}.test"}`), {
      'content-type': 'application/scim+json',
      'content-encoding': 'gzip',
    });
    expect({ status: r.status, type: r.contentType, schemas: r.body.schemas }).toEqual({
      status: 415,
      type: expect.stringMatching(/^application\/scim\+json/),
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    });
    expect(await api.prisma.user.count({ where: { workspaceId: ws.id, email: `scimgz@${ws.slug}.test` } })).toBe(0);

    const zed = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'zed', email: `zed@${ws.slug}.test`, role: 'MEMBER' } });
    const raw = gzip(`{"email":"${zed.email}"}`);
    const secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
    const hook = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, raw, { 'x-signature': signHookBody(secret, raw), 'content-encoding': 'gzip' });
    expectProblem(hook, 415);
    expect((await owner('GET', `/v1/users/${zed.id}`)).body.status).toBe('ACTIVE');
    // A Standard Webhooks delivery refused so is not kept under its webhook-id: its retry, sent
    // uncompressed as the 415 asked, is read (a kept 415 would be its answer for 30 days).
    const json = `{"email":"${zed.email}"}`;
    const packed = gzip(json);
    const first = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, packed, { ...signStandard(whsec, 'msg_gz', packed), 'content-encoding': 'gzip' });
    expectProblem(first, 415);
    const retried = await anyone('POST', `/v1/hooks/${ws.slug}/offboarding`, json, signStandard(whsec, 'msg_gz', json));
    expect(retried.status).toBe(202);
    expect((await owner('GET', `/v1/users/${zed.id}`)).body.status).toBe('PENDING_DELETION');
  });
});
