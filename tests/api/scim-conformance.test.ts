// SCIM 2.0 conformance probes at /scim/v2: what RFC 7643/7644 require beyond
// the provider flows of scim.test.ts (attribute names in any case, PATCH
// remove, the scim+json media type with parameters, attributes and
// excludedAttributes), against the real server, Temporal and database.
import { createScimToken } from '../../api/scim/auth';
import { SCIM } from '../../domain/scim';
import { makeWorkspace, type TestWorkspace } from '../support/wizard';
import { client, startTestApi, tokenOf, type Call, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let admin: Call;
let scim: Call;

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

function scimClient(url: string, token: string): Call {
  const call = client(url, token);
  return (method, path, body, headers = {}) =>
    call(method, `/scim/v2${path}`, body, body === undefined ? headers : { 'content-type': 'application/scim+json', ...headers });
}

async function openDeletionOf(userId: string) {
  return api.prisma.deletion.findFirst({ where: { userId, status: 'IN_PROGRESS' } });
}

let n = 0;
async function newUser(extra: Record<string, unknown> = {}): Promise<{ id: string; email: string; body: any }> {
  const email = `conf${n++}@${ws.slug}.test`;
  const r = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, displayName: 'Conf User', active: true, ...extra });
  expect(r.status).toBe(201);
  return { id: r.body.id, email, body: r.body };
}

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', heir: 'MEMBER' });
  admin = client(api.url, await tokenOf(api.prisma, ws, 'admin'));
  scim = scimClient(api.url, await createScimToken(api.prisma, ws.id));
});
afterAll(async () => {
  await api?.close();
});

// RFC 7643 §2.1: "Attribute names are case insensitive".
describe('attribute names are case-insensitive', () => {
  test('PATCH path "Active" deactivates (wizard open, user frozen), as "active" does', async () => {
    const { id } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'Active', value: 'False' }] });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    expect(r.body).not.toHaveProperty('Active');
    expect((await openDeletionOf(id))?.source).toBe('IDP');
    expect((await admin('GET', `/v1/users/${id}`)).body.status).toBe('PENDING_DELETION');
  });

  test('a path-less PATCH with {"Active": false} deactivates', async () => {
    const { id } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { Active: false } }] });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    expect((await openDeletionOf(id))?.source).toBe('IDP');
  });

  test('PATCH path "DisplayName" renames the user', async () => {
    const { id } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'DisplayName', value: 'Renamed' }] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expect.objectContaining({ displayName: 'Renamed', name: { formatted: 'Renamed' } }));
    expect(r.body).not.toHaveProperty('DisplayName');
  });

  test('a path-less PATCH with {"Name": {"Formatted": ...}} renames the user (sub-attribute names too)', async () => {
    const { id } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, { Schemas: [PATCH_OP], operations: [{ OP: 'Replace', Value: { Name: { Formatted: 'Sub Case' } } }] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expect.objectContaining({ displayName: 'Sub Case', name: { formatted: 'Sub Case' } }));
  });

  test('POST with "UserName"/"DisplayName"/"ExternalId" creates the user as the lower-case names would', async () => {
    const email = `upper@${ws.slug}.test`;
    const r = await scim('POST', '/Users', { Schemas: [SCIM.User], UserName: email, DisplayName: 'Up Per', ExternalId: 'ext-up', Active: true });
    expect(r.status).toBe(201);
    expect(r.body).toEqual(expect.objectContaining({ userName: email, displayName: 'Up Per', externalId: 'ext-up', active: true }));
  });

  test('PUT with "Active": false deactivates', async () => {
    const { id, email } = await newUser();
    const r = await scim('PUT', `/Users/${id}`, { schemas: [SCIM.User], userName: email, Active: false });
    expect(r.status).toBe(200);
    expect(r.body.active).toBe(false);
    expect((await openDeletionOf(id))?.source).toBe('IDP');
  });
});

// RFC 7644 §3.5.2.2: remove of a single-valued attribute leaves it unassigned.
test('PATCH remove externalId unassigns it', async () => {
  const { id } = await newUser({ externalId: 'to-remove' });
  const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'externalId' }] });
  expect(r.status).toBe(200);
  expect(r.body).not.toHaveProperty('externalId');
  expect((await scim('GET', `/Users/${id}`)).body).not.toHaveProperty('externalId');
  expect((await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "to-remove"')}`)).body.totalResults).toBe(0);
});

