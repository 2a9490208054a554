// The HR offboarding hook: signature over the raw body, the 5-minute window,
// idempotency per employee, unknown emails, effectiveAt.
import { signHookBody } from '../../api/hook-signature';
import { makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, expectProblem, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let secret: string;
let anyone: Call;
let admin: Call;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, {
    owner: 'OWNER',
    admin: 'ADMIN',
    ann: 'MEMBER',
    bea: 'MEMBER',
    cid: 'MEMBER',
    dan: 'MEMBER',
    eve: 'MEMBER',
  });
  secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
  anyone = client(api.url);
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
});
afterAll(async () => {
  await api?.close();
});

const hookPath = () => `/v1/hooks/${ws.slug}/offboarding`;
const now = () => Math.floor(Date.now() / 1000);

function send(raw: string, signature?: string, path = hookPath()) {
  return anyone('POST', path, raw, signature === undefined ? {} : { 'x-signature': signature });
}

test('a good signature answers 202 {deletionId}; the deletion is from HR', async () => {
  const raw = JSON.stringify({ email: ws.users.ann!.email, employeeId: 'E-100' });
  const r = await send(raw, signHookBody(secret, raw));
  expect(r.status).toBe(202);
  expect(r.body).toEqual({ deletionId: expect.any(String) });
  const d = await admin('GET', `/v1/deletions/${r.body.deletionId}`);
  expect(d.status).toBe(200);
  expect(d.body).toEqual(expect.objectContaining({ source: 'HR', user: expect.objectContaining({ id: ws.users.ann!.id }) }));
  const audit = await admin('GET', `/v1/deletions/${r.body.deletionId}/audit`);
  expect(audit.body.items[0]).toEqual(
    expect.objectContaining({ action: 'DELETION_STARTED', actor: { type: 'HR', id: 'E-100' } }),
  );
});

test('the same employee twice gets the same deletion, even after it finished', async () => {
  const raw = JSON.stringify({ email: ws.users.bea!.email, employeeId: 'E-200' });
  const first = await send(raw, signHookBody(secret, raw));
  expect(first.status).toBe(202);
  // Same employee, a different (re-signed) delivery.
  const raw2 = JSON.stringify({ employeeId: 'E-200', email: ws.users.bea!.email.toUpperCase() });
  const second = await send(raw2, signHookBody(secret, raw2));
  expect(second.status).toBe(202);
  expect(second.body.deletionId).toBe(first.body.deletionId);

  const cancelled = await admin('POST', `/v1/deletions/${first.body.deletionId}/cancel`, {});
  expect(cancelled.body.status).toBe('CANCELLED');
  const third = await send(raw, signHookBody(secret, raw));
  expect(third.status).toBe(202);
  expect(third.body.deletionId).toBe(first.body.deletionId);
});

test('without employeeId the email is the key; the actor is hr-hook', async () => {
  const raw = JSON.stringify({ email: ws.users.cid!.email });
  const a = await send(raw, signHookBody(secret, raw));
  const b = await send(raw, signHookBody(secret, raw));
  expect([a.status, b.status]).toEqual([202, 202]);
  expect(b.body.deletionId).toBe(a.body.deletionId);
  const audit = await admin('GET', `/v1/deletions/${a.body.deletionId}/audit`);
  expect(audit.body.items[0].actor).toEqual({ type: 'HR', id: 'hr-hook' });
});

test('bad signatures are 401 and start nothing', async () => {
  const raw = JSON.stringify({ email: ws.users.dan!.email, employeeId: 'E-400' });
  const cases: [string, string | undefined, string?][] = [
    ['missing', undefined],
    ['garbage', 'nonsense'],
    ['wrong secret', signHookBody('not-the-secret', raw)],
    ['stale t', signHookBody(secret, raw, now() - 360)],
    ['future t', signHookBody(secret, raw, now() + 360)],
    ['body changed after signing', signHookBody(secret, raw.replace('E-400', 'E-401'))],
    ['unknown workspace', signHookBody(secret, raw), '/v1/hooks/no-such-workspace/offboarding'],
  ];
  for (const [what, signature, path] of cases) {
    const r = await send(raw, signature, path);
    expect({ what, status: r.status }).toEqual({ what, status: 401 });
    expectProblem(r, 401);
  }
  // Whitespace re-encoding changes the raw bytes: refused too.
  const reencoded = JSON.stringify(JSON.parse(raw), null, 2);
  expectProblem(await send(reencoded, signHookBody(secret, raw)), 401);
  expect((await admin('GET', `/v1/users/${ws.users.dan!.id}`)).body.status).toBe('ACTIVE');
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: ws.users.dan!.id } })).toBe(0);
});

test('401 comes before 400: a malformed body with a bad signature is 401, with a good one 400', async () => {
  expectProblem(await send('{"email":', 'bad'), 401);
  expectProblem(await send('{"email":', signHookBody(secret, '{"email":')), 400);
  const unknownField = JSON.stringify({ email: ws.users.dan!.email, fire: true });
  expectProblem(await send(unknownField, signHookBody('wrong', unknownField)), 401);
  expectProblem(await send(unknownField, signHookBody(secret, unknownField)), 400);
  const text = 'email=x';
  expectProblem(await anyone('POST', hookPath(), text, { 'content-type': 'text/plain', 'x-signature': 'bad' }), 401);
  expectProblem(
    await anyone('POST', hookPath(), text, { 'content-type': 'text/plain', 'x-signature': signHookBody(secret, text) }),
    415,
  );
});

test('an email matching no user is 404 and starts nothing', async () => {
  const before = await api.prisma.deletion.count({ where: { workspaceId: ws.id } });
  const raw = JSON.stringify({ email: 'stranger@nowhere.test', employeeId: 'E-404' });
  expectProblem(await send(raw, signHookBody(secret, raw)), 404);
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id } })).toBe(before);
  expect(await api.prisma.hrOffboarding.count({ where: { workspaceId: ws.id } })).toBe(
    await api.prisma.hrOffboarding.count({ where: { workspaceId: ws.id, NOT: { employeeKey: 'E-404' } } }),
  );
});

test('effectiveAt in the future keeps the user SUSPENDED for now', async () => {
  const effectiveAt = new Date(Date.now() + 60 * 60 * 1000).toISOString();
  const raw = JSON.stringify({ email: ws.users.eve!.email, employeeId: 'E-500', effectiveAt });
  const r = await send(raw, signHookBody(secret, raw));
  expect(r.status).toBe(202);
  const user = await admin('GET', `/v1/users/${ws.users.eve!.id}`);
  expect(user.body.status).toBe('SUSPENDED');
  const notADate = JSON.stringify({ email: 'x@y.test', effectiveAt: 'tomorrow' });
  expectProblem(await send(notADate, signHookBody(secret, notADate)), 400);
});
