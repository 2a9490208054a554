// Directory routes of api.md over the real server and database.
import { makeWorkspace, leadsByOwner, type TestWorkspace } from '../support/wizard';
import { allPages, client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let call: Call;

beforeAll(async () => {
  api = await startTestApi();
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', ann: 'MEMBER', bob: 'MEMBER', gone: 'MEMBER' });
  call = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  await api.prisma.user.update({ where: { id: ws.users.gone!.id }, data: { status: 'PENDING_DELETION' } });
});
afterAll(async () => {
  await api?.close();
});

const id = (h: string) => ws.users[h]!.id;

describe('users', () => {
  test('create answers 201 with the user; email is normalised; a second with that email is 409', async () => {
    const r = await call('POST', '/v1/users', { name: ' Carol ', email: 'Carol@Example.TEST', role: 'MEMBER' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: expect.any(String), name: 'Carol', email: 'carol@example.test', role: 'MEMBER', status: 'ACTIVE' });
    expectProblem(await call('POST', '/v1/users', { name: 'C2', email: 'carol@example.test', role: 'ADMIN' }), 409);

    const got = await call('GET', `/v1/users/${r.body.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(r.body);
  });

  test('bad bodies are 400 with the offending fields', async () => {
    const unknown = await call('POST', '/v1/users', { name: 'X', email: 'x@y.test', role: 'MEMBER', admin: true });
    expectProblem(unknown, 400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ path: 'admin' })]);
    const missing = await call('POST', '/v1/users', { name: 'X', role: 'MEMBER' });
    expectProblem(missing, 400);
    expect(missing.body.errors.map((e: { path: string }) => e.path)).toContain('email');
    expectProblem(await call('POST', '/v1/users', { name: 'X', email: 'not-an-email', role: 'MEMBER' }), 400);
    expectProblem(await call('POST', '/v1/users', { name: 'X', email: 'x@y.test', role: 'KING' }), 400);
  });

  test('list in creation order, page by page, filtered by status', async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await call('POST', '/v1/users', { name: `P${i}`, email: `p${i}@page.test`, role: 'MEMBER' });
      made.push(r.body.id);
    }
    const everyone = await allPages(call, '/v1/users', 3);
    const ids = everyone.map((u) => u.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 5)).toEqual(['owner', 'admin', 'ann', 'bob', 'gone'].map(id));
    expect(ids.filter((x) => made.includes(x))).toEqual(made);

    const pending = await call('GET', '/v1/users?status=PENDING_DELETION');
    expect(pending.status).toBe(200);
    expect(pending.body).toEqual({ items: [expect.objectContaining({ id: id('gone'), status: 'PENDING_DELETION' })], nextCursor: null });
    expectProblem(await call('GET', '/v1/users?status=GONE'), 400);
  });

  test('limit and cursor are checked', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'limit=1.5', 'cursor=%2F%2F', 'cursor=eyJ4IjoxfQ', 'other=1']) {
      expectProblem(await call('GET', `/v1/users?${q}`), 400);
    }
    // A limit is written in decimal digits: JavaScript's other ways of writing a number are not one.
    for (const limit of ['0x10', '1e2', '%205', '5.0', '+5', '', '0b11']) {
      const r = await call('GET', `/v1/users?limit=${limit}`);
      expectProblem(r, 400);
      expect({ limit, errors: r.body.errors }).toEqual({ limit, errors: [{ path: 'query.limit', message: 'must be a whole number from 1 to 500' }] });
    }
    expect((await call('GET', '/v1/users?limit=007')).status).toBe(200);
    const r = await call('GET', '/v1/users?limit=500');
    expect(r.status).toBe(200);
    const d = await call('GET', '/v1/users');
    expect(d.body.items.length).toBeLessThanOrEqual(50);
  });

  test('an unknown user id is 404; one that no database could hold (a NUL) is 400 naming it', async () => {
    expectProblem(await call('GET', '/v1/users/nope'), 404);
    const nul = await call('GET', '/v1/users/%00');
    expectProblem(nul, 400);
    expect(nul.body.errors).toEqual([{ path: 'params.id', message: expect.any(String) }]);
  });
});

describe('leads', () => {
  test('bulk creates all leads in one call, 201 {created}; list and count by owner', async () => {
    const leads = Array.from({ length: 10_000 }, (_, i) => ({
      name: `Lead ${i}`,
      ownerId: i % 4 === 0 ? id('ann') : id('bob'),
      ...(i % 2 === 0 ? { email: `l${i}@x.test` } : { phone: `+1 555 ${i}` }),
    }));
    const r = await call('POST', '/v1/leads/bulk', { leads });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ created: 10_000 });
    expect((await call('GET', `/v1/leads/count?ownerId=${id('ann')}`)).body).toEqual({ count: 2_500 });
    expect((await call('GET', `/v1/leads/count?ownerId=${id('bob')}`)).body).toEqual({ count: 7_500 });

    const first = await call('GET', `/v1/leads?ownerId=${id('ann')}&limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([
      { id: expect.stringMatching(/^\d+$/), name: 'Lead 0', email: 'l0@x.test', phone: null, ownerId: id('ann') },
      { id: expect.stringMatching(/^\d+$/), name: 'Lead 4', email: 'l4@x.test', phone: null, ownerId: id('ann') },
    ]);
    const all = await allPages(call, `/v1/leads?ownerId=${id('ann')}`, 500);
    expect(all).toHaveLength(2_500);
    const nums = all.map((l) => BigInt(l.id));
    expect(nums.every((n, i) => i === 0 || n > nums[i - 1]!)).toBe(true);
  });

  test('size limits: 0 and 10,001 leads are 400', async () => {
    expectProblem(await call('POST', '/v1/leads/bulk', { leads: [] }), 400);
    const tooMany = Array.from({ length: 10_001 }, (_, i) => ({ name: `L${i}`, ownerId: id('ann') }));
    expectProblem(await call('POST', '/v1/leads/bulk', { leads: tooMany }), 400);
  });

  test('all or nothing: an unknown or PENDING_DELETION owner is 422 and nothing is created', async () => {
    const before = await leadsByOwner(api.prisma, ws.id);
    const unknown = await call('POST', '/v1/leads/bulk', {
      leads: [
        { name: 'ok', ownerId: id('ann') },
        { name: 'bad', ownerId: 'no-such-user' },
      ],
    });
    expectProblem(unknown, 422);
    expect(unknown.body.detail).toContain('no-such-user');
    const pending = await call('POST', '/v1/leads/bulk', {
      leads: [
        { name: 'ok', ownerId: id('ann') },
        { name: 'bad', ownerId: id('gone') },
      ],
    });
    expectProblem(pending, 422);
    expect(pending.body.detail).toContain(id('gone'));
    expect(await leadsByOwner(api.prisma, ws.id)).toEqual(before);
  });

  test('an ownerId of another workspace or none at all is 404', async () => {
    const other = await makeWorkspace(api.prisma, { someone: 'ADMIN' });
    expectProblem(await call('GET', `/v1/leads?ownerId=${other.users.someone!.id}`), 404);
    expectProblem(await call('GET', `/v1/leads/count?ownerId=${other.users.someone!.id}`), 404);
    expectProblem(await call('GET', '/v1/leads/count?ownerId=nobody'), 404);
    // A blank one names nobody: 400 naming it (found by the fourth audit: 404 "User  does not exist").
    for (const url of ['/v1/leads/count?ownerId=', '/v1/leads?ownerId=']) {
      const blank = await call('GET', url);
      expectProblem(blank, 400);
      expect(blank.body.errors).toEqual([{ path: 'query.ownerId', message: 'must not be empty' }]);
    }
  });
});

describe('automations and integrations', () => {
  const bad: [string, (a: string, b: string) => unknown[]][] = [
    ['weights not adding up', (a, b) => [{ userId: a, weight: 50 }, { userId: b, weight: 40 }]],
    ['a zero weight', (a, b) => [{ userId: a, weight: 0 }, { userId: b, weight: 100 }]],
    ['a negative weight', (a, b) => [{ userId: a, weight: -10 }, { userId: b, weight: 110 }]],
    ['a fractional weight', (a, b) => [{ userId: a, weight: 50.5 }, { userId: b, weight: 49.5 }]],
    ['a user twice', (a) => [{ userId: a, weight: 50 }, { userId: a, weight: 50 }]],
    ['an unknown user', (a) => [{ userId: a, weight: 50 }, { userId: 'nobody', weight: 50 }]],
  ];

  test.each(bad)('a distribution with %s is 422', async (_what, make) => {
    const distribution = make(id('ann'), id('bob'));
    expectProblem(await call('POST', '/v1/automations', { name: 'A', distribution }), 422);
    expectProblem(await call('POST', '/v1/integrations', { name: 'I', source: 'web', distribution }), 422);
  });

  test('a PENDING_DELETION or SUSPENDED member is 422', async () => {
    const suspended = await api.prisma.user.create({
      data: { workspaceId: ws.id, name: 'sus', email: 'sus@x.test', role: 'MEMBER', status: 'SUSPENDED' },
    });
    for (const who of [id('gone'), suspended.id]) {
      const distribution = [
        { userId: id('ann'), weight: 50 },
        { userId: who, weight: 50 },
      ];
      const r = await call('POST', '/v1/automations', { name: 'A', distribution });
      expectProblem(r, 422);
      expect(r.body.detail).toContain(who);
      expectProblem(await call('POST', '/v1/integrations', { name: 'I', source: 's', distribution }), 422);
    }
  });

  test('shape problems are 400: empty distribution, weight as a string, unknown field', async () => {
    expectProblem(await call('POST', '/v1/automations', { name: 'A', distribution: [] }), 400);
    expectProblem(
      await call('POST', '/v1/automations', { name: 'A', distribution: [{ userId: id('ann'), weight: '100' }] }),
      400,
    );
    expectProblem(
      await call('POST', '/v1/automations', { name: 'A', distribution: [{ userId: id('ann'), weight: 100, x: 1 }] }),
      400,
    );
  });

  test('created and listed in creation order with their distributions', async () => {
    const d1 = [
      { userId: id('bob'), weight: 30 },
      { userId: id('ann'), weight: 70 },
    ];
    const a1 = await call('POST', '/v1/automations', { name: 'Round robin', distribution: d1 });
    expect(a1.status).toBe(201);
    expect(a1.body).toEqual({ id: expect.any(String), name: 'Round robin', distribution: d1 });
    const a2 = await call('POST', '/v1/automations', { name: 'Solo', distribution: [{ userId: id('ann'), weight: 100 }] });
    const autos = await allPages(call, '/v1/automations', 1);
    expect(autos.map((a) => a.id)).toEqual([a1.body.id, a2.body.id]);
    expect(autos[0]).toEqual(a1.body);

    const i1 = await call('POST', '/v1/integrations', { name: 'Web form', source: 'web', distribution: d1 });
    expect(i1.status).toBe(201);
    expect(i1.body).toEqual({ id: expect.any(String), name: 'Web form', source: 'web', distribution: d1 });
    const integrations = await allPages(call, '/v1/integrations', 50);
    expect(integrations).toContainEqual(i1.body);
  });
});

describe('lead source: POST /v1/integrations/{id}/leads', () => {
  const leads = (n: number) => ({ leads: Array.from({ length: n }, (_, i) => ({ name: `In ${i}`, email: `in${i}@x.test` })) });

  test('shares each request out by largest remainder', async () => {
    const i = await call('POST', '/v1/integrations', {
      name: 'Split',
      source: 'web',
      distribution: [
        { userId: id('ann'), weight: 50 },
        { userId: id('bob'), weight: 50 },
      ],
    });
    const r = await call('POST', `/v1/integrations/${i.body.id}/leads`, leads(30_00));
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ created: 3_000, owners: { [id('ann')]: 1_500, [id('bob')]: 1_500 } });

    const odd = await call('POST', `/v1/integrations/${i.body.id}/leads`, leads(3));
    expect(odd.body.created).toBe(3);
    const counts = Object.values(odd.body.owners as Record<string, number>).sort();
    expect(counts).toEqual([1, 2]);
  });

  test('skips members being deleted or suspended while another remains; else the listed member gets them', async () => {
    const carl = await call('POST', '/v1/users', { name: 'Carl', email: 'carl@src.test', role: 'MEMBER' });
    const dora = await call('POST', '/v1/users', { name: 'Dora', email: 'dora@src.test', role: 'MEMBER' });
    const i = await call('POST', '/v1/integrations', {
      name: 'Skip',
      source: 'web',
      distribution: [
        { userId: carl.body.id, weight: 60 },
        { userId: dora.body.id, weight: 40 },
      ],
    });
    await api.prisma.user.update({ where: { id: carl.body.id }, data: { status: 'PENDING_DELETION' } });
    const r1 = await call('POST', `/v1/integrations/${i.body.id}/leads`, leads(10));
    expect(r1.body).toEqual({ created: 10, owners: { [dora.body.id]: 10 } });

    await api.prisma.user.update({ where: { id: dora.body.id }, data: { status: 'SUSPENDED' } });
    const r2 = await call('POST', `/v1/integrations/${i.body.id}/leads`, leads(10));
    expect(r2.body).toEqual({ created: 10, owners: { [carl.body.id]: 6, [dora.body.id]: 4 } });
    const byOwner = await leadsByOwner(api.prisma, ws.id);
    expect(byOwner[carl.body.id]).toBe(6);
    expect(byOwner[dora.body.id]).toBe(14);
  });

  test('unknown integration is 404; bad body is 400 (before 404)', async () => {
    expectProblem(await call('POST', '/v1/integrations/nope/leads', leads(1)), 404);
    expectProblem(await call('POST', '/v1/integrations/nope/leads', { leads: [] }), 400);
    expectProblem(await call('POST', '/v1/integrations/nope/leads', { leads: [{ name: 'x', ownerId: id('ann') }] }), 400);
  });
});

