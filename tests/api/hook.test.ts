// The HR offboarding hook: signature over the raw body, the 5-minute window,
// idempotency per employee, unknown emails, effectiveAt.
import http from 'node:http';
import { newStandardSecret, signHookBody, signStandard } from '../../api/hook-signature';
import { eventually, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { createApiToken } from '../../infra/tokens';
import { client, expectProblem, listenTestServer, startTestApi, tokenOf, type Call, type TestApi } from './support';
import { finishThroughApi } from './wizard-steps';
import { bringForward } from '../../workflows/definitions';

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

test('the same employee twice, while the wizard is open, gets the same deletion', async () => {
  const raw = JSON.stringify({ email: ws.users.bea!.email, employeeId: 'E-200' });
  const first = await send(raw, signHookBody(secret, raw));
  expect(first.status).toBe(202);
  // Same employee, a different (re-signed) delivery.
  const raw2 = JSON.stringify({ employeeId: 'E-200', email: ws.users.bea!.email.toUpperCase() });
  const second = await send(raw2, signHookBody(secret, raw2));
  expect(second.status).toBe(202);
  expect(second.body.deletionId).toBe(first.body.deletionId);
});

describe('which wizard an offboarding joins (issue 9, item 8)', () => {
  test('a cancelled wizard is never reused: HR again starts a new one and the user is frozen', async () => {
    const frank = await api.prisma.user.create({
      data: { workspaceId: ws.id, name: 'frank', email: `frank@${ws.slug}.test`, role: 'MEMBER' },
    });
    const franksToken = await createApiToken(api.prisma, { workspaceId: ws.id, userId: frank.id });
    const raw = JSON.stringify({ email: frank.email });
    const first = await send(raw, signHookBody(secret, raw));
    expect(first.status).toBe(202);
    const cancelled = await admin('POST', `/v1/deletions/${first.body.deletionId}/cancel`, {});
    expect(cancelled.body.status).toBe('CANCELLED');
    expect((await client(api.url, franksToken)('GET', `/v1/users/${frank.id}`)).status).toBe(200);

    const again = await send(raw, signHookBody(secret, raw));
    expect(again.status).toBe(202);
    expect(again.body.deletionId).not.toBe(first.body.deletionId);
    const d = await admin('GET', `/v1/deletions/${again.body.deletionId}`);
    expect(d.body).toEqual(expect.objectContaining({ status: 'IN_PROGRESS', source: 'HR' }));
    expect((await admin('GET', `/v1/users/${frank.id}`)).body.status).toBe('PENDING_DELETION');
    expect((await client(api.url, franksToken)('GET', `/v1/users/${frank.id}`)).status).toBe(401);
  });

  test('HR again right after each cancel (the cancelled run not yet closed) starts a new wizard every time', async () => {
    const quinn = await api.prisma.user.create({
      data: { workspaceId: ws.id, name: 'quinn', email: `quinn@${ws.slug}.test`, role: 'MEMBER' },
    });
    const raw = JSON.stringify({ email: quinn.email, employeeId: 'E-QUINN' });
    let current = await send(raw, signHookBody(secret, raw));
    expect(current.status).toBe(202);
    const seen = [current.body.deletionId];
    for (let round = 0; round < 5; round++) {
      const id: string = current.body.deletionId;
      const cancelling = admin('POST', `/v1/deletions/${id}/cancel`, {});
      // HR again as soon as the row reads CANCELLED, whether or not the cancelled run has closed.
      await eventually(async () => ((await api.prisma.deletion.findUniqueOrThrow({ where: { id } })).status === 'CANCELLED' ? true : undefined));
      current = await send(raw, signHookBody(secret, raw));
      expect((await cancelling).body.status).toBe('CANCELLED');
      expect(current.status).toBe(202);
      expect(seen).not.toContain(current.body.deletionId);
      seen.push(current.body.deletionId);
      expect((await admin('GET', `/v1/deletions/${current.body.deletionId}`)).body).toEqual(
        expect.objectContaining({ status: 'IN_PROGRESS', source: 'HR' }),
      );
      expect((await admin('GET', `/v1/users/${quinn.id}`)).body.status).toBe('PENDING_DELETION');
    }
  });

  test.each([
    ['by email', undefined],
    ['by employee id', 'E-777'],
  ])('a wizard that removed an earlier user is never reused (%s): the new holder of the email is offboarded', async (_, employeeId) => {
    const email = `bob-${employeeId ?? 'mail'}@${ws.slug}.test`.toLowerCase();
    const oldBob = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'old bob', email, role: 'MEMBER' } });
    const raw = JSON.stringify({ email, ...(employeeId ? { employeeId } : {}) });
    const first = await send(raw, signHookBody(secret, raw));
    expect(first.status).toBe(202);
    const done = await finishThroughApi(admin, first.body.deletionId, ws.users.admin!.id);
    expect(done.status).toBe('COMPLETED');
    expect((await admin('GET', `/v1/users/${oldBob.id}`)).status).toBe(404);

    const created = await admin('POST', '/v1/users', { name: 'new bob', email, role: 'MEMBER' });
    expect(created.status).toBe(201);
    const again = await send(raw, signHookBody(secret, raw));
    expect(again.status).toBe(202);
    expect(again.body.deletionId).not.toBe(first.body.deletionId);
    const d = await admin('GET', `/v1/deletions/${again.body.deletionId}`);
    expect(d.body).toEqual(expect.objectContaining({ status: 'IN_PROGRESS', user: expect.objectContaining({ id: created.body.id }) }));
    expect((await admin('GET', `/v1/users/${created.body.id}`)).body.status).toBe('PENDING_DELETION');
  });

  test('an unknown workspace slug and a bad signature answer alike', async () => {
    const raw = JSON.stringify({ email: ws.users.dan!.email });
    const headerCases: Record<string, string>[] = [
      {},
      { 'x-signature': 'nonsense' },
      { 'x-signature': 't=1,v1=zz' },
      { 'x-signature': signHookBody('not-the-secret', raw) },
      { 'x-signature': signHookBody(secret, raw, now() - 3600) },
    ];
    // A slug that does not even decode (a lone surrogate, percent-encoded) is one more unknown slug.
    for (const [headers, slug] of headerCases.flatMap((h) => [[h, 'no-such-workspace'], [h, '%ED%A0%80']] as const)) {
      const unknown = await anyone('POST', `/v1/hooks/${slug}/offboarding`, raw, headers);
      expectProblem(unknown, 401);
      const known = await anyone('POST', hookPath(), raw, headers);
      expectProblem(known, 401);
      expect({ headers, body: unknown.body, auth: unknown.headers.get('www-authenticate') }).toEqual({
        headers,
        body: known.body,
        auth: known.headers.get('www-authenticate'),
      });
    }
  });
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
  // Any application/<name>+json is read as JSON, as the OpenAPI document says (application/*+json).
  const vendor = JSON.stringify({ email: 'stranger@nowhere.test' });
  expectProblem(await anyone('POST', hookPath(), vendor, { 'content-type': 'application/vnd.hr+json', 'x-signature': signHookBody(secret, vendor) }), 404);
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
});