// RFC 7644 §3.1 / §8.1: application/scim+json, which clients send with a charset parameter too.
test('a body sent as "application/scim+json; charset=utf-8" is read', async () => {
  const email = `charset@${ws.slug}.test`;
  const r = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, active: true }, { 'content-type': 'application/scim+json; charset=utf-8' });
  expect(r.status).toBe(201);
  expect(r.body.userName).toBe(email);
});

// RFC 7643 §2.4 (`returned`), RFC 7644 §3.4.2.5 and §3.9.
describe('attributes and excludedAttributes', () => {
  test('attributes=userName returns id and userName (and schemas), nothing else, on GET by id and in a list', async () => {
    const { id, email } = await newUser({ externalId: 'ext-attr' });
    const one = await scim('GET', `/Users/${id}?attributes=userName`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ schemas: [SCIM.User], id, userName: email });
    const list = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&attributes=UserName,name.formatted`);
    expect(list.body.Resources).toEqual([{ schemas: [SCIM.User], id, userName: email, name: { formatted: 'Conf User' } }]);
  });

  test('excludedAttributes=emails,meta drops those and keeps the rest; id cannot be excluded', async () => {
    const { id, body } = await newUser();
    const r = await scim('GET', `/Users/${id}?excludedAttributes=emails,meta,id`);
    expect(r.status).toBe(200);
    const { emails: _e, meta: _m, ...rest } = body;
    expect(r.body).toEqual(rest);
  });
});

// What Entra sends for attributes this service does not keep or derives
// (shapes from AzureAD/SCIMReferenceCode#87 and scim-patch#453): a remove
// with a value, filters on attributes the user has no value of. They change
// nothing here and must not fail the whole PATCH (Entra would retry it and
// quarantine the app).
test('Entra removes on emails, phoneNumbers and manager are accepted and change nothing; an active change beside them applies', async () => {
  const { id, email, body } = await newUser({ externalId: 'entra-rm' });
  const r = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [
      { op: 'Remove', path: 'emails[type eq "work"].value', value: 'other@example.org' },
      { op: 'Remove', path: 'phoneNumbers[type eq "work"]' },
      { op: 'Remove', path: 'manager[value eq "manager-id"]' },
      { op: 'Remove', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager' },
      { op: 'Replace', path: 'title', value: 'Rep' },
    ],
  });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ ...body, meta: expect.objectContaining({ location: body.meta.location }) });
  const off = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [
      { op: 'Remove', path: 'phoneNumbers[type eq "mobile"]' },
      { op: 'Replace', path: 'active', value: 'False' },
    ],
  });
  expect(off.status).toBe(200);
  expect(off.body).toEqual(expect.objectContaining({ userName: email, active: false }));
  expect((await openDeletionOf(id))?.source).toBe('IDP');
});

// RFC 6750 §3 (bearer tokens, which RFC 7644 §2 uses): a 401 names the scheme.
test('a 401 carries WWW-Authenticate: Bearer and the SCIM error body', async () => {
  for (const authorization of [undefined, 'Bearer crm_scim_nope']) {
    const r = await client(api.url)('GET', '/scim/v2/Users', undefined, authorization ? { authorization } : {});
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '401' }));
  }
});

// RFC 7644 §3.12: errors in the SCIM error schema, also the ones Node gives before any route (a URL over 16 KB).
test('a URL too long for the server (a 20 KB filter) is 431 in the SCIM error schema under /scim/v2, problem+json elsewhere', async () => {
  const scimAnswer = await fetch(`${api.url}/scim/v2/Users?filter=${'a'.repeat(20_000)}`);
  expect(scimAnswer.status).toBe(431);
  expect(scimAnswer.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  expect(await scimAnswer.json()).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '431' }));
  const v1 = await fetch(`${api.url}/v1/users?x=${'a'.repeat(20_000)}`);
  expect(v1.status).toBe(431);
  expect(v1.headers.get('content-type')).toMatch(/^application\/problem\+json/);
});

test('a filter with "+" for spaces (form encoding) finds the user', async () => {
  const { id, email } = await newUser();
  const r = await scim('GET', `/Users?filter=userName+eq+%22${encodeURIComponent(email)}%22&startIndex=1&count=100`);
  expect(r.status).toBe(200);
  expect(r.body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);
});

// RFC 7644 §3.5.2 / §3.12: a PATCH or PUT to a userName another user holds is 409 uniqueness and changes nothing.
test('PATCH or PUT of userName to a taken one is 409 uniqueness and changes nothing', async () => {
  const a = await newUser();
  const b = await newUser();
  const patch = await scim('PATCH', `/Users/${b.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'userName', value: a.email.toUpperCase() }] });
  expect(patch.status).toBe(409);
  expect(patch.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '409', scimType: 'uniqueness' }));
  const put = await scim('PUT', `/Users/${b.id}`, { schemas: [SCIM.User], userName: a.email, active: true });
  expect(put.status).toBe(409);
  expect((await scim('GET', `/Users/${b.id}`)).body.userName).toBe(b.email);
});

