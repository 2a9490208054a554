// GET /v1/me: who the token acts as, for every role; nothing without a token.
import { makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;

beforeAll(async () => {
  api = await startTestApi();
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', member: 'MEMBER' });
});
afterAll(async () => {
  await api?.close();
});

test.each(['owner', 'admin', 'member'])('answers the %s and the workspace', async (handle) => {
  const me = await client(api.url, await tokenOf(api.prisma, ws, handle))('GET', '/v1/me');
  expect(me.status).toBe(200);
  const user = ws.users[handle]!;
  expect(me.body).toEqual({
    user: { id: user.id, name: handle, email: user.email, role: user.role, status: 'ACTIVE' },
    workspace: { id: ws.id, slug: ws.slug, name: ws.slug },
  });
});

test('each workspace sees only itself', async () => {
  const other = await makeWorkspace(api.prisma, { boss: 'OWNER' });
  const me = await client(api.url, await tokenOf(api.prisma, other, 'boss'))('GET', '/v1/me');
  expect(me.body.workspace.id).toBe(other.id);
  expect(me.body.user.id).toBe(other.users.boss!.id);
});

test('no token or a bad one is 401', async () => {
  expectProblem(await client(api.url)('GET', '/v1/me'), 401);
  expectProblem(await client(api.url, 'not-a-token')('GET', '/v1/me'), 401);
});
