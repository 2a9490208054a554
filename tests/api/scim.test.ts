// SCIM 2.0 at /scim/v2 against the real server, Temporal and database: the
// request sequences Okta and Microsoft Entra ID send (shapes from their
// public docs), discovery, filters, paging, errors, tokens and workspaces.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import parse from 'parse-prometheus-text-format';
import { signHookBody, signStandard } from '../../api/hook-signature';
import { createScimToken } from '../../api/scim/auth';
import { SCIM, ScimResourceType, ScimSchemaDefinition, ScimServiceProviderConfig, ScimUser, scimListOf } from '../../domain/scim';
import { createApiToken } from '../../infra/tokens';
import { TEXT_MESSAGE } from '../../domain/schemas';
import { testEnv } from '../support/env';
import { eventually, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, startTestApi, tokenOf, type Answer, type Call, type TestApi } from './support';
import { finishThroughApi } from './wizard-steps';

let api: TestApi;
let ws: TestWorkspace;
let other: TestWorkspace;
let scimToken: string;
let admin: Call;
let scim: Call;
let otherScim: Call;

const root = path.resolve(__dirname, '..', '..');
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** A SCIM client: paths under /scim/v2, bodies as application/scim+json (as Entra sends them). */
function scimClient(url: string, token: string | undefined): Call {
  const call = client(url, token);
  return (method, path, body, headers = {}) =>
    call(method, `/scim/v2${path}`, body, body === undefined ? headers : { 'content-type': 'application/scim+json', ...headers });
}