// RFC 7644 §3.4.3: a query sent as POST {resource}/.search with a SearchRequest body.
test('POST /Users/.search answers as GET /Users does, with filter, paging and attributes from the body', async () => {
  const { id, email } = await newUser();
  const r = await scim('POST', '/Users/.search', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
    filter: `userName eq "${email}"`,
    startIndex: 1,
    count: 10,
    attributes: ['userName'],
  });
  expect(r.status).toBe(200);
  expect(r.contentType).toMatch(/^application\/scim\+json/);
  expect(r.body).toEqual({ schemas: [SCIM.ListResponse], totalResults: 1, startIndex: 1, itemsPerPage: 1, Resources: [{ schemas: [SCIM.User], id, userName: email }] });
  const bad = await scim('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName sw "x"' });
  expect(bad.status).toBe(400);
  expect(bad.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '400', scimType: 'invalidFilter' }));
});

test('POST /Users/.search with a member of the wrong type is 400 invalidValue naming it, not read as absent', async () => {
  // Found by a probe of the OpenAPI document: these answered 200, the value silently ignored.
  const cases: [Record<string, unknown>, string][] = [
    [{ attributes: 5 }, 'attributes'],
    [{ attributes: ['userName', 5] }, 'attributes'],
    [{ excludedAttributes: {} }, 'excludedAttributes'],
    [{ sortBy: 5 }, 'sortBy'],
    [{ schemas: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest' }, 'schemas'],
    [{ Filter: 5 }, 'filter'],
    [{ count: 'ten' }, 'count'],
  ];
  for (const [body, member] of cases) {
    const r = await scim('POST', '/Users/.search', body);
    expect({ body, status: r.status, scimType: r.body.scimType }).toEqual({ body, status: 400, scimType: 'invalidValue' });
    expect({ body, detail: r.body.detail }).toEqual({ body, detail: expect.stringContaining(member) });
  }
  // A filter of the right type but too long says so (security probe 38: it said "must be a filter string").
  const long = await scim('POST', '/Users/.search', { filter: `userName eq "${'a'.repeat(4_000)}@x.test"` });
  expect({ status: long.status, scimType: long.body.scimType }).toEqual({ status: 400, scimType: 'invalidValue' });
  expect(long.body.detail).toMatch(/filter/);
  expect(long.body.detail).toBe("The SearchRequest's filter is longer than the 2,000 characters a filter may have.");
  expect(long.body.detail).not.toMatch(/must be a filter string/);
  // What a client may send stays read: numbers as JSON numbers or their digits, lists or comma lists.
  const ok = await scim('POST', '/Users/.search', { startIndex: '1', count: 2, attributes: 'userName', excludedAttributes: ['meta'] });
  expect(ok.status).toBe(200);
});

// api.md: `name.formatted` and `displayName` are both the user's one name; a
// PATCH that replaces either (Entra's name.formatted) renames the user, as PUT does, instead of answering 200 with the old name.
test('PATCH of name.formatted, or of the given and family name together, renames the user; displayName changed beside it wins', async () => {
  const { id } = await newUser();
  const formatted = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'name.formatted', value: 'Nora Formatted' }] });
  expect(formatted.status).toBe(200);
  expect(formatted.body).toEqual(expect.objectContaining({ displayName: 'Nora Formatted', name: { formatted: 'Nora Formatted' } }));
  expect((await admin('GET', `/v1/users/${id}`)).body.name).toBe('Nora Formatted');
  // A given and a family name together (no formatted name, no displayName) are the new name, as
  // in POST and PUT: the CRM keeps one name, and the provider renamed the person (was: 200, the old name).
  const whole = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'name', value: { givenName: 'Gina', familyName: 'Fox' } }] });
  expect(whole.body).toEqual(expect.objectContaining({ displayName: 'Gina Fox', name: { formatted: 'Gina Fox' } }));
  expect((await admin('GET', `/v1/users/${id}`)).body.name).toBe('Gina Fox');
  // OneLogin's shape (no path), and the two parts as operations of their own (Entra's mapping).
  const pathless = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { name: { givenName: 'Hal', familyName: 'Hart' } } }] });
  expect(pathless.body).toEqual(expect.objectContaining({ displayName: 'Hal Hart', name: { formatted: 'Hal Hart' } }));
  const parts = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Replace', path: 'name.givenName', value: 'Ida' }, { op: 'Replace', path: 'name.familyName', value: 'Ives' }],
  });
  expect(parts.body).toEqual(expect.objectContaining({ displayName: 'Ida Ives', name: { formatted: 'Ida Ives' } }));
  // One part alone cannot be placed in a name kept whole: accepted, and the name stays.
  const one = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'name.familyName', value: 'Jones' }] });
  expect(one.status).toBe(200);
  expect(one.body).toEqual(expect.objectContaining({ displayName: 'Ida Ives', name: { formatted: 'Ida Ives' } }));
  // A formatted name beside the parts is the name.
  const withFormatted = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', path: 'name', value: { formatted: 'Nora Formatted', givenName: 'X', familyName: 'Y' } }],
  });
  expect(withFormatted.body).toEqual(expect.objectContaining({ displayName: 'Nora Formatted', name: { formatted: 'Nora Formatted' } }));
  // Also when it is the name the user has (a provider sending the whole name with each update, its
  // parts in another order): the parts do not rename them.
  const sameFormatted = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', value: { name: { formatted: 'Nora Formatted', givenName: 'Formatted', familyName: 'Nora' } } }],
  });
  expect(sameFormatted.body).toEqual(expect.objectContaining({ displayName: 'Nora Formatted', name: { formatted: 'Nora Formatted' } }));
  // displayName changed beside it wins, as in PUT.
  const both = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'replace', path: 'name.formatted', value: 'Ignored' }, { op: 'replace', path: 'displayName', value: 'Dee Display' }],
  });
  expect(both.body).toEqual(expect.objectContaining({ displayName: 'Dee Display', name: { formatted: 'Dee Display' } }));
});

