// Cross-cutting HTTP behaviour: problem+json for every refusal, request ids,
// log redaction, the OpenAPI document and /docs, health.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { makeHealthCheck, temporalThrottled } from '../../api/health';
import { toProblem } from '../../api/problems';
import { toScimError } from '../../api/scim/errors';
import { createScimToken } from '../../api/scim/auth';
import { buildServer } from '../../api/server';
import { signHookBody } from '../../api/hook-signature';
import { createPrisma } from '../../infra/database';
import { freePort } from '../../infra/ports';
import { testEnv } from '../support/env';
import { makeWorkspace, type TestWorkspace } from '../support/wizard';
import { CONTRACT_ROUTES } from './contract';
import { client, expectProblem, listenTestServer, startTestApi, tokenOf, type Call, type TestApi } from './support';


const logLines: string[] = [];
const logStream = new Writable({
  write(chunk, _enc, done) {
    logLines.push(...String(chunk).split('\n').filter((l) => l.length > 0));
    done();
  },
});

let api: TestApi;
let ws: TestWorkspace;
let token: string;
let call: Call;

beforeAll(async () => {
  api = await startTestApi({ logStream });
  ws = await makeWorkspace(api.prisma, { admin: 'ADMIN' });
  token = await tokenOf(api.prisma, ws, 'admin');
  call = client(api.url, token);
});
afterAll(async () => {
  await api?.close();
});