function expectScimError(r: Answer, status: number, scimType?: string): void {
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text.slice(0, 500)}`);
  expect(r.contentType).toMatch(/^application\/scim\+json/);
  expect(r.body).toEqual({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: String(status),
    detail: expect.any(String),
    ...(scimType ? { scimType } : {}),
  });
}

const q = (filter: string, rest = '') => `/Users?filter=${encodeURIComponent(filter)}${rest}`;

async function openDeletionOf(userId: string) {
  return api.prisma.deletion.findFirst({ where: { userId, status: 'IN_PROGRESS' } });
}

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', heir: 'MEMBER' });
  other = await makeWorkspace(api.prisma, { owner: 'OWNER', stranger: 'MEMBER' });
  scimToken = await createScimToken(api.prisma, ws.id);
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  scim = scimClient(api.url, scimToken);
  otherScim = scimClient(api.url, await createScimToken(api.prisma, other.id));
});
afterAll(async () => {
  await api?.close();
});

test("Okta: lookup, create, duplicate 409, path-less PATCH deactivates (wizard open, user frozen), reactivation cancels", async () => {
  const email = `alice@${ws.slug}.test`;
  const lookup = await scim('GET', q(`userName eq "${email}"`, '&startIndex=1&count=100'));
  expect(lookup.status).toBe(200);
  expect(lookup.contentType).toMatch(/^application\/scim\+json/);
  expect(lookup.body).toEqual({ schemas: [SCIM.ListResponse], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

  // Okta's create, as its docs show it (application/json is what Okta sends).
  const oktaUser = {
    schemas: [SCIM.User],
    userName: email,
    name: { givenName: 'Alice', familyName: 'Archer' },
    emails: [{ primary: true, value: email, type: 'work' }],
    displayName: 'Alice Archer',
    locale: 'en-US',
    externalId: '00u1okta',
    groups: [],
    password: 'ignored-1!',
    active: true,
  };
  const created = await client(api.url, scimToken)('POST', '/scim/v2/Users', oktaUser);
  expect(created.status).toBe(201);
  expect(created.contentType).toMatch(/^application\/scim\+json/);
  const id = created.body.id;
  expect(created.body).toEqual({
    schemas: [SCIM.User],
    id,
    externalId: '00u1okta',
    userName: email,
    name: { formatted: 'Alice Archer' },
    displayName: 'Alice Archer',
    emails: [{ value: email, type: 'work', primary: true }],
    active: true,
    meta: { resourceType: 'User', created: expect.any(String), lastModified: expect.any(String), location: `${api.url}/scim/v2/Users/${id}` },
  });
  expect(created.headers.get('location')).toBe(`${api.url}/scim/v2/Users/${id}`);
  expect((await admin('GET', `/v1/users/${id}`)).body).toEqual({ id, name: 'Alice Archer', email, role: 'MEMBER', status: 'ACTIVE' });

  const found = await scim('GET', q(`userName eq "${email.toUpperCase()}"`, '&startIndex=1&count=100'));
  expect(found.body).toEqual(expect.objectContaining({ totalResults: 1, itemsPerPage: 1 }));
  expect(found.body.Resources[0]).toEqual(created.body);

  expectScimError(await scim('POST', '/Users', oktaUser), 409, 'uniqueness');

  const alicesToken = await createApiToken(api.prisma, { workspaceId: ws.id, userId: id });
  const asAlice = client(api.url, alicesToken);
  expect((await asAlice('GET', `/v1/users/${id}`)).status).toBe(200);

  // Deactivate: Okta's PATCH has no path.
  const deactivated = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', value: { active: false } }],
  });
  expect(deactivated.status).toBe(200);
  expect(deactivated.body).toEqual({ ...created.body, active: false, meta: expect.objectContaining({ location: created.body.meta.location }) });
  const wizard = await openDeletionOf(id);
  expect(wizard).not.toBeNull();
  const d = await admin('GET', `/v1/deletions/${wizard!.id}`);
  expect(d.body).toEqual(expect.objectContaining({ status: 'IN_PROGRESS', source: 'IDP', user: expect.objectContaining({ id }) }));
  expect((await admin('GET', `/v1/deletions/${wizard!.id}/audit`)).body.items[0]).toEqual(
    expect.objectContaining({ action: 'DELETION_STARTED', actor: { type: 'IDP', id: expect.any(String) } }),
  );
  expect((await admin('GET', `/v1/users/${id}`)).body.status).toBe('PENDING_DELETION');
  expect((await asAlice('GET', `/v1/users/${id}`)).status).toBe(401);

  // Okta retries: the same wizard, nothing new.
  expect((await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] })).status).toBe(200);
  expect(await api.prisma.deletion.count({ where: { userId: id } })).toBe(1);

  // Reactivate before CONFIRM: the wizard is cancelled, the user ACTIVE again.
  const reactivated = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', value: { active: true } }],
  });
  expect(reactivated.status).toBe(200);
  expect(reactivated.body.active).toBe(true);
  expect((await admin('GET', `/v1/deletions/${wizard!.id}`)).body.status).toBe('CANCELLED');
  expect((await admin('GET', `/v1/users/${id}`)).body.status).toBe('ACTIVE');
  expect((await asAlice('GET', `/v1/users/${id}`)).status).toBe(200);
});

test('a malformed email entry is refused naming the entry, as a list or as one object', async () => {
  // Found by review: with emails a union (a list, or OneLogin's one object), the refusal said only "emails: Invalid input".
  const email = `malformed-${Date.now()}@${ws.slug}.test`;
  const asList = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, emails: [{ value: 5 }] });
  expectScimError(asList, 400, 'invalidValue');
  expect(asList.body.detail).toContain('emails.0.value');
  const asObject = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, emails: { value: 5 } });
  expectScimError(asObject, 400, 'invalidValue');
  expect(asObject.body.detail).toContain('emails.value');
  expect((await scim('GET', q(`userName eq "${email}"`))).body.totalResults).toBe(0);
});

test('Okta integrations that PUT the whole user: active false opens the wizard, true cancels it; other changes apply', async () => {
  const email = `bruno@${ws.slug}.test`;
  const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, name: { formatted: 'Bruno' }, active: true });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const put = (active: boolean, name = 'Bruno B') =>
    scim('PUT', `/Users/${id}`, { schemas: [SCIM.User], id, userName: email, displayName: name, emails: [{ value: email, primary: true }], active });
  const off = await put(false);
  expect(off.status).toBe(200);
  expect(off.body).toEqual(expect.objectContaining({ id, active: false, displayName: 'Bruno B', name: { formatted: 'Bruno B' } }));
  const wizard = await openDeletionOf(id);
  expect(wizard?.source).toBe('IDP');
  expect((await admin('GET', `/v1/users/${id}`)).body.status).toBe('PENDING_DELETION');
  const on = await put(true, 'Bruno C');
  expect(on.body).toEqual(expect.objectContaining({ active: true, displayName: 'Bruno C' }));
  expect((await admin('GET', `/v1/deletions/${wizard!.id}`)).body.status).toBe('CANCELLED');
  expect((await admin('GET', `/v1/users/${id}`)).body).toEqual(expect.objectContaining({ status: 'ACTIVE', name: 'Bruno C' }));
});

test('Entra: filters on externalId and emails[type eq "work"].value, Replace/"False" deactivates, DELETE is 204 then 404, the wizard stays open and an admin finishes it', async () => {
  const email = `carla@${ws.slug}.test`;
  const objectId = 'a4c5b3e2-0000-4000-8000-entra0000001';
  expect((await scim('GET', q(`externalId eq "${objectId}"`))).body.totalResults).toBe(0);
  const created = await scim('POST', '/Users', {
    schemas: [SCIM.User, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    externalId: objectId,
    userName: email,
    active: true,
    displayName: 'Carla Diaz',
    emails: [{ primary: true, type: 'work', value: email }],
    name: { formatted: 'Carla Diaz', familyName: 'Diaz', givenName: 'Carla' },
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Sales' },
  });
  expect(created.status).toBe(201);
  const id = created.body.id;

  for (const filter of [
    `externalId eq "${objectId}"`,
    `emails[type eq "work"].value eq "${email}"`,
    `emails.value eq "${email}"`,
    `userName eq "${email}" and externalId eq "${objectId}"`,
  ]) {
    const r = await scim('GET', q(filter));
    expect({ filter, status: r.status, ids: r.body.Resources?.map((u: { id: string }) => u.id) }).toEqual({ filter, status: 200, ids: [id] });
  }
  for (const filter of [`externalId eq "${objectId.toUpperCase()}"`, `emails[type eq "home"].value eq "${email}"`, `userName eq "${email}" and externalId eq "nope"`]) {
    expect((await scim('GET', q(filter))).body.totalResults).toBe(0);
  }

  // Entra's soft delete: a capitalised op and a string boolean.
  const patched = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  });
  expect(patched.status).toBe(200);
  expect(patched.body).toEqual(expect.objectContaining({ id, active: false, userName: email, externalId: objectId }));
  const wizard = await openDeletionOf(id);
  expect(wizard?.source).toBe('IDP');
  expect((await admin('GET', `/v1/users/${id}`)).body.status).toBe('PENDING_DELETION');
  // Inactive users stay readable until the hard delete.
  expect((await scim('GET', `/Users/${id}`)).body.active).toBe(false);
  expect((await scim('GET', q(`externalId eq "${objectId}"`))).body.totalResults).toBe(1);

  // 30 days later: the hard delete.
  const deleted = await scim('DELETE', `/Users/${id}`);
  expect(deleted.status).toBe(204);
  expect(deleted.text).toBe('');
  expectScimError(await scim('GET', `/Users/${id}`), 404);
  expectScimError(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] }), 404);
  expectScimError(await scim('PUT', `/Users/${id}`, { schemas: [SCIM.User], userName: email, active: true }), 404);
  expectScimError(await scim('DELETE', `/Users/${id}`), 404);
  expect((await scim('GET', q(`externalId eq "${objectId}"`))).body.totalResults).toBe(0);

  // In the CRM the same wizard is still open, and is finished like any other.
  const d = await admin('GET', `/v1/deletions/${wizard!.id}`);
  expect(d.body).toEqual(expect.objectContaining({ status: 'IN_PROGRESS', source: 'IDP', step: 'LEADS' }));
  expect(await api.prisma.deletion.count({ where: { userId: id } })).toBe(1);
  const done = await finishThroughApi(admin, wizard!.id, ws.users.heir!.id);
  expect(done.status).toBe('COMPLETED');
  expect((await admin('GET', `/v1/users/${id}`)).status).toBe(404);
});

test('creating a userName again after a SCIM DELETE brings the user back and cancels the IdP\'s wizard', async () => {
  const email = `erin@${ws.slug}.test`;
  const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, active: true });
  const id = created.body.id;
  expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
  const wizard = await openDeletionOf(id);
  expect(wizard?.source).toBe('IDP');
  expectScimError(await scim('GET', `/Users/${id}`), 404);

  const again = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, displayName: 'Erin', active: true });
  expect(again.status).toBe(201);
  expect(again.body).toEqual(expect.objectContaining({ id, userName: email, displayName: 'Erin', active: true }));
  expect((await admin('GET', `/v1/deletions/${wizard!.id}`)).body.status).toBe('CANCELLED');
  expect((await scim('GET', `/Users/${id}`)).body.active).toBe(true);
  expectScimError(await scim('POST', '/Users', { schemas: [SCIM.User], userName: email }), 409, 'uniqueness');
});

// Security probe 38 D1: userName lookups were Prisma's case-insensitive `equals`, run by PostgreSQL as
// ILIKE with `_` and `%` as wildcards. A filter on `m_brown` found `mxbrown`; `%` found everyone; and
// a new hire `m_brown` created after the leaver `mxbrown` was deleted got the leaver's account back.
test('a userName is one address, any case: `_` and `%` in a filter or a create match only themselves', async () => {
  const leaver = `mxbrown@${ws.slug}.test`;
  const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName: leaver, displayName: 'Max Brown', active: true });
  expect(created.status).toBe(201);
  for (const filter of [`userName eq "m_brown@${ws.slug}.test"`, 'userName eq "%"', `emails.value eq "mx%@${ws.slug}.test"`, `userName eq "_XBROWN@${ws.slug.toUpperCase()}.TEST"`]) {
    const r = await scim('GET', q(filter));
    expect({ filter, status: r.status, total: r.body.totalResults }).toEqual({ filter, status: 200, total: 0 });
  }
  const anyCase = await scim('GET', q(`userName eq "MXBrown@${ws.slug.toUpperCase()}.test"`));
  expect(anyCase.body.Resources.map((u: { id: string }) => u.id)).toEqual([created.body.id]);

  // Deactivated: a new hire whose address differs only where the leaver's had a `_` is someone else.
  expect((await scim('PATCH', `/Users/${created.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] })).status).toBe(200);
  const hire = `m_brown@${ws.slug}.test`;
  const hired = await scim('POST', '/Users', { schemas: [SCIM.User], userName: hire, displayName: 'Mia Brown', active: true });
  expect(hired.status).toBe(201);
  expect(hired.body.id).not.toBe(created.body.id);

  // Deleted: the leaver's account stays theirs (their wizard open), the next hire gets a new one.
  expect((await scim('DELETE', `/Users/${created.body.id}`)).status).toBe(204);
  const wizard = await openDeletionOf(created.body.id);
  expect(wizard?.source).toBe('IDP');
  const next = await scim('POST', '/Users', { schemas: [SCIM.User], userName: `mxbrow_@${ws.slug}.test`, displayName: 'Mo Brow', active: true });
  expect(next.status).toBe(201);
  expect(next.body.id).not.toBe(created.body.id);
  const leaverRow = await api.prisma.user.findUniqueOrThrow({ where: { id: created.body.id } });
  expect({ email: leaverRow.email, name: leaverRow.name, status: leaverRow.status }).toEqual({ email: leaver, name: 'Max Brown', status: 'PENDING_DELETION' });
  expect((await admin('GET', `/v1/deletions/${wizard!.id}`)).body.status).toBe('IN_PROGRESS');
});