// api.md: no request ever answers 500 because of what the client sent. A
// value nested 20,000 deep (a few tens of KB of JSON) is read by JSON.parse;
// nothing here may recurse over it.
describe('a deeply nested value is a 2xx or 4xx, never a 5xx', () => {
  const DEPTH = 20_000;
  const deepArray = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
  const deepObject = '{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH);

  test('in POST, PUT and PATCH (arrays and objects, under kept and unkept attributes)', async () => {
    const { id, email } = await newUser();
    const bodies: [string, string, string][] = [];
    for (const deep of [deepArray, deepObject]) {
      bodies.push(
        ['POST', '/Users', `{"schemas":["${SCIM.User}"],"userName":"deep${bodies.length}@${ws.slug}.test","title":${deep}}`],
        ['POST', '/Users', `{"schemas":["${SCIM.User}"],"userName":"deepn${bodies.length}@${ws.slug}.test","name":{"givenName":${deep}}}`],
        ['PUT', `/Users/${id}`, `{"schemas":["${SCIM.User}"],"userName":"${email}","title":${deep}}`],
        ['PUT', `/Users/${id}`, `{"schemas":["${SCIM.User}"],"userName":"${email}","displayName":${deep}}`],
        ['PATCH', `/Users/${id}`, `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"title","value":${deep}}]}`],
        ['PATCH', `/Users/${id}`, `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","value":{"title":${deep}}}]}`],
        ['PATCH', `/Users/${id}`, `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"replace","path":"displayName","value":${deep}}]}`],
        ['PATCH', `/Users/${id}`, `{"schemas":["${PATCH_OP}"],"Operations":[{"op":"add","path":"name","value":{"givenName":${deep}}}]}`],
      );
    }
    for (const [method, path, body] of bodies) {
      const r = await scim(method as 'POST', path, body);
      expect([method, path, body.slice(0, 120), r.status < 500]).toEqual([method, path, body.slice(0, 120), true]);
    }
    expect((await scim('GET', `/Users/${id}`)).body.userName).toBe(email);
  });
});

