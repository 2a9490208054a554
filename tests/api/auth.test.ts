// Tokens, roles, workspace isolation and the order of refusals
// (401, 403, 400, 404, 409, 422: the first that applies wins).
import { createApiToken } from '../../infra/tokens';
import { makeWorkspace, makeAutomation, makeIntegration, makeLabel, addLeads, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let other: TestWorkspace;
let admin: Call;
let member: Call;
let stranger: Call;
let ids: { automation: string; integration: string; label: string; deletion: string };

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', member: 'MEMBER', leaver: 'MEMBER', heir: 'MEMBER' }, { leaver: 5 });
  other = await makeWorkspace(api.prisma, { owner2: 'OWNER', admin2: 'ADMIN' });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  member = client(api.url, await tokenOf(api.prisma, ws, 'member'));
  stranger = client(api.url, await tokenOf(api.prisma, other, 'admin2'));
  const d = [
    { userId: ws.users.leaver!.id, weight: 50 },
    { userId: ws.users.heir!.id, weight: 50 },
  ];
  ids = {
    automation: await makeAutomation(api.prisma, ws.id, 'A', d),
    integration: await makeIntegration(api.prisma, ws.id, 'I', d),
    label: await makeLabel(api.prisma, ws.id, 'L', 'SHARED', ws.users.heir!.id, [ws.users.leaver!.id]),
    deletion: '',
  };
  const started = await admin('POST', `/v1/users/${ws.users.leaver!.id}/deletion`, {});
  expect(started.status).toBe(201);
  ids.deletion = started.body.id;
});
afterAll(async () => {
  await api?.close();
});

const uid = (h: string) => ws.users[h]!.id;

describe('401', () => {
  test('no token, another scheme, an unknown token', async () => {
    for (const authorization of [undefined, 'Basic YTpi', 'Bearer', 'Bearer ', 'Bearer not-a-token', `bearer x y`]) {
      const call = client(api.url);
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      expectProblem(await call('GET', '/v1/users', undefined, headers), 401);
      expectProblem(await call('POST', `/v1/deletions/${ids.deletion}/confirm`, { confirmation: 'CONFIRM' }, headers), 401);
    }
  });

  test('a token whose user is being deleted, suspended, or removed', async () => {
    // The leaver is PENDING_DELETION since the wizard started.
    const leaver = client(api.url, await tokenOf(api.prisma, ws, 'leaver'));
    expectProblem(await leaver('GET', '/v1/users'), 401);

    const sus = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 's', email: 's@auth.test', role: 'ADMIN' } });
    const susToken = await createApiToken(api.prisma, { workspaceId: ws.id, userId: sus.id });
    expect((await client(api.url, susToken)('GET', '/v1/users')).status).toBe(200);
    await api.prisma.user.update({ where: { id: sus.id }, data: { status: 'SUSPENDED' } });
    expectProblem(await client(api.url, susToken)('GET', '/v1/users'), 401);

    const gone = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'g', email: 'g@auth.test', role: 'ADMIN' } });
    const goneToken = await createApiToken(api.prisma, { workspaceId: ws.id, userId: gone.id });
    await api.prisma.user.delete({ where: { id: gone.id } });
    expectProblem(await client(api.url, goneToken)('GET', '/v1/users'), 401);
  });

  test('tokens are stored hashed', async () => {
    const token = await tokenOf(api.prisma, ws, 'admin');
    const rows = await api.prisma.apiToken.findMany({ where: { workspaceId: ws.id } });
    expect(rows.some((r) => r.tokenHash.includes(token) || token.includes(r.tokenHash))).toBe(false);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.tokenHash))).toBe(true);
  });
});