// Security probe 38 D1: the lookup was Prisma's case-insensitive `equals`, which PostgreSQL runs as
// ILIKE with `_` and `%` as wildcards: `j_doe@…` froze `jadoe@…`, and `%@…` matched the owner.
test('an email is one address, any case: `_` and `%` in it match only themselves', async () => {
  const jadoe = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'Ja Doe', email: `jadoe@${ws.slug}.test`, role: 'MEMBER' } });
  const before = await api.prisma.deletion.count({ where: { workspaceId: ws.id } });
  for (const email of [`j_doe@${ws.slug}.test`, `%@${ws.slug}.test`, `ja%@${ws.slug}.test`, `_adoe@${ws.slug}.TEST`]) {
    const raw = JSON.stringify({ email, employeeId: `E-${email}` });
    expectProblem(await send(raw, signHookBody(secret, raw)), 404);
  }
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id } })).toBe(before);
  expect((await api.prisma.user.findUniqueOrThrow({ where: { id: jadoe.id } })).status).toBe('ACTIVE');

  // The real j_doe (created after jadoe) is the one an offboarding of j_doe reaches, in any case.
  const jDoe = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'J Doe', email: `j_doe@${ws.slug}.test`, role: 'MEMBER' } });
  const raw = JSON.stringify({ email: `J_Doe@${ws.slug.toUpperCase()}.test`, employeeId: 'E-j_doe' });
  const r = await send(raw, signHookBody(secret, raw));
  expect(r.status).toBe(202);
  const d = await admin('GET', `/v1/deletions/${r.body.deletionId}`);
  expect(d.body.user.id).toBe(jDoe.id);
  expect((await api.prisma.user.findUniqueOrThrow({ where: { id: jadoe.id } })).status).toBe('ACTIVE');
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