test('deactivations and reactivations of one user sent at once: each is 200 (or 503, to send again), never refused, and the user ends as one of them left it', async () => {
  const email = `flapper@${ws.slug}.test`;
  const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, name: { formatted: 'Flap Per' }, active: true });
  expect(created.status).toBe(201);
  const id = created.body.id;
  const patch = (active: boolean) => scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active } }] });
  for (let round = 0; round < 3; round++) {
    const answers = await Promise.all([false, true, false, true, false, true, false, true].map(patch));
    for (const a of answers) if (a.status !== 200 && a.status !== 503) throw new Error(`round ${round}: ${a.status} ${a.text}`);
  }
  // Active with no open wizard, or inactive (being deleted) with exactly one.
  await eventually(async () => {
    const user = await api.prisma.user.findUniqueOrThrow({ where: { id } });
    const open = await api.prisma.deletion.count({ where: { userId: id, status: 'IN_PROGRESS' } });
    return (user.status === 'ACTIVE' && open === 0) || (user.status === 'PENDING_DELETION' && open === 1) ? true : undefined;
  }, 30_000, 'the user to be ACTIVE with no wizard, or being deleted with one');
  const read = await scim('GET', `/Users/${id}`);
  expect(read.body.active).toBe((await api.prisma.user.findUniqueOrThrow({ where: { id } })).status === 'ACTIVE');
}, 120_000);