// RFC 7644 §3.5.2: a PATCH that names displayName keeps it, even when it is
// the current name and name.formatted changes beside it (as PUT does).
test('PATCH that sets displayName to the current name beside a new name.formatted keeps displayName', async () => {
  const { id } = await newUser({ displayName: 'Old Name' });
  const r = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH_OP],
    Operations: [
      { op: 'replace', path: 'DisplayName', value: 'Old Name' },
      { op: 'replace', path: 'name.formatted', value: 'X Other' },
    ],
  });
  expect(r.status).toBe(200);
  expect(r.body).toEqual(expect.objectContaining({ displayName: 'Old Name', name: { formatted: 'Old Name' } }));
  expect((await admin('GET', `/v1/users/${id}`)).body.name).toBe('Old Name');
});

// RFC 7643 §2.1: a SearchRequest's attribute names are case-insensitive too.
test('POST /Users/.search reads "Filter", "Count" and "Attributes" in any case', async () => {
  const { id, email } = await newUser();
  await newUser();
  const r = await scim('POST', '/Users/.search', {
    Schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'],
    Filter: `userName eq "${email}"`,
    StartIndex: 1,
    COUNT: 5,
    Attributes: ['userName'],
  });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ schemas: [SCIM.ListResponse], totalResults: 1, startIndex: 1, itemsPerPage: 1, Resources: [{ schemas: [SCIM.User], id, userName: email }] });
  const excluded = await scim('POST', '/Users/.search', { FILTER: `userName eq "${email}"`, ExcludedAttributes: 'meta,emails' });
  expect(excluded.body.Resources).toHaveLength(1);
  expect(excluded.body.Resources[0]).not.toHaveProperty('meta');
  expect(excluded.body.Resources[0]).not.toHaveProperty('emails');
});

// RFC 7644 §3.5.2: a path that does not parse is 400 invalidPath; an
// operation on a read-only attribute is 400 mutability; neither changes anything.
describe('PATCH paths are checked before unkept operations are dropped', () => {
  test.each([
    ['emails[type eq'],
    ['emails[type eq "work"'],
    ['phoneNumbers[type zz "work"]'],
    ['title..x'],
    ['[type eq "work"]'],
  ])('an unparseable path %s is 400 invalidPath and changes nothing', async (path) => {
    const { id, body } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Should Not' }, { op: 'remove', path }],
    });
    expect(r.status).toBe(400);
    expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '400', scimType: 'invalidPath' }));
    expect((await scim('GET', `/Users/${id}`)).body.displayName).toBe(body.displayName);
  });

  test.each([
    ['replace', 'id', 'other-id'],
    ['remove', 'meta', undefined],
    ['replace', 'meta.created', '2020-01-01T00:00:00Z'],
    ['add', 'schemas', ['urn:x']],
    ['replace', `${SCIM.User}:id`, 'x'],
  ])('%s of read-only %s is 400 mutability and changes nothing', async (op, path, value) => {
    const { id, body } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Should Not' }, { op, path, ...(value !== undefined ? { value } : {}) }],
    });
    expect(r.status).toBe(400);
    expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '400', scimType: 'mutability' }));
    const now = (await scim('GET', `/Users/${id}`)).body;
    expect(now.id).toBe(id);
    expect(now.displayName).toBe(body.displayName);
  });
});

