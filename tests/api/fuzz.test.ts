// Generated malformed requests against every route: whatever a client sends,
// the answer is never a 5xx, and every refusal is application/problem+json.
import fc from 'fast-check';
import { signHookBody } from '../../api/hook-signature';
import { makeWorkspace, makeIntegration, type TestWorkspace } from '../support/wizard';
import { CONTRACT_ROUTES } from './contract';
import { client, startTestApi, tokenOf, type Answer, type TestApi } from './support';

let api: TestApi;
let ws: TestWorkspace;
let secret: string;
let tokens: Record<'admin' | 'member', string>;
let known: string[];

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', admin: 'ADMIN', member: 'MEMBER', target: 'MEMBER' }, { target: 3 });
  secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
  tokens = { admin: await tokenOf(api.prisma, ws, 'admin'), member: await tokenOf(api.prisma, ws, 'member') };
  const integration = await makeIntegration(api.prisma, ws.id, 'I', [{ userId: ws.users.target!.id, weight: 100 }]);
  known = [ws.users.target!.id, ws.users.member!.id, integration];
});
afterAll(async () => {
  await api?.close();
});

function check(what: string, r: Answer): void {
  const summary = `${what} -> ${r.status} ${r.contentType} ${r.text.slice(0, 300)}`;
  if (r.status >= 500) throw new Error(`5xx: ${summary}`);
  if (r.status >= 400) {
    if (!/^application\/problem\+json/.test(r.contentType)) throw new Error(`not problem+json: ${summary}`);
    const p = r.body as { status?: unknown; title?: unknown; type?: unknown; detail?: unknown };
    if (p?.status !== r.status || typeof p.title !== 'string' || typeof p.type !== 'string' || typeof p.detail !== 'string') {
      throw new Error(`bad problem: ${summary}`);
    }
  }
}

/** Encodes one path segment; strings that cannot be encoded (lone surrogates) become raw garbage. */
function segment(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ZZ';
  }
}

const idArb = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom('', '.', '..', '%', '%00', 'null', '0', '-1', '99999999999999999999', 'x'.repeat(300)),
    fc.constant('known').map(() => 'known'),
  );

const jsonish = fc.jsonValue({ maxDepth: 4 });

const bodyArb = fc.oneof(
  jsonish.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '[]', 'null', '{"__proto__":{"a":1}}', '{"constructor":{"prototype":{}}}', '\u0000', '{"a":"\\u0000"}'),
  fc.dictionary(
    fc.constantFrom('name', 'email', 'role', 'leads', 'distribution', 'overrides', 'replacements', 'confirmation', 'reason', 'targetUserId', 'visibility', 'ownerId', 'memberIds', 'source', 'employeeId', 'effectiveAt', 'zzz'),
    jsonish,
    { maxKeys: 5 },
  ).map((v) => JSON.stringify(v)),
);

const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('limit', 'cursor', 'status', 'ownerId'), fc.string({ maxLength: 8 })),
      fc.oneof(fc.constantFrom('0', '1', '50', '500', '501', '-1', '1e3', 'ACTIVE', 'IN_PROGRESS', 'eyJ4IjoxfQ'), fc.string({ maxLength: 20 })),
    ),
    { maxLength: 3 },
  )
  .map((pairs) => (pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${segment(k)}=${segment(v)}`).join('&')));

const requestArb = fc.record({
  route: fc.constantFrom(...CONTRACT_ROUTES),
  method: fc.oneof(fc.constant(null), fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  ids: fc.array(idArb(), { minLength: 2, maxLength: 2 }),
  query: queryArb,
  body: fc.option(bodyArb, { nil: undefined }),
  contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml', 'application/merge-patch+json', ''),
  auth: fc.constantFrom('admin', 'member', 'none', 'garbage'),
  signed: fc.boolean(),
});

test('no generated request gets a 5xx, and every refusal is problem+json', async () => {
  await fc.assert(
    fc.asyncProperty(requestArb, async (req) => {
      let n = 0;
      const path = req.route[1].replace(/\{[^}]+\}/g, (name) => {
        const raw = req.ids[n++ % 2]!;
        if (raw === 'known') return name === '{workspaceSlug}' ? ws.slug : known[n % known.length]!;
        return segment(raw) || 'x';
      });
      const method = req.method ?? req.route[0].toUpperCase();
      const headers: Record<string, string> = {};
      if (req.contentType) headers['content-type'] = req.contentType;
      if (req.auth === 'garbage') headers.authorization = 'Bearer garbage';
      if (req.auth === 'admin' || req.auth === 'member') headers.authorization = `Bearer ${tokens[req.auth]}`;
      if (path.includes('/hooks/') && req.signed) headers['x-signature'] = signHookBody(secret, req.body ?? '');
      const sendBody = method === 'GET' || method === 'HEAD' ? undefined : req.body;
      const r = await client(api.url)(method, path + req.query, sendBody, headers);
      check(`${method} ${path}${req.query} ${JSON.stringify(sendBody)?.slice(0, 200)}`, r);
    }),
    { numRuns: 400, seed: Number(process.env.FUZZ_SEED ?? 20261129) },
  );
});

test('valid bodies with one field broken are refused with 400, never 5xx', async () => {
  const admin = client(api.url, tokens.admin);
  const target = ws.users.target!.id;
  const valid: [string, string, Record<string, unknown>][] = [
    ['POST', '/v1/users', { name: 'N', email: 'n@x.test', role: 'MEMBER' }],
    ['POST', '/v1/leads/bulk', { leads: [{ name: 'L', ownerId: target }] }],
    ['POST', '/v1/automations', { name: 'A', distribution: [{ userId: target, weight: 100 }] }],
    ['POST', '/v1/integrations', { name: 'I', source: 's', distribution: [{ userId: target, weight: 100 }] }],
    ['POST', `/v1/integrations/${known[2]}/leads`, { leads: [{ name: 'L' }] }],
    ['POST', '/v1/labels', { name: 'L', visibility: 'SHARED', ownerId: target, memberIds: [] }],
  ];
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...valid), fc.nat(), jsonish, fc.boolean(), async ([method, path, body], k, value, drop) => {
      const keys = Object.keys(body);
      const key = keys[k % keys.length]!;
      const broken: Record<string, unknown> = { ...body };
      if (drop) delete broken[key];
      else broken[key] = value;
      const r = await admin(method, path, broken);
      check(`${method} ${path} ${JSON.stringify(broken).slice(0, 200)}`, r);
      if (drop) expect(r.status).toBe(400);
    }),
    { numRuns: 150, seed: Number(process.env.FUZZ_SEED ?? 7) },
  );
});