describe('roles', () => {
  const deletionRoutes = (id: string, userId: string): [string, string, unknown?][] => [
    ['POST', `/v1/users/${userId}/deletion`, {}],
    ['GET', '/v1/deletions'],
    ['GET', `/v1/deletions/${id}`],
    ['POST', `/v1/deletions/${id}/leads`, { targetUserId: userId }],
    ['POST', `/v1/deletions/${id}/automations`, { overrides: [] }],
    ['POST', `/v1/deletions/${id}/integrations`, { overrides: [] }],
    ['POST', `/v1/deletions/${id}/labels`, { replacements: [] }],
    ['POST', `/v1/deletions/${id}/confirm`, { confirmation: 'CONFIRM' }],
    ['POST', `/v1/deletions/${id}/cancel`, {}],
    ['GET', `/v1/deletions/${id}/audit`],
  ];

  test('a MEMBER gets 403 on every deletion route, whatever the body or id', async () => {
    for (const [method, path, body] of [
      ...deletionRoutes(ids.deletion, uid('heir')),
      ...deletionRoutes('no-such-deletion', 'no-such-user'),
    ]) {
      const r = await member(method, path, body);
      expect({ method, path, status: r.status }).toEqual({ method, path, status: 403 });
      expectProblem(r, 403);
      if (body !== undefined) expectProblem(await member(method, path, '{"broken'), 403);
      if (body !== undefined) expectProblem(await member(method, path, { unknown: 1 }), 403);
    }
    expect((await admin('GET', `/v1/deletions/${ids.deletion}`)).body.status).toBe('IN_PROGRESS');
  });

  test('a MEMBER may read the directory but not add people to the workspace', async () => {
    expect((await member('GET', '/v1/users')).status).toBe(200);
    expect((await member('GET', `/v1/leads/count?ownerId=${uid('heir')}`)).status).toBe(200);
    const before = await api.prisma.user.count({ where: { workspaceId: ws.id } });
    expectProblem(await member('POST', '/v1/users', { name: 'Boss', email: 'boss@member.test', role: 'OWNER' }), 403);
    expectProblem(await member('POST', '/v1/users', '{"broken'), 403);
    expect(await api.prisma.user.count({ where: { workspaceId: ws.id } })).toBe(before);
  });
});

describe('precedence', () => {
  test('401 beats 400 and 404', async () => {
    const anon = client(api.url);
    expectProblem(await anon('POST', '/v1/users', '{"broken'), 401);
    expectProblem(await anon('POST', '/v1/users', { extra: 1 }), 401);
    expectProblem(await anon('GET', '/v1/users/no-such-user'), 401);
    expectProblem(await anon('GET', '/v1/users?limit=0'), 401);
    expectProblem(await anon('POST', '/v1/leads/bulk', JSON.stringify({ leads: [{ name: 'x'.repeat(11 * 1024 * 1024), ownerId: 'a' }] })), 401);
  });

  test('400 beats 404; 404 beats 409 and 422', async () => {
    expectProblem(await admin('POST', '/v1/deletions/no-such-deletion/confirm', { confirmation: 7 }), 400);
    expectProblem(await admin('POST', '/v1/deletions/no-such-deletion/confirm', { confirmation: 'nope' }), 404);
    expectProblem(await admin('POST', '/v1/deletions/no-such-deletion/automations', { overrides: [] }), 404);
    expectProblem(await admin('POST', '/v1/integrations/no-such-integration/leads', { leads: [{ name: 'x', extra: 1 }] }), 400);
    expectProblem(await admin('GET', '/v1/leads?ownerId=nobody&limit=0'), 400);
  });

  test('409 beats 422: a wrong confirmation while the wizard is at another step', async () => {
    expectProblem(await admin('POST', `/v1/deletions/${ids.deletion}/confirm`, { confirmation: 'nope' }), 409);
  });
});