test('a deactivation a rule refuses (the last owner) is 400 mutability and changes nothing', async () => {
  const r = await scim('PATCH', `/Users/${ws.users.owner!.id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  expectScimError(r, 400, 'mutability');
  expect((await admin('GET', `/v1/users/${ws.users.owner!.id}`)).body.status).toBe('ACTIVE');
  expect(await openDeletionOf(ws.users.owner!.id)).toBeNull();
});

test('a reactivation leaves alone a wizard an admin started without the IdP', async () => {
  const dora = await scim('POST', '/Users', { schemas: [SCIM.User], userName: `dora@${ws.slug}.test`, active: true });
  const started = await admin('POST', `/v1/users/${dora.body.id}/deletion`, {});
  expect(started.status).toBe(201);
  // A provider re-sending the whole profile with active: true does not undo the admin's wizard.
  const put = await scim('PUT', `/Users/${dora.body.id}`, { schemas: [SCIM.User], userName: `dora@${ws.slug}.test`, active: true });
  expect(put.status).toBe(200);
  expect(put.body.active).toBe(false);
  expect((await admin('GET', `/v1/deletions/${started.body.id}`)).body.status).toBe('IN_PROGRESS');
  // Nor does a PATCH of active: true; and a request that changes nothing leaves meta.lastModified (a probe saw it move).
  const before = (await scim('GET', `/Users/${dora.body.id}`)).body.meta.lastModified;
  await new Promise((resolve) => setTimeout(resolve, 20));
  const again = await scim('PATCH', `/Users/${dora.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] });
  expect(again.status).toBe(200);
  expect(again.body.active).toBe(false);
  expect(again.body.meta.lastModified).toBe(before);
  const same = await scim('PUT', `/Users/${dora.body.id}`, { schemas: [SCIM.User], userName: `dora@${ws.slug}.test`, active: true });
  expect(same.body.meta.lastModified).toBe(before);
  expect((await admin('GET', `/v1/deletions/${started.body.id}`)).body.status).toBe('IN_PROGRESS');
  // Once the IdP deactivates too, its reactivation cancels that wizard.
  const off = await scim('PATCH', `/Users/${dora.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
  expect(off.status).toBe(200);
  expect(await api.prisma.deletion.count({ where: { userId: dora.body.id } })).toBe(1);
  const on = await scim('PATCH', `/Users/${dora.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] });
  expect(on.body.active).toBe(true);
  expect((await admin('GET', `/v1/deletions/${started.body.id}`)).body.status).toBe('CANCELLED');
});