// RFC 5322 §3.4.1: an address's local part may hold `#`, `/`, `&`, `=`, `~`, `'`
// (an Entra guest's sign-in name is `name_domain#EXT#@tenant`); userName = email (api.md).
describe('userName takes every address RFC 5322 allows, and only those', () => {
  test.each([
    ['an Entra guest', (s: string) => `John_gmail.com#EXT#@${s}.onmicrosoft.test`],
    ['a slash', (s: string) => `first/last@${s}.test`],
    ['an ampersand and an equals sign', (s: string) => `a&b=c@${s}.test`],
    ['a tilde and an apostrophe', (s: string) => `o'brien~x@${s}.test`],
  ])('%s is created, read back in lower case and found by filter', async (_what, address) => {
    const userName = address(ws.slug);
    const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName, displayName: 'Guest User' });
    expect(created.status).toBe(201);
    expect(created.body.userName).toBe(userName.toLowerCase());
    const found = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    expect(found.body.Resources.map((u: { id: string }) => u.id)).toEqual([created.body.id]);
    expect((await admin('GET', `/v1/users/${created.body.id}`)).body.email).toBe(userName.toLowerCase());
  });

  test.each(['not-an-email', 'a..b@example.test', '.a@example.test', 'a@example', 'a b@example.test', 'a@b@example.test'])(
    '%j is 400 invalidValue and creates nothing',
    async (userName) => {
      const before = await api.prisma.user.count({ where: { workspaceId: ws.id } });
      const r = await scim('POST', '/Users', { schemas: [SCIM.User], userName });
      expect(r.status).toBe(400);
      expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '400', scimType: 'invalidValue' }));
      expect(await api.prisma.user.count({ where: { workspaceId: ws.id } })).toBe(before);
    },
  );
});