describe('workspace isolation', () => {
  test("another workspace's admin gets 404 for every id of this one, on every route", async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', `/v1/users/${uid('heir')}`],
      ['GET', `/v1/leads?ownerId=${uid('leaver')}`],
      ['GET', `/v1/leads/count?ownerId=${uid('leaver')}`],
      ['POST', `/v1/integrations/${ids.integration}/leads`, { leads: [{ name: 'x' }] }],
      ['POST', `/v1/users/${uid('heir')}/deletion`, {}],
      ['GET', `/v1/deletions/${ids.deletion}`],
      ['POST', `/v1/deletions/${ids.deletion}/leads`, { targetUserId: other.users.owner2!.id }],
      ['POST', `/v1/deletions/${ids.deletion}/automations`, { overrides: [] }],
      ['POST', `/v1/deletions/${ids.deletion}/integrations`, { overrides: [] }],
      ['POST', `/v1/deletions/${ids.deletion}/labels`, { replacements: [] }],
      ['POST', `/v1/deletions/${ids.deletion}/confirm`, { confirmation: 'CONFIRM' }],
      ['POST', `/v1/deletions/${ids.deletion}/cancel`, {}],
      ['GET', `/v1/deletions/${ids.deletion}/audit`],
    ];
    for (const [method, path, body] of routes) {
      const theirs = await stranger(method, path, body);
      expect({ method, path, status: theirs.status }).toEqual({ method, path, status: 404 });
      expectProblem(theirs, 404);
    }
    // Nothing changed here.
    const d = await admin('GET', `/v1/deletions/${ids.deletion}`);
    expect(d.body).toEqual(expect.objectContaining({ status: 'IN_PROGRESS', step: 'LEADS' }));
    expect((await admin('GET', `/v1/users/${uid('heir')}`)).body.status).toBe('ACTIVE');
    expect((await admin('GET', `/v1/leads/count?ownerId=${uid('leaver')}`)).body).toEqual({ count: 5 });
  });

  test('lists show only the own workspace; ids of this one inside bodies are 422 there', async () => {
    await addLeads(api.prisma, ws.id, uid('heir'), 3);
    const theirs = {
      users: (await stranger('GET', '/v1/users?limit=500')).body.items,
      leads: (await stranger('GET', '/v1/leads?limit=500')).body.items,
      automations: (await stranger('GET', '/v1/automations')).body.items,
      integrations: (await stranger('GET', '/v1/integrations')).body.items,
      labels: (await stranger('GET', '/v1/labels')).body.items,
      deletions: (await stranger('GET', '/v1/deletions')).body.items,
      count: (await stranger('GET', '/v1/leads/count')).body.count,
    };
    expect(theirs.users.map((u: { id: string }) => u.id).sort()).toEqual([other.users.owner2!.id, other.users.admin2!.id].sort());
    expect(theirs).toEqual(expect.objectContaining({ leads: [], automations: [], integrations: [], labels: [], deletions: [], count: 0 }));

    expectProblem(await stranger('POST', '/v1/leads/bulk', { leads: [{ name: 'x', ownerId: uid('heir') }] }), 422);
    expectProblem(
      await stranger('POST', '/v1/automations', { name: 'x', distribution: [{ userId: uid('heir'), weight: 100 }] }),
      422,
    );
    expectProblem(
      await stranger('POST', '/v1/labels', { name: 'x', visibility: 'PUBLIC', ownerId: other.users.admin2!.id, memberIds: [uid('heir')] }),
      422,
    );
  });
});

test('two Authorization headers are 401 on /v1 and on SCIM, whichever tokens they carry (Node would keep the first)', async () => {
  // Found by the third contract audit: a MEMBER's token first and an ADMIN's second acted as the MEMBER.
  const { request } = await import('node:http');
  const { createScimToken } = await import('../../api/scim/auth');
  const scimToken = await createScimToken(api.prisma, ws.id);
  const twice = (path: string, tokens: string[]) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(`${api.url}${path}`, { headers: ['host', new URL(api.url).host, ...tokens.flatMap((t) => ['authorization', `Bearer ${t}`])] }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });
  const [memberToken, adminToken] = [await tokenOf(api.prisma, ws, 'member'), await tokenOf(api.prisma, ws, 'admin')];
  for (const path of ['/v1/users', `/v1/deletions/${ids.deletion}`, '/v1/me']) {
    const r = await twice(path, [memberToken, adminToken]);
    expect(r.status).toBe(401);
    expect(r.body.detail).toMatch(/one Authorization header/);
    // The same token twice too: one header, or none.
    expect((await twice(path, [adminToken, adminToken])).status).toBe(401);
  }
  const scim = await twice('/scim/v2/Users', [scimToken, scimToken]);
  expect(scim.status).toBe(401);
  expect(scim.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  // One header still works.
  expect((await admin('GET', '/v1/me')).status).toBe(200);
});