test('effectiveAt as a date alone (what HR exports carry) is that day at 00:00 UTC; a date-time without an offset is 400 saying so', async () => {
  const gus = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'gus', email: `gus@${ws.slug}.test`, role: 'MEMBER' } });
  const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  // Refused first, each naming effectiveAt and what it takes: no date, an offset missing, a year out of range.
  for (const effectiveAt of [`${day.slice(0, 4)}-02-30`, '1969-12-31', `${day}T00:00:00`, '2027-1-5']) {
    const raw = JSON.stringify({ email: gus.email, effectiveAt });
    const r = await send(raw, signHookBody(secret, raw));
    expectProblem(r, 400);
    expect({ effectiveAt, errors: r.body.errors }).toEqual({
      effectiveAt,
      errors: [{ path: 'effectiveAt', message: expect.stringMatching(/date-time with an offset .* or a date/) }],
    });
  }
  expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: gus.id } })).toBe(0);
  const raw = JSON.stringify({ email: gus.email, effectiveAt: day });
  const r = await send(raw, signHookBody(secret, raw));
  expect(r.status).toBe(202);
  expect((await admin('GET', `/v1/users/${gus.id}`)).body.status).toBe('SUSPENDED');
  const started = await admin('GET', `/v1/deletions/${r.body.deletionId}/audit`);
  expect(JSON.stringify(started.body.items)).toContain(`${day}T00:00:00.000Z`);
});

test('effectiveAt with a lower-case t and z (RFC 3339 §5.6, the document\'s date-time) is the same instant', async () => {
  // Found by a probe of the OpenAPI document: `2027-01-31t17:00:00z` was 400.
  const hugo = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'hugo', email: `hugo@${ws.slug}.test`, role: 'MEMBER' } });
  const at = new Date(Date.now() + 5 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const raw = JSON.stringify({ email: hugo.email, effectiveAt: at.toLowerCase() });
  const r = await send(raw, signHookBody(secret, raw));
  expect(r.status).toBe(202);
  expect((await admin('GET', `/v1/users/${hugo.id}`)).body.status).toBe('SUSPENDED');
  expect((await admin('GET', `/v1/deletions/${r.body.deletionId}`)).body.effectiveAt).toBe(new Date(at).toISOString());
});

test('a later offboarding that says "now" brings the effective date forward: the user is being deleted, and the wizard can be confirmed', async () => {
  // Found by the third contract audit: the wizard waited for HR's first date whoever said the user left since.
  const fay = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'fay', email: `fay@${ws.slug}.test`, role: 'MEMBER' } });
  const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString();
  const hook = async (body: object) => {
    const raw = JSON.stringify({ email: fay.email, employeeId: 'E-600', ...body });
    const r = await send(raw, signHookBody(secret, raw));
    expect(r.status).toBe(202);
    return r.body.deletionId as string;
  };
  const first = inDays(30);
  const d = await hook({ effectiveAt: first });
  // The wizard says when (the fourth audit: it showed step CONFIRM with nothing to say why CONFIRM answered 409).
  expect((await admin('GET', `/v1/deletions/${d}`)).body.effectiveAt).toBe(first);
  // A time the wizard could not read is refused by its validator, never taken (its task would fail on every try).
  const { workflowId } = await api.prisma.deletion.findUniqueOrThrow({ where: { id: d } });
  await expect(
    api.harness.temporal.workflow.getHandle(workflowId).executeUpdate(bringForward, { args: [{ actor: { type: 'HR', id: 'E-600' }, effectiveAt: 'not a time' }] }),
  ).rejects.toMatchObject({ cause: { message: expect.stringMatching(/not a time/) } });
  // A later date changes nothing.
  expect(await hook({ effectiveAt: inDays(60) })).toBe(d);
  await new Promise((r) => setTimeout(r, 1_000));
  expect((await admin('GET', `/v1/users/${fay.id}`)).body.status).toBe('SUSPENDED');
  const before = (await admin('GET', `/v1/deletions/${d}/audit?limit=100`)).body.items.map((e: { action: string }) => e.action);
  expect(before).not.toContain('EFFECTIVE_AT_BROUGHT_FORWARD');
  // No date: the user leaves now.
  expect(await hook({})).toBe(d);
  await eventually(async () => ((await admin('GET', `/v1/users/${fay.id}`)).body.status === 'PENDING_DELETION' ? true : undefined), 20_000, 'the user marked as leaving');
  const actions = (await admin('GET', `/v1/deletions/${d}/audit?limit=100`)).body.items.map((e: { action: string }) => e.action);
  expect(actions).toEqual(expect.arrayContaining(['EFFECTIVE_AT_BROUGHT_FORWARD', 'USER_PENDING_DELETION']));
  const now = (await admin('GET', `/v1/deletions/${d}`)).body.effectiveAt;
  expect(Date.parse(now)).toBeLessThanOrEqual(Date.now());
  expect((await admin('GET', '/v1/deletions?limit=500')).body.items.find((x: { id: string }) => x.id === d).effectiveAt).toBe(now);
  // Once: the same again changes nothing more.
  expect(await hook({})).toBe(d);
  const again = (await admin('GET', `/v1/deletions/${d}/audit?limit=100`)).body.items.filter((e: { action: string }) => e.action === 'EFFECTIVE_AT_BROUGHT_FORWARD');
  expect(again).toHaveLength(1);
  const done = await finishThroughApi(admin, d, ws.users.owner!.id);
  expect(done.status).toBe('COMPLETED');
}, 120_000);