// RFC 7644 §3.5.2: removing a required attribute is 400 mutability. The CRM
// keeps a name, an email and a status for every user, so /Schemas says
// userName, name (its formatted), displayName and active are required, and a
// remove of one changes nothing (scim2-tester removes every optional one and
// expects it gone).
describe('a PATCH remove of a required attribute', () => {
  test('/Schemas marks userName, name, name.formatted, displayName and active required', async () => {
    const attributes = (await scim('GET', `/Schemas/${SCIM.User}`)).body.attributes as { name: string; required: boolean; subAttributes?: { name: string; required: boolean }[] }[];
    const required = (name: string) => attributes.find((a) => a.name === name)?.required;
    expect(['userName', 'name', 'displayName', 'active'].map(required)).toEqual([true, true, true, true]);
    expect(attributes.find((a) => a.name === 'name')!.subAttributes!.find((s) => s.name === 'formatted')!.required).toBe(true);
  });

  test.each(['displayName', 'name', 'name.formatted', 'active', 'userName', 'DisplayName', 'urn:ietf:params:scim:schemas:core:2.0:User:active'])(
    'remove %s is 400 mutability and changes nothing (nor the change beside it)',
    async (path) => {
      const { id, body } = await newUser();
      const r = await scim('PATCH', `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'replace', path: 'externalId', value: 'changed' }, { op: 'Remove', path }],
      });
      expect(r.status).toBe(400);
      expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '400', scimType: 'mutability' }));
      expect(r.body.detail).toMatch(/required/);
      expect((await scim('GET', `/Users/${id}`)).body).toEqual(body);
      expect(await openDeletionOf(id)).toBeNull();
    },
  );

  test('beside a deactivation, such removes are dropped: the leaver is offboarded (a provider\'s remove never blocks that)', async () => {
    const { id, body } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Remove', path: 'name.formatted' }, { op: 'Remove', path: 'displayName' }, { op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expect.objectContaining({ active: false, displayName: body.displayName, name: body.name }));
    expect((await openDeletionOf(id))?.source).toBe('IDP');
  });

  test('removing a name part the CRM does not keep (givenName) is still accepted and changes nothing', async () => {
    const { id, body } = await newUser();
    const r = await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: 'name.givenName' }] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ...body, meta: expect.objectContaining({ location: body.meta.location }) });
  });
});

// RFC 7644 §3.4.2.1 / §3.4.3 (a query at the server root) and §3.7 (bulk):
// optional; this service provider answers 501 for them, as for /Me (§3.11).
test.each([
  ['POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], attributes: ['externalId'] }],
  ['GET', '/?filter=userName%20eq%20%22x%40example.test%22', undefined],
  ['POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }],
])('%s %s (not served) is 501 in the SCIM error schema', async (method, path, body) => {
  const r = await scim(method, path, body);
  expect(r.status).toBe(501);
  expect(r.contentType).toMatch(/^application\/scim\+json/);
  expect(r.body).toEqual(expect.objectContaining({ schemas: [SCIM.Error], status: '501' }));
});

test('HEAD of a path not served answers as its GET: 501 at the root and /Me, 404 elsewhere', async () => {
  expect((await scim('HEAD', '/')).status).toBe(501);
  expect((await scim('HEAD', '/Me')).status).toBe(501);
  expect((await scim('HEAD', '/Nope')).status).toBe(404);
});

// OneLogin sends `emails` as one object, not an array (15five/django-scim2, zulip's SCIM server note
// it): `emails` is read-only here (it follows userName), so the shape must not refuse the request,
// least of all a PUT that suspends the user.
test('emails sent as one object instead of an array: POST creates, PUT with active "false" freezes the user', async () => {
  const email = `onelogin${n++}@${ws.slug}.test`;
  const created = await scim('POST', '/Users', { schemas: [SCIM.User], userName: email, displayName: 'One Login', emails: { value: email, primary: true } });
  expect(created.status).toBe(201);
  expect(created.body.emails).toEqual([{ value: email, type: 'work', primary: true }]);
  const put = await scim('PUT', `/Users/${created.body.id}`, {
    schemas: [SCIM.User],
    userName: email,
    displayName: 'One Login',
    emails: { value: email, primary: true },
    active: 'false',
  });
  expect(put.status).toBe(200);
  expect(put.body.active).toBe(false);
  expect((await openDeletionOf(created.body.id))?.source).toBe('IDP');
  expect((await admin('GET', `/v1/users/${created.body.id}`)).body.status).toBe('PENDING_DELETION');
});

// A base URL entered with a trailing slash (OneLogin's setup guides publish it so; JumpCloud does not
// strip it): the provider's paths then carry `//` or end in `/`, and must reach the same endpoints.
test('a doubled or trailing slash reaches the same endpoint', async () => {
  const { id, email } = await newUser();
  const list = await scim('GET', `//Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`);
  expect(list.status).toBe(200);
  expect(list.body.Resources.map((u: { id: string }) => u.id)).toEqual([id]);
  expect((await scim('GET', '/Users/')).body.schemas).toEqual([SCIM.ListResponse]);
  expect((await scim('GET', `//Users/${id}`)).body.id).toBe(id);
  expect((await scim('GET', '/ServiceProviderConfig/')).status).toBe(200);
  // The answers a path without them gets: 501, 405 with Allow, 401 first, SCIM errors.
  expect((await scim('POST', '//Bulk', {})).status).toBe(501);
  expect((await scim('GET', '//Me')).status).toBe(501);
  expect((await scim('GET', '/')).status).toBe(501);
  const put = await scim('PUT', '//Users/', {});
  expect({ status: put.status, allow: put.headers.get('allow') }).toEqual({ status: 405, allow: expect.stringContaining('GET') });
  const anonymous = await client(api.url)('GET', '//scim/v2//Nope');
  expect({ status: anonymous.status, type: anonymous.contentType }).toEqual({ status: 401, type: expect.stringMatching(/^application\/scim\+json/) });
  // The /v1 API keeps its exact paths.
  expect((await admin('GET', '/v1//users')).status).toBe(404);
});

test('a query parameter given twice is 400 invalidValue naming it, on the list and on one user; nothing changes', async () => {
  const { id, email } = await newUser();
  const twice = [
    `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}&filter=${encodeURIComponent('userName eq "x@y.test"')}`,
    '/Users?count=1&count=2',
    '/Users?startIndex=1&startIndex=2',
    '/Users?attributes=userName&attributes=emails',
    `/Users/${id}?excludedAttributes=emails&excludedAttributes=meta`,
  ];
  for (const path of twice) {
    const r = await scim('GET', path);
    expect([path, r.status, r.body.scimType]).toEqual([path, 400, 'invalidValue']);
    const name = new URLSearchParams(path.split('?')[1]).keys().next().value!;
    expect(r.body.detail).toBe(`${name} is given more than once; give it once.`);
  }
  const put = await scim('PUT', `/Users/${id}?attributes=id&attributes=userName`, { schemas: [SCIM.User], userName: email, displayName: 'Renamed', active: false });
  expect([put.status, put.body.scimType]).toEqual([400, 'invalidValue']);
  expect((await admin('GET', `/v1/users/${id}`)).body).toMatchObject({ name: 'Conf User', status: 'ACTIVE' });
  expect(await openDeletionOf(id)).toBeNull();
  // A parameter SCIM does not define is not read, given once or twice.
  expect((await scim('GET', `/Users/${id}?x=1&x=2`)).status).toBe(200);
});