test('a deactivation joining an HR wizard that waits for a later date brings it forward: the user is being deleted now', async () => {
  const hal = await scim('POST', '/Users', { schemas: [SCIM.User], userName: `hal@${ws.slug}.test`, active: true });
  expect(hal.status).toBe(201);
  const { hookSecret, slug } = await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } });
  const raw = JSON.stringify({ email: `hal@${ws.slug}.test`, effectiveAt: new Date(Date.now() + 365 * 86_400_000).toISOString() });
  const hooked = await client(api.url)('POST', `/v1/hooks/${slug}/offboarding`, raw, { 'x-signature': signHookBody(hookSecret, raw) });
  expect(hooked.status).toBe(202);
  expect((await admin('GET', `/v1/users/${hal.body.id}`)).body.status).toBe('SUSPENDED');
  const off = await scim('PATCH', `/Users/${hal.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
  expect(off.status).toBe(200);
  await eventually(async () => ((await admin('GET', `/v1/users/${hal.body.id}`)).body.status === 'PENDING_DELETION' ? true : undefined), 20_000, 'the date brought forward');
  expect(await api.prisma.deletion.count({ where: { userId: hal.body.id } })).toBe(1);
  await cancelled(hooked.body.deletionId);
});

/** An admin's cancel as api.md tells a client to send it: on 503 (the wizard did not answer in 10 s), read, and send again if it did not apply. */
async function cancelled(deletionId: string): Promise<void> {
  for (let tries = 0; tries < 6; tries++) {
    const r = await admin('POST', `/v1/deletions/${deletionId}/cancel`, {});
    if (r.status === 200) return;
    if (r.status !== 503) throw new Error(`cancel: ${r.status} ${r.text}`);
    const read = await eventually(async () => {
      const d = await admin('GET', `/v1/deletions/${deletionId}`);
      return d.status === 200 ? d.body : undefined;
    });
    if (read.status === 'CANCELLED') return;
  }
  throw new Error('cancel: 503 six times');
}

test("an admin's cancel of the wizard a SCIM DELETE opened makes the user ACTIVE and seen again by the identity provider", async () => {
  // Found by the third contract audit: the user signed in again while SCIM answered 404 for good.
  const ida = await scim('POST', '/Users', { schemas: [SCIM.User], userName: `ida@${ws.slug}.test`, active: true });
  expect((await scim('DELETE', `/Users/${ida.body.id}`)).status).toBe(204);
  expect((await scim('GET', `/Users/${ida.body.id}`)).status).toBe(404);
  const d = await api.prisma.deletion.findFirstOrThrow({ where: { userId: ida.body.id, status: 'IN_PROGRESS' } });
  await cancelled(d.id);
  const back = await scim('GET', `/Users/${ida.body.id}`);
  expect(back.status).toBe(200);
  expect(back.body.active).toBe(true);
  // And the provider can deprovision them again.
  expect((await scim('DELETE', `/Users/${ida.body.id}`)).status).toBe(204);
  expect(await api.prisma.deletion.count({ where: { userId: ida.body.id, status: 'IN_PROGRESS' } })).toBe(1);
});

describe('discovery', () => {
  test('ServiceProviderConfig says what is served: PATCH and filter yes, bulk, sort, etag, password no', async () => {
    const r = await scim('GET', '/ServiceProviderConfig');
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/scim\+json/);
    expect(r.body).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      documentationUri: expect.any(String),
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: 200 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [expect.objectContaining({ type: 'oauthbearertoken', name: expect.any(String), description: expect.any(String) })],
      meta: { resourceType: 'ServiceProviderConfig', location: `${api.url}/scim/v2/ServiceProviderConfig` },
    });
    expect(ScimServiceProviderConfig.safeParse(r.body).success).toBe(true);
    // maxResults is what a page holds at most.
    const many = await scim('GET', '/Users?count=100000');
    expect(many.body.itemsPerPage).toBeLessThanOrEqual(200);
  });

  test('ResourceTypes lists User only, at an endpoint that is served; no Groups', async () => {
    const r = await scim('GET', '/ResourceTypes');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      schemas: [SCIM.ListResponse],
      totalResults: 1,
      startIndex: 1,
      itemsPerPage: 1,
      Resources: [
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
          id: 'User',
          name: 'User',
          endpoint: '/Users',
          description: expect.any(String),
          schema: SCIM.User,
          meta: { resourceType: 'ResourceType', location: `${api.url}/scim/v2/ResourceTypes/User` },
        },
      ],
    });
    expect(scimListOf(ScimResourceType).safeParse(r.body).success).toBe(true);
    expect((await scim('GET', '/ResourceTypes/User')).body).toEqual(r.body.Resources[0]);
    expect((await scim('GET', r.body.Resources[0].endpoint)).status).toBe(200);
    expectScimError(await scim('GET', '/ResourceTypes/Group'), 404);
    expectScimError(await scim('GET', '/Groups'), 404);
  });

  test('Schemas describes exactly the attributes a served User carries', async () => {
    const r = await scim('GET', '/Schemas');
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.ListResponse], totalResults: 1 }));
    const schema = r.body.Resources[0];
    expect(schema).toEqual(
      expect.objectContaining({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
        id: SCIM.User,
        name: 'User',
        meta: { resourceType: 'Schema', location: `${api.url}/scim/v2/Schemas/${SCIM.User}` },
      }),
    );
    expect(scimListOf(ScimSchemaDefinition).safeParse(r.body).success).toBe(true);
    expect((await scim('GET', `/Schemas/${SCIM.User}`)).body).toEqual(schema);
    const check = (attr: any) => {
      expect(attr).toEqual(
        expect.objectContaining({
          name: expect.any(String),
          type: expect.stringMatching(/^(string|boolean|complex)$/),
          multiValued: expect.any(Boolean),
          description: expect.any(String),
          required: expect.any(Boolean),
          mutability: expect.stringMatching(/^(readOnly|readWrite|immutable|writeOnly)$/),
          returned: expect.stringMatching(/^(always|never|default|request)$/),
        }),
      );
      if (attr.type === 'complex') expect(attr.subAttributes.length).toBeGreaterThan(0);
      (attr.subAttributes ?? []).forEach(check);
    };
    schema.attributes.forEach(check);

    // A served user: its attributes (besides the common id, externalId, meta) are the schema's, sub-attributes too.
    const user = (await scim('GET', `/Users/${ws.users.heir!.id}`)).body;
    expect(ScimUser.safeParse(user).success).toBe(true);
    expect(scimListOf(ScimUser).safeParse((await scim('GET', '/Users?count=5')).body).success).toBe(true);
    const own = Object.keys(user).filter((k) => !['schemas', 'id', 'externalId', 'meta'].includes(k));
    expect(schema.attributes.map((a: any) => a.name).sort()).toEqual(own.sort());
    for (const attr of schema.attributes.filter((a: any) => a.type === 'complex')) {
      const value = attr.multiValued ? user[attr.name][0] : user[attr.name];
      expect({ attr: attr.name, subs: attr.subAttributes.map((s: any) => s.name).sort() }).toEqual({ attr: attr.name, subs: Object.keys(value).sort() });
    }
  });
});

test('paging with startIndex and count walks every user once, in order', async () => {
  const pagedWs = await makeWorkspace(api.prisma, {});
  const paged = scimClient(api.url, await createScimToken(api.prisma, pagedWs.id));
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await paged('POST', '/Users', { schemas: [SCIM.User], userName: `p${i}@${pagedWs.slug}.test`, active: true });
    expect(r.status).toBe(201);
    ids.push(r.body.id);
  }
  const seen: string[] = [];
  for (const [startIndex, expected] of [[1, 2], [3, 2], [5, 1], [6, 0]] as const) {
    const r = await paged('GET', `/Users?startIndex=${startIndex}&count=2`);
    expect(r.body).toEqual(expect.objectContaining({ totalResults: 5, startIndex, itemsPerPage: expected }));
    seen.push(...r.body.Resources.map((u: { id: string }) => u.id));
  }
  expect(seen).toEqual(ids);
  expect((await paged('GET', '/Users?count=0')).body).toEqual(expect.objectContaining({ totalResults: 5, itemsPerPage: 0, Resources: [] }));
  // startIndex below 1 reads as 1 (RFC 7644 §3.4.2.4).
  expect((await paged('GET', '/Users?startIndex=0&count=1')).body.Resources[0].id).toBe(ids[0]);
  // A blank count or startIndex is not given: the default, never 0 (found by the third contract audit).
  expect((await paged('GET', '/Users?count=&startIndex=')).body).toEqual(expect.objectContaining({ totalResults: 5, startIndex: 1, itemsPerPage: 5 }));
  // A number written in decimal digits (a sign allowed), nothing else Number() reads (was: 0x10 read as 16, 1e2 as 100).
  expect((await paged('GET', '/Users?startIndex=-3&count=1')).body.Resources[0].id).toBe(ids[0]);
  for (const query of ['startIndex=0x10', 'count=1e2', 'count=%202', 'count=2.0', 'startIndex=1_0']) {
    const r = await paged('GET', `/Users?${query}`);
    expect({ query, status: r.status }).toEqual({ query, status: 400 });
    expectScimError(r, 400, 'invalidValue');
  }
});

test('/Me is 501 (not served, RFC 7644 §3.11); a served path asked with another method is 405 with Allow; an unknown path 404', async () => {
  // Found by the third contract audit: all three answered 404.
  expectScimError(await scim('GET', '/Me'), 501);
  expectScimError(await scim('PATCH', '/Me', { schemas: [PATCH_OP], Operations: [] }), 501);
  for (const [method, path, allow] of [
    ['DELETE', '/Users', 'GET, HEAD, POST'],
    ['PUT', '/ServiceProviderConfig', 'GET, HEAD'],
    ['POST', '/Users/some-id', 'DELETE, GET, HEAD, PATCH, PUT'],
  ] as const) {
    const r = await scim(method, path, method === 'DELETE' ? undefined : {});
    expectScimError(r, 405);
    expect(r.headers.get('allow')).toBe(allow);
  }
  expectScimError(await scim('GET', '/Groups'), 404);
});

test('a filter we do not serve is 400 invalidFilter', async () => {
  for (const filter of [
    'userName sw "a"',
    'userName eq "a" or userName eq "b"',
    'title eq "Boss"',
    'not (userName eq "a")',
    'userName pr',
    'userName eq',
    'emails[value co "x"].value eq "y"',
    'active eq true',
  ]) {
    const r = await scim('GET', q(filter));
    expect({ filter, status: r.status }).toEqual({ filter, status: 400 });
    expectScimError(r, 400, 'invalidFilter');
  }
});

test('malformed bodies are SCIM 400s and change nothing', async () => {
  expectScimError(await scim('POST', '/Users', '{"userName":'), 400, 'invalidSyntax');
  expectScimError(await scim('POST', '/Users', { schemas: [SCIM.User] }), 400, 'invalidValue');
  expectScimError(await scim('POST', '/Users', { userName: 'not an email' }), 400, 'invalidValue');
  expectScimError(await scim('POST', '/Users', { userName: `x@${ws.slug}.test`, displayName: '\ud800' }), 400, 'invalidValue');
  const id = ws.users.heir!.id;
  expectScimError(await scim('PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', path: 'active', value: false }] }), 400, 'invalidSyntax');
  expectScimError(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'explode', path: 'active' }] }), 400, 'invalidSyntax');
  expectScimError(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] }), 400, 'invalidValue');
  expect((await admin('GET', `/v1/users/${id}`)).body.status).toBe('ACTIVE');
  expect(await api.prisma.user.count({ where: { workspaceId: ws.id, email: `x@${ws.slug}.test` } })).toBe(0);
});

test('tokens: none or a bad one is 401; a user token cannot use /scim/v2, a SCIM token cannot use /v1', async () => {
  expectScimError(await scimClient(api.url, undefined)('GET', '/Users'), 401);
  expectScimError(await scimClient(api.url, 'crm_scim_not-a-token')('GET', '/Users'), 401);
  expectScimError(await scimClient(api.url, undefined)('GET', '/ServiceProviderConfig'), 401);
  const ownerToken = await tokenOf(api.prisma, ws, 'owner');
  expect((await client(api.url, ownerToken)('GET', '/v1/users')).status).toBe(200);
  expectScimError(await scimClient(api.url, ownerToken)('GET', '/Users'), 401);
  expectScimError(await scimClient(api.url, ownerToken)('PATCH', `/Users/${ws.users.heir!.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }), 401);
  const asScim = await client(api.url, scimToken)('GET', '/v1/users');
  expect(asScim.status).toBe(401);
  expect((await client(api.url, scimToken)('POST', `/v1/users/${ws.users.heir!.id}/deletion`, {})).status).toBe(401);
  expect((await admin('GET', `/v1/users/${ws.users.heir!.id}`)).body.status).toBe('ACTIVE');
});