describe('Standard Webhooks', () => {
  let whsec: string;
  beforeAll(async () => {
    whsec = newStandardSecret();
    await api.prisma.workspace.update({ where: { id: ws.id }, data: { hookStandardSecret: whsec } });
  });
  const deliver = (raw: string, headers: Record<string, string>, path = hookPath()) => anyone('POST', path, raw, headers);

  test('a good delivery offboards the user: 202 {deletionId}, from HR', async () => {
    const gil = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'gil', email: `gil@${ws.slug}.test`, role: 'MEMBER' } });
    const raw = JSON.stringify({ email: gil.email, employeeId: 'E-900' });
    const r = await deliver(raw, signStandard(whsec, 'msg_good_1', raw));
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ deletionId: expect.any(String) });
    const d = await admin('GET', `/v1/deletions/${r.body.deletionId}`);
    expect(d.body).toEqual(expect.objectContaining({ source: 'HR', status: 'IN_PROGRESS', user: expect.objectContaining({ id: gil.id }) }));
    expect((await admin('GET', `/v1/users/${gil.id}`)).body.status).toBe('PENDING_DELETION');
  });

  test('a bad signature, a stale or future timestamp, missing headers, an unknown slug: 401 alike, nothing starts', async () => {
    const hal = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'hal', email: `hal@${ws.slug}.test`, role: 'MEMBER' } });
    const raw = JSON.stringify({ email: hal.email });
    const good = signStandard(whsec, 'msg_bad_1', raw);
    const cases: [string, Record<string, string>, string?][] = [
      ['wrong secret', signStandard(newStandardSecret(), 'msg_bad_1', raw)],
      ['body changed after signing', signStandard(whsec, 'msg_bad_1', raw.replace('hal', 'hil'))],
      ['id changed after signing', { ...good, 'webhook-id': 'msg_bad_2' }],
      ['stale timestamp', signStandard(whsec, 'msg_bad_1', raw, new Date(Date.now() - 10 * 60 * 1000))],
      ['future timestamp', signStandard(whsec, 'msg_bad_1', raw, new Date(Date.now() + 10 * 60 * 1000))],
      ['no signature', { 'webhook-id': 'msg_bad_1', 'webhook-timestamp': good['webhook-timestamp']! }],
      ['unknown workspace', good, '/v1/hooks/no-such-workspace/offboarding'],
    ];
    for (const [what, headers, path] of cases) {
      const r = await deliver(raw, headers, path);
      expect({ what, status: r.status }).toEqual({ what, status: 401 });
      expectProblem(r, 401);
    }
    // Each header's trouble in its own words (a long id was "send the three headers together").
    const longId = 'x'.repeat(5_000);
    for (const path of [hookPath(), '/v1/hooks/no-such-workspace/offboarding']) {
      const long = await deliver(raw, signStandard(whsec, longId, raw), path);
      expectProblem(long, 401);
      expect(long.body.detail).toBe('The webhook-id header is longer than 2,000 characters.');
    }
    const unknown = await deliver(raw, signStandard(newStandardSecret(), 'msg_bad_1', raw), '/v1/hooks/no-such-workspace/offboarding');
    const wrong = await deliver(raw, signStandard(newStandardSecret(), 'msg_bad_1', raw));
    expect(unknown.body).toEqual(wrong.body);
    expect((await admin('GET', `/v1/users/${hal.id}`)).body.status).toBe('ACTIVE');
    expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: hal.id } })).toBe(0);
  });

  test('the same webhook-id twice gets the same answer, even after the wizard moved on', async () => {
    const ivy = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'ivy', email: `ivy@${ws.slug}.test`, role: 'MEMBER' } });
    const raw = JSON.stringify({ email: ivy.email });
    const first = await deliver(raw, signStandard(whsec, 'msg_twice', raw));
    expect(first.status).toBe(202);
    expect((await admin('POST', `/v1/deletions/${first.body.deletionId}/cancel`, {})).body.status).toBe('CANCELLED');

    // The sender retries the same message later (signed again, as senders do).
    const again = await deliver(raw, signStandard(whsec, 'msg_twice', raw));
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect((await admin('GET', `/v1/users/${ivy.id}`)).body.status).toBe('ACTIVE');

    // A new message is a new offboarding: a new wizard, the cancelled one is not reused.
    const next = await deliver(raw, signStandard(whsec, 'msg_next', raw));
    expect(next.status).toBe(202);
    expect(next.body.deletionId).not.toBe(first.body.deletionId);
    expect((await admin('GET', `/v1/users/${ivy.id}`)).body.status).toBe('PENDING_DELETION');
  });

  test('deliveries of one webhook-id sent at once are answered once: every one gets the first answer, one offboarding', async () => {
    // A sender retrying before its first try was answered (or two of its workers): bodies even differ here.
    const users = await Promise.all(
      ['jo', 'kim', 'lou'].map((name) => api.prisma.user.create({ data: { workspaceId: ws.id, name, email: `${name}@${ws.slug}.test`, role: 'MEMBER' } })),
    );
    const answers = await Promise.all(
      users.map((u) => {
        const raw = JSON.stringify({ email: u.email });
        return deliver(raw, signStandard(whsec, 'msg_at_once', raw));
      }),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    expect(new Set(answers.map((a) => a.body.deletionId)).size).toBe(1);
    const started = await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: { in: users.map((u) => u.id) } } });
    expect(started).toBe(1);
  });

  test('deliveries of one webhook-id reaching two API processes at once are answered once: the same answer, one offboarding', async () => {
    // Two replicas behind a load balancer (deploy/k8s runs two): a sender's retry, sent before its first
    // try was answered, reaches the other one. Each process alone would see nothing kept yet.
    const second = await listenTestServer({ prisma: api.prisma, wizard: api.wizard, config: api.harness.config });
    try {
      const users = await Promise.all(
        ['mia', 'ned'].map((name) => api.prisma.user.create({ data: { workspaceId: ws.id, name, email: `${name}@${ws.slug}.test`, role: 'MEMBER' } })),
      );
      const answers = await Promise.all(
        users.map((u, i) => {
          const raw = JSON.stringify({ email: u.email });
          return client(i === 0 ? api.url : second.url)('POST', hookPath(), raw, signStandard(whsec, 'msg_two_processes', raw));
        }),
      );
      expect(answers.map((a) => a.status)).toEqual([202, 202]);
      expect(answers[1]!.body).toEqual(answers[0]!.body);
      const started = await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: { in: users.map((u) => u.id) } } });
      expect(started).toBe(1);
    } finally {
      await second.app.close();
    }
  });

  test('a sender that gives up on a slow first try and sends it again gets its answer: the id stays claimed, one offboarding', async () => {
    // Found by review: the abort let go of the claim while the first try still ran, and the retry offboarded again.
    let starts = 0;
    const slow = {
      ...api.wizard,
      start: async (args: Parameters<typeof api.wizard.start>[0]) => {
        starts += 1;
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        return api.wizard.start(args);
      },
    };
    const server = await listenTestServer({ prisma: api.prisma, wizard: slow, config: api.harness.config });
    try {
      const quill = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'quill', email: `quill@${ws.slug}.test`, role: 'MEMBER' } });
      const raw = JSON.stringify({ email: quill.email });
      const headers = { 'content-type': 'application/json', ...signStandard(whsec, 'msg_gave_up', raw) };
      // The first try's connection closed by the sender mid-way (its timeout).
      const first = http.request(`${server.url}${hookPath()}`, { method: 'POST', headers });
      first.on('error', () => undefined);
      first.end(raw);
      await new Promise((resolve) => setTimeout(resolve, 400));
      first.destroy();
      const again = await client(server.url)('POST', hookPath(), raw, signStandard(whsec, 'msg_gave_up', raw));
      expect(again.status).toBe(202);
      expect(starts).toBe(1);
      expect(await api.prisma.deletion.count({ where: { workspaceId: ws.id, userId: quill.id } })).toBe(1);
      expect((await client(server.url)('POST', hookPath(), raw, signStandard(whsec, 'msg_gave_up', raw))).body).toEqual(again.body);
    } finally {
      await server.app.close();
    }
  });

  test('a claim left by a process that died while answering lapses: a later delivery of the id is answered; one let go is 503 to send again', async () => {
    const olive = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'olive', email: `olive@${ws.slug}.test`, role: 'MEMBER' } });
    const raw = JSON.stringify({ email: olive.email });
    // Claimed two minutes ago by a process killed before it answered: nobody will answer it.
    await api.prisma.webhookDelivery.create({
      data: { workspaceId: ws.id, webhookId: 'msg_orphan', status: null, body: undefined, createdAt: new Date(Date.now() - 120_000) },
    });
    const r = await deliver(raw, signStandard(whsec, 'msg_orphan', raw));
    expect(r.status).toBe(202);
    expect((await admin('GET', `/v1/users/${olive.id}`)).body.status).toBe('PENDING_DELETION');
    expect(await deliver(raw, signStandard(whsec, 'msg_orphan', raw))).toEqual(expect.objectContaining({ status: 202, body: r.body }));

    // Claimed just now by another process, which then lets go without keeping an answer (its own 503):
    // the delivery waiting on it is answered 503 with Retry-After at once, and offboards nobody.
    const pat = await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'pat', email: `pat@${ws.slug}.test`, role: 'MEMBER' } });
    const rawPat = JSON.stringify({ email: pat.email });
    await api.prisma.webhookDelivery.create({ data: { workspaceId: ws.id, webhookId: 'msg_let_go', status: null, body: undefined } });
    const waiting = deliver(rawPat, signStandard(whsec, 'msg_let_go', rawPat));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await api.prisma.webhookDelivery.deleteMany({ where: { workspaceId: ws.id, webhookId: 'msg_let_go' } });
    const answer = await waiting;
    expectProblem(answer, 503);
    expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await admin('GET', `/v1/users/${pat.id}`)).body.status).toBe('ACTIVE');
    // Sent again, as asked: read anew.
    expect((await deliver(rawPat, signStandard(whsec, 'msg_let_go', rawPat))).status).toBe(202);
  });

  test('answers kept longer than WEBHOOK_ID_RETENTION_DAYS (30) are pruned when a delivery comes; younger ones stay', async () => {
    const day = 86_400_000;
    const old = { workspaceId: ws.id, status: 202, body: '{"deletionId":"old"}' };
    await api.prisma.webhookDelivery.createMany({
      data: [
        { ...old, webhookId: 'msg_31_days', createdAt: new Date(Date.now() - 31 * day) },
        { ...old, webhookId: 'msg_400_days', createdAt: new Date(Date.now() - 400 * day) },
        { ...old, webhookId: 'msg_29_days', createdAt: new Date(Date.now() - 29 * day) },
      ],
    });
    const raw = JSON.stringify({ email: `nobody@${ws.slug}.test` });
    expectProblem(await deliver(raw, signStandard(whsec, 'msg_prune', raw)), 404);
    const ids = async () =>
      (await api.prisma.webhookDelivery.findMany({ where: { workspaceId: ws.id, webhookId: { in: ['msg_31_days', 'msg_400_days', 'msg_29_days', 'msg_prune'] } } }))
        .map((d) => d.webhookId)
        .sort();
    // Pruned after the answer was sent.
    await eventually(async () => ((await ids()).length === 2 ? true : undefined), 10_000, 'the prune');
    expect(await ids()).toEqual(['msg_29_days', 'msg_prune']);
  });

  test('a refusal is the same answer again too; the X-Signature scheme still works beside it', async () => {
    const raw = JSON.stringify({ email: `nobody-yet@${ws.slug}.test` });
    const first = await deliver(raw, signStandard(whsec, 'msg_404', raw));
    expectProblem(first, 404);
    await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'late', email: `nobody-yet@${ws.slug}.test`, role: 'MEMBER' } });
    const again = await deliver(raw, signStandard(whsec, 'msg_404', raw));
    expectProblem(again, 404);
    // The same answer, down to its content type.
    expect({ type: again.contentType, body: again.body }).toEqual({ type: first.contentType, body: first.body });
    const viaX = await send(raw, signHookBody(secret, raw));
    expect(viaX.status).toBe(202);
  });
});