describe('problems', () => {
  test('an unknown route is 404 problem+json, with or without a token', async () => {
    expectProblem(await call('GET', '/v1/nothing-here'), 404);
    expectProblem(await client(api.url)('POST', '/nope', { a: 1 }), 404);
  });

  test('a transaction past its limit (rolled back, nothing kept) is 503 with Retry-After, on /v1 and SCIM alike, not 500', async () => {
    // A real one: a transaction of 300 ms whose second statement comes after 600.
    const prisma = createPrisma(testEnv().databaseUrl, { max: 1, transactions: { maxWait: 1_000, timeout: 300 } });
    let err: unknown;
    try {
      await prisma.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT 1`;
        await new Promise((resolve) => setTimeout(resolve, 600));
        await tx.$queryRaw`SELECT 1`;
      });
    } catch (e) {
      err = e;
    } finally {
      await prisma.$disconnect();
    }
    expect(err).toMatchObject({ name: 'PrismaClientKnownRequestError', code: 'P2028' });
    const { problem, headers, unexpected } = toProblem(err);
    expect([problem.status, headers['retry-after'], unexpected]).toEqual([503, '5', false]);
    expect(problem.detail).toMatch(/too busy.*nothing of it was kept/);
    const scim = toScimError(err);
    expect([scim.status, scim.headers['retry-after']]).toEqual([503, '5']);
  });

  // Operator probe 38 D5: with PostgreSQL away, every request answered 500 "Something went wrong on our side".
  test('the database away is 503 with Retry-After, on /v1 and SCIM alike, not 500', async () => {
    const away = createPrisma('postgresql://crm:crm@127.0.0.1:1/crm', { max: 1 });
    const { app, url: base } = await listenTestServer({ prisma: away, wizard: api.wizard, config: api.harness.config }, { health: async () => ({ database: false, temporal: true }) });
    try {
      const r = await client(base, token)('GET', '/v1/users');
      expectProblem(r, 503);
      expect(r.headers.get('retry-after')).toBe('5');
      const scim = await client(base, token)('GET', '/scim/v2/Users');
      expect([scim.status, scim.headers.get('retry-after')]).toEqual([503, '5']);
    } finally {
      await app.close();
      await away.$disconnect();
    }
  });

  // Operator probe 38 D6: a request caught while the API closes (SIGTERM) got Fastify's own 503 body:
  // not problem+json, no Retry-After.
  test('a request arriving while the API shuts down is 503 problem+json with Retry-After, and its connection closes', async () => {
    const app = buildServer({ prisma: api.prisma, wizard: api.wizard, health: async () => ({ database: true, temporal: true }), config: api.harness.config, logger: false, webDir: '/nonexistent' });
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived = () => {};
    const first = new Promise<void>((resolve) => (arrived = resolve));
    app.get('/test/held', async () => {
      arrived();
      await held;
      return { ok: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // One request under way holds the connection open through the close; a second one arrives on it meanwhile.
    socket.write(`GET /test/held HTTP/1.1\r\nHost: x\r\n\r\n`);
    await first;
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.write(`GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    await ended;
    await closing;
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200/);
    const second = answers[1]!;
    expect(second).toMatch(/^HTTP\/1\.1 503/);
    expect(second).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(second).toMatch(/\r\nretry-after: \d+/i);
    expect(second).toMatch(/\r\nconnection: close/i);
    expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toMatchObject({ status: 503, detail: expect.stringMatching(/shutting down/) });
  });

  test('a known path with the wrong method is 405 with Allow', async () => {
    const r = await call('DELETE', '/v1/users');
    expectProblem(r, 405);
    expect(r.headers.get('allow')).toContain('POST');
    expectProblem(await call('PUT', '/v1/deletions/abc/confirm', { confirmation: 'CONFIRM' }), 405);
    expectProblem(await call('PATCH', '/v1/users/xyz', {}), 405);
  });

  test('malformed JSON is 400; an empty JSON body where one is required is 400', async () => {
    expectProblem(await call('POST', '/v1/users', '{"name": '), 400);
    expectProblem(await call('POST', '/v1/users', ''), 400);
    expectProblem(await call('POST', '/v1/users', '{"__proto__": {"x": 1}, "name": "a"}'), 400);
  });

  test('JSON naming __proto__ or constructor.prototype is 400 naming that field, not "not valid JSON"', async () => {
    // Found by the third contract audit: valid JSON, refused as if it were not JSON at all.
    for (const [raw, field] of [
      ['{"name": "N", "email": "n@x.test", "role": "MEMBER", "__proto__": {"x": 1}}', '__proto__'],
      ['{"name": "N", "constructor": {"prototype": {"x": 1}}}', 'constructor'],
    ] as const) {
      const r = await call('POST', '/v1/users', raw);
      expectProblem(r, 400);
      expect(r.body.detail).toContain(`"${field}"`);
      expect(r.body.errors).toEqual([{ path: `body.${field}`, message: 'is not a known field' }]);
    }
  });

  test('a body that is not JSON is 415', async () => {
    expectProblem(await call('POST', '/v1/users', 'name=a', { 'content-type': 'text/plain' }), 415);
    expectProblem(await call('POST', '/v1/users', 'name=a', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
  });

  test('a body over 10 MB is 413', async () => {
    const big = JSON.stringify({ leads: [{ name: 'x'.repeat(11 * 1024 * 1024), ownerId: 'a' }] });
    expectProblem(await call('POST', '/v1/leads/bulk', big), 413);
  });

  test('a URL that does not decode is 400', async () => {
    expectProblem(await call('GET', '/v1/users/%E0%A4%A'), 400);
  });
});

describe('request ids and logs', () => {
  test('every answer carries a request id; a sane given one is kept', async () => {
    const r = await call('GET', '/v1/users');
    expect(r.headers.get('x-request-id')).toMatch(/.+/);
    const mine = await call('GET', '/v1/users', undefined, { 'x-request-id': 'trace-abc-123' });
    expect(mine.headers.get('x-request-id')).toBe('trace-abc-123');
    const evil = await call('GET', '/v1/users', undefined, { 'x-request-id': 'a b\tc' });
    expect(evil.headers.get('x-request-id')).not.toBe('a b\tc');
  });

  test('log lines are JSON with a request id, and never hold tokens, signatures or secrets', async () => {
    await call('GET', '/v1/users', undefined, { 'x-request-id': 'redaction-check' });
    await client(api.url, 'crm_not-a-real-token-xyz')('GET', '/v1/users');
    const body = JSON.stringify({ email: 'nobody@x.test' });
    const signature = signHookBody('the-secret-of-nobody', body);
    await client(api.url)('POST', `/v1/hooks/${ws.slug}/offboarding`, body, { 'x-signature': signature });
    await call('GET', '/v1/does-not-exist');

    const requestLines = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => 'req' in l || 'res' in l);
    expect(requestLines.length).toBeGreaterThan(4);
    for (const line of requestLines) expect(line.reqId).toEqual(expect.any(String));
    expect(requestLines.some((l) => l.reqId === 'redaction-check')).toBe(true);
    const all = logLines.join('\n');
    expect(all).not.toContain(token);
    expect(all).not.toContain('crm_not-a-real-token-xyz');
    expect(all).not.toContain(signature.split('v1=')[1]!);
    expect(all).not.toContain('the-secret-of-nobody');
    expect(all).not.toMatch(/authorization/i);
  });

  test("a query's values that can carry personal data are never logged: an identity provider's SCIM lookup by email, a lead owner, a cursor", async () => {
    // Found by a probe: "incoming request" lines carried the whole URL, an offboarded person's email in its filter.
    const email = 'rutherford.plimsoll@piimarker.test';
    const scim = client(api.url, await createScimToken(api.prisma, ws.id));
    expect((await scim('GET', `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&startIndex=1&count=10`)).status).toBe(200);
    expect((await scim('POST', '/scim/v2/Users/.search', { filter: `userName eq "${email}"` })).status).toBe(200);
    await call('GET', `/v1/leads?ownerId=${encodeURIComponent(email)}&limit=5`);
    await call('GET', `/v1/users?limit=2&cursor=${encodeURIComponent(email)}`);
    await call('GET', `/v1/users?${encodeURIComponent(email)}=1`);
    await call('GET', `/v1/nothing-here?q=${encodeURIComponent(email)}`, undefined, { 'x-request-id': 'pii-query' });
    // A status is kept only when it is one of ours: a word is not (review: `status=RutherfordPlimsoll` was logged).
    await call('GET', '/v1/users?status=RutherfordPlimsoll');
    await call('GET', '/v1/deletions?status=IN_PROGRESS');

    const lines = logLines.map((l) => JSON.parse(l) as { req?: { url?: string } });
    const urls = lines.flatMap((l) => (l.req?.url !== undefined ? [l.req.url] : []));
    expect(urls).toEqual(
      expect.arrayContaining([
        '/scim/v2/Users?filter=[redacted]&startIndex=1&count=10',
        '/scim/v2/Users/.search',
        '/v1/leads?ownerId=[redacted]&limit=5',
        '/v1/users?limit=2&cursor=[redacted]',
        '/v1/users?[redacted]=[redacted]',
        '/v1/nothing-here?q=[redacted]',
        '/v1/users?status=[redacted]',
        '/v1/deletions?status=IN_PROGRESS',
      ]),
    );
    const all = logLines.join('\n');
    for (const form of [email, encodeURIComponent(email), 'piimarker', 'rutherford', 'Rutherford']) expect(all).not.toContain(form);
  });
});

describe('OpenAPI', () => {
  /** What @seriousme/openapi-schema-validator says of a document. */
  function validation(doc: unknown): unknown {
    // The validator is an ES module: run it in node itself.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-')), 'doc.json');
    fs.writeFileSync(file, JSON.stringify(doc));
    const script = `
      import { Validator } from '@seriousme/openapi-schema-validator';
      import fs from 'node:fs';
      const v = new Validator();
      const res = await v.validate(JSON.parse(fs.readFileSync(process.argv[1], 'utf8')));
      process.stdout.write(JSON.stringify({ valid: res.valid, errors: res.errors ?? null }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, file], {
      cwd: path.resolve(__dirname, '..', '..'),
      encoding: 'utf8',
    });
    return JSON.parse(out);
  }

  test('/openapi.json is a valid OpenAPI 3 document listing every route of api.md', async () => {
    const r = await client(api.url)('GET', '/openapi.json');
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\./);
    for (const [method, route] of CONTRACT_ROUTES) {
      expect({ route, method, listed: Boolean(doc.paths?.[route]?.[method]) }).toEqual({ route, method, listed: true });
    }
    expect(validation(doc)).toEqual({ valid: true, errors: null });
  });

  test('documents HEAD where the server answers it: beside every GET but the event stream', async () => {
    // Found by a probe of the document: HEAD was answered (and listed in 405 Allow headers) but documented nowhere.
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    const gets = Object.entries(doc.paths as Record<string, Record<string, unknown>>).filter(([, ops]) => ops.get);
    expect(gets.length).toBeGreaterThan(10);
    for (const [route, ops] of gets) {
      const headServed = route !== '/v1/deletions/{id}/events';
      expect({ route, head: Boolean(ops.head) }).toEqual({ route, head: headServed });
    }
    for (const route of ['/v1/health', '/metrics']) {
      const head = await fetch(`${api.url}${route}`, { method: 'HEAD' });
      expect({ route, status: head.status }).toEqual({ route, status: 200 });
      expect(doc.paths[route].head.responses['200']).toBeDefined();
    }
  });

  test('documents problems, security and the 10,000-lead limit', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    const bulk = doc.paths['/v1/leads/bulk'].post;
    expect(bulk.security).toEqual([{ bearerAuth: [] }]);
    expect(Object.keys(bulk.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '422']));
    expect(bulk.responses['422'].content['application/problem+json']).toBeDefined();
    expect(JSON.stringify(bulk.requestBody)).toContain('"maxItems":10000');
    expect(doc.paths['/v1/health'].get.security).toBeUndefined();
    // The health check answers whatever query its prober adds, unless it does not decode: 400, documented.
    expectProblem(await client(api.url)('GET', '/v1/health?a=%ZZ'), 400);
    expect(Object.keys(doc.paths['/v1/health'].get.responses['400'].content)).toEqual(['application/problem+json']);
    // The HR hook takes either signature scheme alone (api.md): two alternative requirements.
    const hook = doc.paths['/v1/hooks/{workspaceSlug}/offboarding'].post;
    expect(hook.security).toEqual([{ hookSignature: [] }, { standardWebhooks: [] }]);
    expect(doc.components.securitySchemes.standardWebhooks).toMatchObject({ type: 'apiKey', in: 'header', name: 'webhook-signature' });
    // Its body is read as JSON under application/json and any application/<name>+json (hook.ts JSON_TYPE).
    expect(Object.keys(hook.requestBody.content).sort()).toEqual(['application/*+json', 'application/json']);
    expect(hook.requestBody.content['application/*+json']).toEqual(hook.requestBody.content['application/json']);
  });

  test('documents only refusals a route can give: 403 only where a role is required, 413 and 415 only where a body is read', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    const anyRole: [string, string][] = [
      ['get', '/v1/me'],
      ['get', '/v1/users'],
      ['get', '/v1/users/{id}'],
      ['get', '/v1/leads'],
      ['get', '/v1/leads/count'],
      ['get', '/v1/automations'],
      ['get', '/v1/integrations'],
      ['get', '/v1/labels'],
      ['post', '/v1/leads/bulk'],
      ['post', '/v1/automations'],
      ['post', '/v1/integrations'],
      ['post', '/v1/integrations/{id}/leads'],
      ['post', '/v1/labels'],
    ];
    for (const [method, route] of anyRole) {
      expect({ method, route, has403: '403' in doc.paths[route][method].responses }).toEqual({ method, route, has403: false });
    }
    for (const [method, route] of [['post', '/v1/users'], ['get', '/v1/deletions'], ['get', '/v1/deletions/{id}'], ['post', '/v1/deletions/{id}/cancel']]) {
      expect({ method, route, has403: '403' in doc.paths[route!][method!].responses }).toEqual({ method, route, has403: true });
    }
    for (const [route, item] of Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>)) {
      if (!item.get) continue;
      const bodyRefusals = Object.keys(item.get.responses).filter((s) => s === '413' || s === '415');
      expect({ route, bodyRefusals }).toEqual({ route, bodyRefusals: [] });
    }
    // What those say: a MEMBER may call them (never 403), and a GET's body is not read (never 415).
    const other = await makeWorkspace(api.prisma, { member: 'MEMBER' });
    const member = client(api.url, await tokenOf(api.prisma, other, 'member'));
    expect((await member('GET', '/v1/users')).status).toBe(200);
    const own = other.users.member!.id;
    expect((await member('POST', '/v1/labels', { name: 'member label', visibility: 'PRIVATE', ownerId: own, memberIds: [] })).status).toBe(201);
    const withBody = await new Promise<string>((resolve, reject) => {
      const req = http.request(`${api.url}/v1/me`, { method: 'GET', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', 'content-length': '8' } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(`${res.statusCode} ${text}`));
      });
      req.on('error', reject);
      req.end('not json');
    });
    expect(withBody).toMatch(/^200 /);
  });

  test('declares the headers a client reads: WWW-Authenticate on 401, Retry-After on 503, Location on a SCIM 201', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    const headersOf = (route: string, method: string, status: string) => Object.keys(doc.paths[route][method].responses[status].headers ?? {});
    for (const [route, method] of [['/v1/users', 'get'], ['/v1/deletions/{id}/cancel', 'post'], ['/scim/v2/Users', 'get'], ['/scim/v2/Users/{id}', 'put']]) {
      expect({ route, method, headers: headersOf(route!, method!, '401') }).toEqual({ route, method, headers: ['WWW-Authenticate'] });
    }
    for (const [route, method] of [['/v1/deletions/{id}/cancel', 'post'], ['/v1/hooks/{workspaceSlug}/offboarding', 'post'], ['/scim/v2/Users/{id}', 'patch']]) {
      expect({ route, method, headers: headersOf(route!, method!, '503') }).toEqual({ route, method, headers: ['Retry-After'] });
      expect(doc.paths[route!][method!].responses['503'].headers['Retry-After'].schema).toEqual({ type: 'integer', minimum: 0 });
    }
    expect(headersOf('/scim/v2/Users', 'post', '201')).toEqual(['Location']);
    // The hook's 401 is a refused signature, not a bearer challenge: no WWW-Authenticate is sent, none documented.
    expect(headersOf('/v1/hooks/{workspaceSlug}/offboarding', 'post', '401')).toEqual([]);
    const refused = await client(api.url, 'not-a-token')('GET', '/v1/users');
    expect([refused.status, refused.headers.get('www-authenticate')]).toEqual([401, expect.stringMatching(/^Bearer /)]);
    const scimRefused = await client(api.url, 'not-a-token')('GET', '/scim/v2/Users');
    expect([scimRefused.status, scimRefused.headers.get('www-authenticate')]).toEqual([401, expect.stringMatching(/^Bearer /)]);
  });

  test('says what the server checks: optional bodies, email format, names that are not blank', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    // {reason?}: the body may be left out entirely (the server reads it as {}).
    expect(doc.paths['/v1/users/{userId}/deletion'].post.requestBody.required).toBe(false);
    expect(doc.paths['/v1/deletions/{id}/cancel'].post.requestBody.required).toBe(false);
    expect(doc.paths['/v1/deletions/{id}/retry'].post.requestBody.required).toBe(false);
    expect(doc.paths['/v1/deletions/{id}/leads'].post.requestBody.required).toBe(true);
    const createUser = doc.paths['/v1/users'].post.requestBody.content['application/json'].schema;
    expect(createUser.properties.email).toMatchObject({ type: 'string', format: 'idn-email', maxLength: 320 });
    // Not blank, and (as every string) well-formed Unicode with no NUL.
    expect(createUser.properties.name).toMatchObject({ type: 'string', minLength: 1 });
    expect(createUser.properties.name.allOf.map((p: { pattern: string }) => p.pattern)).toEqual([
      '^[^\\u0000\\uD800-\\uDFFF]*$',
      '\\S',
    ]);
    expect(JSON.stringify(doc.paths['/v1/users'])).not.toContain('x-optional-body');
    // A list's limit: an integer 1-500, 50 when left out (the server reads decimal digits only).
    const limit = doc.paths['/v1/deletions'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } });
  });

  test('describes every SCIM route: the scimBearer token, bodies as scim+json or json, SCIM answers and errors', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    expect(doc.components.securitySchemes.scimBearer).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      description: expect.stringContaining('npm run scim-token -- --workspace'),
    });
    const WAITS = '503';
    // method, path, success status, the error statuses the route answers.
    const routes: [string, string, string, string[]][] = [
      // 400: a SCIM query parameter given twice, on every route (invalidValue).
      ['get', '/scim/v2/ServiceProviderConfig', '200', ['400', '401']],
      ['get', '/scim/v2/ResourceTypes', '200', ['400', '401']],
      ['get', '/scim/v2/ResourceTypes/{id}', '200', ['400', '401', '404']],
      ['get', '/scim/v2/Schemas', '200', ['400', '401']],
      ['get', '/scim/v2/Schemas/{id}', '200', ['400', '401', '404']],
      ['get', '/scim/v2/Users', '200', ['400', '401']],
      ['post', '/scim/v2/Users', '201', ['400', '401', '409', '413', '415', WAITS]],
      ['post', '/scim/v2/Users/.search', '200', ['400', '401', '413', '415']],
      ['get', '/scim/v2/Users/{id}', '200', ['400', '401', '404']],
      ['put', '/scim/v2/Users/{id}', '200', ['400', '401', '404', '409', '413', '415', WAITS]],
      ['patch', '/scim/v2/Users/{id}', '200', ['400', '401', '404', '409', '413', '415', WAITS]],
      ['delete', '/scim/v2/Users/{id}', '204', ['400', '401', '404', '413', '415', WAITS]],
    ];
    // Optional in RFC 7644 and not served: 501, a SCIM error (a query at the root, bulk, /Me).
    const notServed: [string, string][] = [
      ['get', '/scim/v2'],
      ['post', '/scim/v2/.search'],
      ...['get', 'post', 'put', 'patch', 'delete'].flatMap((m): [string, string][] => [
        [m, '/scim/v2/Bulk'],
        [m, '/scim/v2/Me'],
      ]),
    ];
    const scimPaths = Object.keys(doc.paths).filter((p) => p.startsWith('/scim/'));
    expect(scimPaths.sort()).toEqual([...new Set([...routes, ...notServed].map(([, p]) => p))].sort());
    const scim = client(api.url, await createScimToken(api.prisma, ws.id));
    for (const [method, route] of notServed) {
      const op = doc.paths[route]?.[method];
      expect({ route, method, tags: op?.tags, security: op?.security }).toEqual({ route, method, tags: ['scim'], security: [{ scimBearer: [] }] });
      const unserved = op.responses['501'].content['application/scim+json'].schema;
      expect(unserved.properties.schemas.items.anyOf[0].enum).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
      const r = await scim(method.toUpperCase(), route, method === 'get' || method === 'delete' ? undefined : {});
      expect({ route, method, status: r.status, type: r.contentType }).toEqual({ route, method, status: 501, type: expect.stringMatching(/^application\/scim\+json/) });
      expect(Object.keys(op.responses).sort()).toEqual(method === 'get' ? ['400', '401', '501'] : ['400', '401', '413', '415', '501']);
    }
    for (const [method, route, success, errors] of routes) {
      const op = doc.paths[route]?.[method];
      expect({ route, method, listed: Boolean(op) }).toEqual({ route, method, listed: true });
      expect({ route, method, tags: op.tags, security: op.security, summary: typeof op.summary }).toEqual({
        route,
        method,
        tags: ['scim'],
        security: [{ scimBearer: [] }],
        summary: 'string',
      });
      expect({ route, method, statuses: Object.keys(op.responses).sort() }).toEqual({ route, method, statuses: [success, ...errors].sort() });
      const ok = op.responses[success];
      if (success === '204') expect(ok.content).toBeUndefined();
      else expect({ route, method, types: Object.keys(ok.content) }).toEqual({ route, method, types: ['application/scim+json'] });
      for (const status of errors) {
        const answer = op.responses[status];
        expect({ route, method, status, types: Object.keys(answer.content) }).toEqual({ route, method, status, types: ['application/scim+json'] });
        const schema = answer.content['application/scim+json'].schema;
        expect(Object.keys(schema.properties).sort()).toEqual(['detail', 'schemas', 'scimType', 'status']);
        expect(schema.required.sort()).toEqual(['detail', 'schemas', 'status']);
        expect(schema.properties.schemas.items.anyOf[0].enum).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
        expect(schema.properties.scimType.enum).toContain('uniqueness');
      }
      const params = (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path');
      expect(params.map((p: { name: string; required: boolean }) => [p.name, p.required])).toEqual(route.includes('{id}') ? [['id', true]] : []);
      if (method === 'get' || method === 'delete') {
        expect(op.requestBody).toBeUndefined();
      } else {
        expect(op.requestBody.required).toBe(true);
        expect(Object.keys(op.requestBody.content).sort()).toEqual(['application/json', 'application/scim+json']);
      }
    }

    const list = doc.paths['/scim/v2/Users'].get;
    expect(list.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name).sort()).toEqual(
      ['attributes', 'count', 'excludedAttributes', 'filter', 'sortBy', 'sortOrder', 'startIndex'].sort(),
    );
    const listed = list.responses['200'].content['application/scim+json'].schema;
    expect(listed.properties.schemas.items.anyOf[0].enum).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    expect(listed.properties.Resources.items.properties.userName).toEqual({ type: 'string' });

    const create = doc.paths['/scim/v2/Users'].post;
    const user = create.responses['201'].content['application/scim+json'].schema;
    expect(user.properties.schemas.items.anyOf[0].enum).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User']);
    // `attributes` / `excludedAttributes` may leave out anything but schemas and id (RFC 7644 §3.9).
    expect(user.required.sort()).toEqual(['id', 'schemas']);
    expect(Object.keys(user.properties)).toEqual(expect.arrayContaining(['schemas', 'id', 'userName', 'name', 'displayName', 'emails', 'active', 'meta']));
    const input = create.requestBody.content['application/scim+json'].schema;
    expect(input.required).toEqual(['userName']);
    // Booleans as Entra sends them ("False"), emails as OneLogin does (one object): both taken, so both documented.
    const booleanForms = (s: { anyOf: { type: string; pattern?: string }[] }) => s.anyOf.map((b) => [b.type, b.pattern]);
    expect(booleanForms(input.properties.active)).toEqual([['boolean', undefined], ['string', '^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$']]);
    const emails = input.properties.emails;
    expect(emails.anyOf.map((b: { type: string }) => b.type)).toEqual(['array', 'object']);
    // null is taken too: said where OpenAPI 3.0 reads it, beside a type (a bare `nullable` beside anyOf means nothing).
    expect([emails.nullable, emails.anyOf[0].nullable]).toEqual([undefined, true]);
    expect(booleanForms(emails.anyOf[1].properties.primary)).toEqual(booleanForms(input.properties.active));
    expect(create.requestBody.content['application/json']).toEqual(create.requestBody.content['application/scim+json']);
    expect(create.parameters.map((p: { name: string }) => p.name).sort()).toEqual(['attributes', 'excludedAttributes']);
    const patch = doc.paths['/scim/v2/Users/{id}'].patch.requestBody.content['application/scim+json'].schema;
    expect(patch.required.sort()).toEqual(['Operations', 'schemas']);
    // The recursive attribute definitions of /Schemas are a component, so every $ref resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs) expect({ ref, defined: Boolean(doc.components.schemas?.[ref]) }).toEqual({ ref, defined: true });
  });

  test('SCIM answers fit the document: a projected user holds what it requires, a parameter given twice is a documented 400', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    const scim = client(api.url, await createScimToken(api.prisma, ws.id));
    const created = await scim('POST', '/scim/v2/Users', { userName: `projected@${ws.slug}.test`, displayName: 'Projected' });
    expect(created.status).toBe(201);
    const read = await scim('GET', `/scim/v2/Users/${created.body.id}?attributes=userName`);
    expect(read.status).toBe(200);
    const documented = doc.paths['/scim/v2/Users/{id}'].get.responses['200'].content['application/scim+json'].schema;
    expect(documented.required.filter((k: string) => !(k in read.body))).toEqual([]);
    expect(Object.keys(read.body).filter((k) => !(k in documented.properties))).toEqual([]);
    for (const [route, path] of [
      ['/ServiceProviderConfig', '/ServiceProviderConfig'],
      ['/ResourceTypes', '/ResourceTypes'],
      ['/ResourceTypes/User', '/ResourceTypes/{id}'],
      ['/Schemas', '/Schemas'],
      [`/Users/${created.body.id}`, '/Users/{id}'],
    ]) {
      const r = await scim('GET', `/scim/v2${route}?count=1&count=2`);
      const op = doc.paths[`/scim/v2${path}`].get;
      expect({ route, status: r.status, scimType: r.body.scimType, documented: Boolean(op.responses[r.status]) }).toEqual({
        route,
        status: 400,
        scimType: 'invalidValue',
        documented: true,
      });
    }
  });

  test('describes /metrics (Prometheus text, METRICS_TOKEN only when set) and /openapi.json; not /docs or preflights', async () => {
    const doc = (await client(api.url)('GET', '/openapi.json')).body;
    const metrics = doc.paths['/metrics'].get;
    expect(Object.keys(metrics.responses)).toEqual(['200']);
    expect(Object.keys(metrics.responses['200'].content)).toEqual(['text/plain; version=0.0.4']);
    expect(metrics.security).toBeUndefined();
    const self = doc.paths['/openapi.json'].get;
    expect(Object.keys(self.responses['200'].content)).toEqual(['application/json']);
    expect(self.security).toBeUndefined();
    // It takes no query: a parameter is a 400 problem, as the document says.
    expect(Object.keys(self.responses).sort()).toEqual(['200', '400']);
    expect(Object.keys(self.responses['400'].content)).toEqual(['application/problem+json']);
    expectProblem(await client(api.url)('GET', '/openapi.json?colour=red'), 400);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/docs'))).toEqual([]);
    expect(Object.values(doc.paths).filter((item) => 'options' in (item as object))).toEqual([]);

    // With METRICS_TOKEN set the route says so, and its 401.
    const app = buildServer({
      prisma: api.prisma,
      wizard: api.wizard,
      health: async () => ({ database: true, temporal: true }),
      config: { ...api.harness.config, METRICS_TOKEN: 'metrics-token-0123456789abcdef' },
      logger: false,
      webDir: '/nonexistent',
    });
    try {
      await app.ready();
      const guardedDoc = app.swagger() as { paths: Record<string, Record<string, any>> };
      const guarded = guardedDoc.paths['/metrics']!.get;
      expect(guarded.security).toEqual([{ metricsBearer: [] }]);
      expect(Object.keys(guarded.responses).sort()).toEqual(['200', '401']);
      expect(Object.keys(guarded.responses['401'].content)).toEqual(['application/problem+json']);
      expect(Object.keys(guarded.responses['401'].headers)).toEqual(['WWW-Authenticate']);
      expect(validation(guardedDoc)).toEqual({ valid: true, errors: null });
    } finally {
      await app.close();
    }
  });

  test('/docs serves the browsable page', async () => {
    const r = await fetch(`${api.url}/docs`, { redirect: 'follow' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toMatch(/swagger/i);
  });
});

describe('health', () => {
  test('ok when the database and Temporal answer', async () => {
    const env = testEnv();
    const prisma = createPrisma(env.databaseUrl, { max: 1 });
    // (A long timeout: the first connections on a loaded machine can take longer than the default.)
    const health = makeHealthCheck({ prisma, temporalAddress: env.temporalAddress, namespace: env.namespace, timeoutMs: 30_000 });
    const up = await startTestApi({ health });
    try {
      const r = await client(up.url)('GET', '/v1/health');
      expect({ status: r.status, body: r.body }).toEqual({
        status: 200,
        body: { status: 'ok', database: 'ok', temporal: 'ok' },
      });
    } finally {
      await up.close();
      await health.close();
      await prisma.$disconnect();
    }
  });

  test('a crowd of requests at once shares checks: every one answers ok, never two checks run at once, a fresh one after the reuse window', async () => {
    const env = testEnv();
    const prisma = createPrisma(env.databaseUrl, { max: 4 });
    let checks = 0;
    let running = 0;
    let most = 0;
    // Each check asks the database once: counted here, and held 50 ms so that checks run per
    // request would overlap. Temporal is the real dev server.
    const counted = {
      $queryRaw: async (...args: unknown[]) => {
        checks++;
        most = Math.max(most, ++running);
        try {
          await new Promise((r) => setTimeout(r, 50));
          return await (prisma.$queryRaw as (...a: unknown[]) => Promise<unknown>)(...args);
        } finally {
          running--;
        }
      },
    } as unknown as typeof prisma;
    const opts = { prisma: counted, temporalAddress: env.temporalAddress, namespace: env.namespace, timeoutMs: 30_000 };
    const health = makeHealthCheck({ ...opts, reuseMs: 60_000 });
    const soon = makeHealthCheck({ ...opts, reuseMs: 1_000 });
    const up = await startTestApi({ health });
    try {
      const call = client(up.url);
      const answers = await Promise.all(Array.from({ length: 400 }, () => call('GET', '/v1/health')));
      expect(answers.filter((r) => r.status !== 200)).toEqual([]);
      // One check per request: up to 400 at once (and into Temporal's namespace rate limit).
      expect(most).toBe(1);
      expect(checks).toBe(1);
      expect(await health()).toEqual({ database: true, temporal: true });
      expect(checks).toBe(1);

      // Past the reuse window a call gets a check of its own, not an old answer.
      expect(await soon()).toEqual({ database: true, temporal: true });
      expect(await soon()).toEqual({ database: true, temporal: true });
      expect(checks).toBe(2);
      await new Promise((r) => setTimeout(r, 1_050));
      expect(await soon()).toEqual({ database: true, temporal: true });
      expect(checks).toBe(3);
    } finally {
      await up.close();
      await Promise.all([health.close(), soon.close()]);
      await prisma.$disconnect();
    }
  });

  test('Temporal throttling its namespace (RESOURCE_EXHAUSTED) is a busy server, not a missing one', () => {
    expect(temporalThrottled(Object.assign(new Error('8 RESOURCE_EXHAUSTED: namespace rate limit exceeded'), { code: 8 }))).toBe(true);
    expect(temporalThrottled(Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 }))).toBe(false);
    expect(temporalThrottled(Object.assign(new Error('4 DEADLINE_EXCEEDED'), { code: 4 }))).toBe(false);
    expect(temporalThrottled(new Error('no code'))).toBe(false);
    expect(temporalThrottled(undefined)).toBe(false);
  });

  test('503 when Temporal is down (nothing listens at its address)', async () => {
    const env = testEnv();
    const prisma = createPrisma(env.databaseUrl, { max: 1 });
    const health = makeHealthCheck({
      prisma,
      temporalAddress: `127.0.0.1:${await freePort()}`,
      namespace: env.namespace,
      // Nothing listening is refused at once; the limit is for the database, which the whole suite
      // shares on PGlite (one statement at a time) and may keep busy for more than a second.
      timeoutMs: 10_000,
    });
    const down = await startTestApi({ health });
    try {
      const r = await client(down.url)('GET', '/v1/health');
      expect({ status: r.status, body: r.body }).toEqual({
        status: 503,
        body: { status: 'unavailable', database: 'ok', temporal: 'down' },
      });
    } finally {
      await down.close();
      await health.close();
      await prisma.$disconnect();
    }
  });
});

describe('admin page', () => {
  test('the built page is served at / next to the API when its folder exists', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'web-dist-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Offboarding</title>');
    fs.writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log(1)');
    const app = buildServer({
      prisma: api.prisma,
      wizard: api.wizard,
      health: async () => ({ database: true, temporal: true }),
      config: api.harness.config,
      logger: false,
      webDir: dir,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const index = await fetch(`${base}/`);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-type')).toMatch(/text\/html/);
      expect(await index.text()).toContain('Offboarding');
      expect((await fetch(`${base}/assets/app.js`)).status).toBe(200);
      expectProblem(await client(base)('GET', '/assets/missing.js'), 404);
      expectProblem(await client(base)('GET', '/v1/users'), 401);
    } finally {
      await app.close();
    }
  });

  // Security probe 38 D2: the page and the API sent no CSP, no frame-blocking, no nosniff, no
  // Referrer-Policy; another origin could frame the page, and answers with names and emails were cacheable.
  test('the page may not be framed, runs only its own scripts, and answers carrying data are never stored', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'web-dist-'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>Offboarding</title>');
    const { app, url: base } = await listenTestServer({ prisma: api.prisma, wizard: api.wizard, config: api.harness.config }, { webDir: dir });
    try {
      const page = await fetch(`${base}/`);
      const csp = page.headers.get('content-security-policy') ?? '';
      const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
      expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
      expect(directives.get('script-src')).toEqual(["'self'"]);
      expect(directives.get('style-src')).toEqual(["'self'"]);
      expect(directives.get('object-src')).toEqual(["'none'"]);
      // Served over plain HTTP on a laptop too: nothing may be upgraded to an https:// that is not there.
      expect(directives.has('upgrade-insecure-requests')).toBe(false);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      // Whether to pin HTTPS is the deployment's (its TLS proxy) to say, not this service's.
      expect(page.headers.get('strict-transport-security')).toBeNull();

      for (const answer of [
        await fetch(`${base}/v1/users`, { headers: { authorization: `Bearer ${token}` } }),
        await fetch(`${base}/v1/users`),
        await fetch(`${base}/v1/health`),
      ]) {
        expect({ url: answer.url, status: answer.status, cache: answer.headers.get('cache-control') }).toEqual({ url: answer.url, status: answer.status, cache: 'no-store' });
        expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      }
      // The API documentation keeps its own policy (its page has inline parts), one header only.
      const docs = await fetch(`${base}/docs/static/index.html`);
      expect(docs.status).toBe(200);
      expect(docs.headers.get('content-security-policy')).not.toContain(',');
    } finally {
      await app.close();
    }
  });
});