test("another workspace's user is 404 to SCIM, and nothing changes", async () => {
  const stranger = other.users.stranger!.id;
  expectScimError(await scim('GET', `/Users/${stranger}`), 404);
  expectScimError(await scim('PATCH', `/Users/${stranger}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }), 404);
  expectScimError(await scim('PUT', `/Users/${stranger}`, { userName: `stranger@${other.slug}.test`, active: false }), 404);
  expectScimError(await scim('DELETE', `/Users/${stranger}`), 404);
  expectScimError(await scim('GET', '/Users/no-such-user'), 404);
  expect((await scim('GET', q(`userName eq "stranger@${other.slug}.test"`))).body.totalResults).toBe(0);
  const own = await otherScim('GET', `/Users/${stranger}`);
  expect(own.body).toEqual(expect.objectContaining({ id: stranger, active: true }));
  expect(await api.prisma.deletion.count({ where: { userId: stranger } })).toBe(0);
});

test('deactivations over SCIM are counted in crm_hr_offboardings_received_total{source="scim"} by result', async () => {
  const offboardings = async (): Promise<Record<string, number>> => {
    const res = await fetch(`${api.url}/metrics`);
    expect(res.status).toBe(200);
    const family = parse(await res.text()).find((f) => f.name === 'crm_hr_offboardings_received_total');
    const counts: Record<string, number> = {};
    for (const m of family?.metrics ?? []) {
      if (m.labels?.source === 'scim') counts[m.labels.result!] = Number(m.value);
    }
    return counts;
  };
  const make = async (handle: string) => (await scim('POST', '/Users', { userName: `${handle}@${ws.slug}.test`, active: true })).body.id as string;
  const [patched, put, deleted, renamed] = [await make('metric-patch'), await make('metric-put'), await make('metric-delete'), await make('metric-rename')];
  const before = await offboardings();

  expect((await scim('PATCH', `/Users/${patched}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })).status).toBe(200);
  expect((await scim('PUT', `/Users/${put}`, { userName: `metric-put@${ws.slug}.test`, active: false })).status).toBe(200);
  expect((await scim('DELETE', `/Users/${deleted}`)).status).toBe(204);
  expectScimError(await scim('DELETE', '/Users/no-such-user'), 404);
  expectScimError(await scim('PATCH', '/Users/no-such-user', { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }), 404);
  expectScimError(await scim('PATCH', `/Users/${ws.users.owner!.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }), 400, 'mutability');
  // No deactivation: not an offboarding.
  expect((await scim('PATCH', `/Users/${renamed}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Renamed' }] })).status).toBe(200);
  expect((await scim('GET', `/Users/${renamed}`)).status).toBe(200);

  const after = await offboardings();
  const delta = (result: string) => (after[result] ?? 0) - (before[result] ?? 0);
  expect({ accepted: delta('accepted'), unknown_user: delta('unknown_user'), refused: delta('refused'), unauthorized: delta('unauthorized'), error: delta('error') }).toEqual({
    accepted: 3,
    unknown_user: 2,
    refused: 1,
    unauthorized: 0,
    error: 0,
  });
});