describe('labels', () => {
  test('created with owner and members; listed in creation order', async () => {
    const r = await call('POST', '/v1/labels', {
      name: 'Hot',
      visibility: 'SHARED',
      ownerId: id('ann'),
      memberIds: [id('bob'), id('admin')],
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: expect.any(String), name: 'Hot', visibility: 'SHARED', ownerId: id('ann'), memberIds: [id('bob'), id('admin')] });
    const list = await allPages(call, '/v1/labels', 2);
    expect(list).toContainEqual(r.body);
  });

  test('owner or member outside the workspace, or being deleted, is 422; bad visibility is 400', async () => {
    const other = await makeWorkspace(api.prisma, { stranger: 'MEMBER' });
    const stranger = other.users.stranger!.id;
    expectProblem(await call('POST', '/v1/labels', { name: 'X', visibility: 'PUBLIC', ownerId: stranger, memberIds: [] }), 422);
    expectProblem(
      await call('POST', '/v1/labels', { name: 'X', visibility: 'PUBLIC', ownerId: id('ann'), memberIds: [stranger] }),
      422,
    );
    expectProblem(await call('POST', '/v1/labels', { name: 'X', visibility: 'PUBLIC', ownerId: id('gone'), memberIds: [] }), 422);
    expectProblem(await call('POST', '/v1/labels', { name: 'X', visibility: 'SECRET', ownerId: id('ann'), memberIds: [] }), 400);
  });
});