describe('what the database cannot hold, and arbitrary input', () => {
  test('an id with NUL is a SCIM 404 on GET, PUT, PATCH and DELETE (no such user can exist), and nothing changes', async () => {
    for (const id of ['%00', 'a%00b', `${ws.users.heir!.id}%00`]) {
      expectScimError(await scim('GET', `/Users/${id}`), 404);
      expectScimError(await scim('PUT', `/Users/${id}`, { userName: `heir@${ws.slug}.test`, active: false }), 404);
      expectScimError(await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }), 404);
      expectScimError(await scim('DELETE', `/Users/${id}`), 404);
    }
    expect(await openDeletionOf(ws.users.heir!.id)).toBeNull();
  });

  test('text PostgreSQL cannot store is refused by the one Text rule of domain/schemas.ts, naming the field', async () => {
    for (const [field, body] of [
      ['displayName', { userName: `nul@${ws.slug}.test`, displayName: 'a\u0000b' }],
      ['name.givenName', { userName: `nul@${ws.slug}.test`, name: { givenName: '\udc00' } }],
      ['externalId', { userName: `nul@${ws.slug}.test`, externalId: 'x\u0000' }],
    ] as const) {
      const r = await scim('POST', '/Users', body);
      expectScimError(r, 400, 'invalidValue');
      expect(r.body.detail).toContain(`${field}: ${TEXT_MESSAGE}`);
    }
    expect(await api.prisma.user.count({ where: { workspaceId: ws.id, email: `nul@${ws.slug}.test` } })).toBe(0);
  });

  test('a URL under /scim/v2 that does not decode is a SCIM error (404: no user has such an id), not the v1 problem', async () => {
    for (const p of ['/Users/%ED%A0%80', '/Users/%E0%A4%A', '/Users/%zz']) {
      const r = await scim('GET', p);
      expectScimError(r, 404);
      // Said without echoing what the path was read as (was: User "\u0000" not found, which nobody sent).
      expect(r.body.detail).not.toContain('\\u0000');
    }
    expectScimError(await scim('DELETE', '/Users/%ED%A0%80'), 404);
    // /v1 keeps its own error format.
    expect((await admin('GET', '/v1/users/%ED%A0%80')).contentType).toMatch(/^application\/problem\+json/);
  });

  test('arbitrary strings in the id, the filter and the body fields never give a 5xx; every refusal is a SCIM error', async () => {
    const victim = (await scim('POST', '/Users', { userName: `fuzzed@${ws.slug}.test`, displayName: 'Fuzzed' })).body.id as string;
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udc00x', 'x'.repeat(600), 'active', 'emails[type eq "work"].value', 'name.givenName', `fuzzed@${ws.slug}.test`),
    );
    const value = fc.oneof(text, fc.jsonValue({ maxDepth: 3 }));
    const userBody = fc.dictionary(
      fc.oneof(fc.constantFrom('schemas', 'userName', 'externalId', 'displayName', 'name', 'emails', 'active', 'id', 'meta'), text),
      fc.oneof(value, fc.dictionary(fc.constantFrom('formatted', 'givenName', 'familyName', 'value', 'type', 'primary'), value, { maxKeys: 3 }), fc.array(fc.dictionary(fc.constantFrom('value', 'type', 'primary'), value, { maxKeys: 3 }), { maxLength: 2 })),
      { maxKeys: 5 },
    );
    const patchBody = fc.record({
      schemas: fc.oneof(fc.constant([PATCH_OP]), fc.array(text, { maxLength: 2 })),
      Operations: fc.array(fc.record({ op: fc.oneof(fc.constantFrom('add', 'replace', 'remove', 'Replace'), text), path: fc.option(text, { nil: undefined }), value: fc.option(fc.oneof(value, userBody), { nil: undefined }) }, { requiredKeys: ['op'] }), { maxLength: 3 }),
    });
    const encode = (s: string) => {
      try {
        return encodeURIComponent(s);
      } catch {
        return '%ED%A0%80';
      }
    };
    const request = fc.oneof(
      fc.record({ method: fc.constant('GET'), path: text.map((f) => `/Users?filter=${encode(f)}`), body: fc.constant(undefined) }),
      fc.record({ method: fc.constant('POST'), path: fc.constant('/Users'), body: userBody as fc.Arbitrary<unknown> }),
      fc.record({
        method: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'),
        path: fc.oneof(text.map((id) => `/Users/${encode(id) || 'x'}`), fc.constant(`/Users/${victim}`)),
        body: fc.oneof(userBody, patchBody, text) as fc.Arbitrary<unknown>,
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ method, path, body }) => {
        const sent = method === 'GET' || method === 'DELETE' ? undefined : body;
        const r = await scim(method, path, sent);
        const what = `${method} ${path} ${JSON.stringify(sent)?.slice(0, 300)} -> ${r.status} ${r.text.slice(0, 300)}`;
        if (r.status >= 500) throw new Error(`5xx: ${what}`);
        if (r.status >= 400) {
          if (!/^application\/scim\+json/.test(r.contentType)) throw new Error(`not a SCIM error: ${what}`);
          expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: String(r.status), detail: expect.any(String) }));
        }
      }),
      { numRuns: 200, seed: Number(process.env.FUZZ_SEED ?? 20261130) },
    );
  }, 120_000);
});

test('npm run scim-token and hook-secret --standard print working secrets on their last line', async () => {
  const run = (script: string, ...args: string[]) => {
    const out = execFileSync(process.execPath, [path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs'), script, ...args], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: testEnv().databaseUrl },
      encoding: 'utf8',
    });
    return out.trim().split('\n').at(-1)!;
  };
  const token = run('scripts/scim-token.ts', '--workspace', other.slug);
  expect(token).toMatch(/^crm_scim_/);
  expect((await scimClient(api.url, token)('GET', `/Users/${other.users.stranger!.id}`)).status).toBe(200);
  expect(await api.prisma.scimToken.count({ where: { tokenHash: token } })).toBe(0); // stored hashed

  const whsec = run('scripts/hook-secret.ts', '--workspace', other.slug, '--standard');
  expect(whsec).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
  expect(run('scripts/hook-secret.ts', '--workspace', other.slug, '--standard')).toBe(whsec);
  const raw = JSON.stringify({ email: `nobody@${other.slug}.test` });
  const r = await client(api.url)('POST', `/v1/hooks/${other.slug}/offboarding`, raw, signStandard(whsec, 'msg_cli', raw));
  expect(r.status).toBe(404); // signed well: past the 401, and nobody has that email
}, 120_000);
