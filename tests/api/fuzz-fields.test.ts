// Every field of every route, from the served OpenAPI document (so a new route
// or field is covered the day it is added): a body or query that is valid
// except for one field, which gets an arbitrary string (lone surrogates, NUL,
// huge, any Unicode), date-time, number or JSON value. The answer is a 4xx
// problem or a success, never a 5xx and never a wait on a wizard that does
// not end (past the wizard client's limit that would be a 503, a failure
// here). A string PostgreSQL cannot store is 400 naming that very field.
import fc from 'fast-check';
import { signHookBody } from '../../api/hook-signature';
import { makeIntegration, makeWorkspace, type TestWorkspace } from '../support/wizard';
import { CONTRACT_ROUTES } from './contract';
import { client, startTestApi, tokenOf, type Answer, type TestApi } from './support';

type Schema = {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  pattern?: string;
  format?: string;
  minItems?: number;
  default?: unknown;
};
type Operation = {
  requestBody?: { content: Record<string, { schema: Schema }> };
  parameters?: { in: string; name: string; schema: Schema }[];
};

/** Where a field lives and how to reach it: `body` paths run through arrays at index 0. */
interface Field {
  method: string;
  route: string;
  where: 'body' | 'query' | 'params';
  /** Dotted path as problems name it: `leads.0.name`, `query.cursor`, `params.id`. */
  path: string;
  /** The body shape (anyOf branch) the field belongs to. */
  branch: number;
  schema: Schema;
}

let api: TestApi;
let ws: TestWorkspace;
let secret: string;
let doc: { paths: Record<string, Record<string, Operation>> };
let fields: Field[];
let call: ReturnType<typeof client>;
let ids: { heir: string; integration: string; deletion: string; cancelled: string };
let fresh = 0;

beforeAll(async () => {
  api = await startTestApi({ worker: true });
  ws = await makeWorkspace(api.prisma, { owner: 'OWNER', heir: 'MEMBER', leaver: 'MEMBER', quitter: 'MEMBER', hooked: 'MEMBER' }, { leaver: 3 });
  secret = (await api.prisma.workspace.findUniqueOrThrow({ where: { id: ws.id } })).hookSecret;
  // An OWNER may do everything, so a refusal here is about the input, not the role.
  call = client(api.url, await tokenOf(api.prisma, ws, 'owner'));
  ids = {
    heir: ws.users.heir!.id,
    integration: await makeIntegration(api.prisma, ws.id, 'I', [{ userId: ws.users.heir!.id, weight: 100 }]),
    deletion: '',
    cancelled: '',
  };
  const started = await call('POST', `/v1/users/${ws.users.leaver!.id}/deletion`, {});
  expect(started.status).toBe(201);
  ids.deletion = started.body.id;
  // Cancel gets a wizard of its own, so the steps' wizard stays open.
  const other = await call('POST', `/v1/users/${ws.users.quitter!.id}/deletion`, {});
  expect(other.status).toBe(201);
  ids.cancelled = other.body.id;
  doc = (await client(api.url)('GET', '/openapi.json')).body;
  fields = fieldsOf(doc);
});
afterAll(async () => {
  await api?.close();
});

// ---- The route table, read from the document --------------------------------

function isText(s: Schema): boolean {
  return s.type === 'string' && s.enum === undefined;
}

function walk(s: Schema, path: string[], branch: number, visit: (path: string[], s: Schema, branch: number) => void): void {
  const union = s.anyOf ?? s.oneOf;
  if (union) {
    union.forEach((b, i) => walk(b, path, i, visit));
    return;
  }
  if (path.length > 0) visit(path, s, branch);
  if (s.type === 'object') for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, [...path, k], branch, visit);
  if (s.type === 'array' && s.items) walk(s.items, [...path, '0'], branch, visit);
}

function fieldsOf(d: typeof doc): Field[] {
  const out: Field[] = [];
  for (const [route, item] of Object.entries(d.paths)) {
    if (!route.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(item)) {
      // HEAD takes what its GET takes (and no body): the GET's fields stand for both.
      if (method === 'head') continue;
      for (const p of op.parameters ?? []) {
        if (p.in === 'query' || p.in === 'path') {
          out.push({ method, route, where: p.in === 'path' ? 'params' : 'query', path: `${p.in === 'path' ? 'params' : 'query'}.${p.name}`, branch: 0, schema: p.schema });
        }
      }
      const body = op.requestBody?.content['application/json']?.schema;
      if (body) walk(body, [], 0, (path, schema, branch) => out.push({ method, route, where: 'body', path: path.join('.'), branch, schema }));
    }
  }
  return out;
}

// ---- Valid requests around the one field that is not ------------------------

/** A valid value for a field of this name and schema. */
function valid(name: string, s: Schema): unknown {
  if (s.enum) return name === 'role' ? 'MEMBER' : s.enum[0];
  if (s.type === 'number' || s.type === 'integer') return name === 'weight' ? 100 : 1;
  if (s.type === 'boolean') return true;
  if (s.type === 'array') return (s.minItems ?? 0) > 0 || name !== 'memberIds' ? [valid(name, s.items ?? {})] : [];
  if (s.type === 'object') {
    return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, valid(k, v)]));
  }
  if (/userId$|UserId$|ownerId$|^memberIds$/i.test(name)) return ids.heir;
  if (name === 'email') return `f${++fresh}@fuzz.test`;
  if (name === 'effectiveAt') return new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  if (name === 'confirmation') return 'CONFIRM';
  return `v${++fresh}`;
}

function bodyFor(f: Field): Record<string, unknown> {
  const root = f.where === 'body' ? bodySchema(f) : undefined;
  if (!root) return {};
  const value = valid('', root) as Record<string, unknown>;
  if (f.route === '/v1/hooks/{workspaceSlug}/offboarding') value.email = ws.users.hooked!.email;
  return value;
}

function bodySchema(f: Pick<Field, 'method' | 'route' | 'branch'>): Schema | undefined {
  const s = doc.paths[f.route]![f.method]!.requestBody?.content['application/json']?.schema;
  const union = s?.anyOf ?? s?.oneOf;
  return union ? union[f.branch] : s;
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let at: any = target;
  for (const key of path.slice(0, -1)) at = at[key];
  at[path[path.length - 1]!] = value;
}

/** Percent-encodes a string as UTF-8; a lone surrogate becomes its (invalid) 3-byte form. */
function urlEncode(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff) out += `%${(0xe0 | (cp >> 12)).toString(16)}%${(0x80 | ((cp >> 6) & 63)).toString(16)}%${(0x80 | (cp & 63)).toString(16)}`.toUpperCase();
    else out += encodeURIComponent(ch);
  }
  return out;
}

function idFor(route: string): string {
  if (route === '/v1/deletions/{id}/cancel') return ids.cancelled;
  if (route.startsWith('/v1/deletions/')) return ids.deletion;
  if (route.startsWith('/v1/integrations/')) return ids.integration;
  return ids.heir;
}

async function pathFor(f: Field): Promise<string> {
  const user = f.route.includes('{userId}')
    ? // Each run starts a wizard of its own: a user with none open yet.
      (await api.prisma.user.create({ data: { workspaceId: ws.id, name: 'f', email: `u${++fresh}@fuzz.test`, role: 'MEMBER' } })).id
    : '';
  return f.route
    .replace('{userId}', user)
    .replace('{workspaceSlug}', ws.slug)
    .replace('{id}', idFor(f.route));
}

// ---- Values -------------------------------------------------------------------

const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((n) => String.fromCharCode(n));
const storableText = fc.string({ unit: 'grapheme', maxLength: 40 });
/** Strings PostgreSQL cannot store: a lone surrogate or a NUL somewhere. */
const unstorable = fc
  .tuple(storableText, fc.oneof(surrogate, fc.constant('\u0000')), storableText)
  .map(([a, bad, b]) => a + bad + b);
const huge = fc.constantFrom(100_000, 1_000_000).chain((n) =>
  fc.constantFrom('x'.repeat(n), '😀'.repeat(n / 2), 'x'.repeat(n) + '\ud800', ' '.repeat(n)),
);
const dateTimes = fc.oneof(
  fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('+012000-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '1970-01-01T00:30:00+01:00', '9999-12-31T23:59:59-05:00', '2026-02-30T00:00:00Z'),
);
const value = fc.oneof(
  { weight: 4, arbitrary: unstorable },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 2, arbitrary: storableText },
  { weight: 2, arbitrary: dateTimes },
  { weight: 1, arbitrary: huge },
  { weight: 1, arbitrary: fc.oneof(fc.double(), fc.integer(), fc.constant(null), fc.boolean(), fc.jsonValue({ maxDepth: 2 })) },
);

function storable(v: unknown): boolean {
  return typeof v !== 'string' || ((v as string & { isWellFormed(): boolean }).isWellFormed() && !v.includes('\u0000'));
}

// ---- The properties -------------------------------------------------------------

function summary(f: Field, v: unknown, r: Answer): string {
  const shown = typeof v === 'string' && v.length > 80 ? `${JSON.stringify(v.slice(0, 80))}… (${v.length})` : JSON.stringify(v);
  return `${f.method.toUpperCase()} ${f.route} ${f.path}=${shown} -> ${r.status} ${r.text.slice(0, 300)}`;
}

async function send(f: Field, v: unknown): Promise<Answer> {
  const body = bodyFor(f);
  let path = await pathFor(f);
  let query = '';
  if (f.where === 'body') setAt(body, f.path.split('.'), v);
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (f.where === 'query') query = `?${f.path.slice('query.'.length)}=${urlEncode(text)}`;
  if (f.where === 'params') {
    const name = f.path.slice('params.'.length);
    const segments = f.route.split('/');
    path = path
      .split('/')
      .map((seg, i) => (segments[i] === `{${name}}` ? urlEncode(text) || 'x' : seg))
      .join('/');
  }
  const raw = f.method === 'get' ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = {};
  if (f.route.includes('/hooks/') && raw !== undefined) headers['x-signature'] = signHookBody(secret, raw);
  return call(f.method.toUpperCase(), path + query, raw, headers);
}

test('the document lists a field for every body and query of api.md, and every string it takes says what it checks', () => {
  // Retry takes `{}` or nothing: its body has no field to break (an unknown one is 400, see tests/api/retry.test.ts).
  const noBodyFields = ['/v1/deletions/{id}/retry'];
  for (const [method, route] of CONTRACT_ROUTES) {
    if (method !== 'post') continue;
    const listed = fields.some((f) => f.method === method && f.route === route && f.where === 'body');
    expect({ route, fields: listed }).toEqual({ route, fields: !noBodyFields.includes(route) });
  }
  for (const route of ['/v1/users', '/v1/leads', '/v1/deletions', '/v1/deletions/{id}/audit']) {
    expect(fields.filter((f) => f.route === route && f.where === 'query').map((f) => f.path)).toEqual(expect.arrayContaining(['query.limit', 'query.cursor']));
  }
  // A string field is either one of a few words (enum) or Text: its pattern
  // refuses NUL and lone surrogates, as the server does.
  const textPattern = '^[^\\u0000\\uD800-\\uDFFF]*$';
  for (const f of fields.filter((x) => isText(x.schema))) {
    const patterns = [f.schema.pattern, ...(f.schema.allOf ?? []).map((s) => s.pattern)].filter(Boolean);
    const timestamp = (f.schema.format === 'date-time' || f.schema.format === 'date') && patterns.some((p) => p!.startsWith('^(?:19[7-9]'));
    expect({ field: `${f.route} ${f.path}`, documented: patterns.includes(textPattern) || timestamp }).toEqual({
      field: `${f.route} ${f.path}`,
      documented: true,
    });
  }
});

test('one field of anything, the rest valid: 4xx or success, never 5xx; an unstorable string is 400 naming the field', async () => {
  const field = fc.constantFrom(...fields);
  // Every field gets a lone surrogate and a NUL first, then random values.
  const examples: [Field, unknown][] = fields.flatMap((f): [Field, unknown][] => [
    [f, 'cut \ud83d'],
    [f, 'a\u0000b'],
  ]);
  await fc.assert(
    fc.asyncProperty(field, value, async (f, v) => {
      const r = await send(f, v);
      const what = summary(f, v, r);
      if (r.status >= 500) throw new Error(`5xx: ${what}`);
      if (r.status >= 400 && !/^application\/problem\+json/.test(r.contentType)) throw new Error(`not problem+json: ${what}`);
      // In a body a lone surrogate arrives as a JSON escape; in a URL only a
      // NUL survives decoding (a surrogate's bytes are not UTF-8).
      const unstorableHere = typeof v === 'string' && (f.where === 'body' ? !storable(v) : v.includes('\u0000'));
      if (isText(f.schema) && unstorableHere) {
        const named = ((r.body?.errors ?? []) as { path: string }[]).map((e) => e.path);
        // The hook's slug is read before its signature is checked (an unknown one is 401, like a bad signature).
        const expected = f.route.includes('/hooks/') && f.where === 'params' ? 401 : 400;
        if (r.status !== expected || (expected === 400 && !named.includes(f.path))) throw new Error(`not ${expected} naming ${f.path}: ${what}`);
      }
    }),
    {
      examples,
      numRuns: examples.length + 250,
      seed: Number(process.env.FUZZ_SEED ?? 20261130),
      // Bounded in time as well as in runs; what ran by then must have passed.
      interruptAfterTimeLimit: 240_000,
      // The failing request, summarised (a counterexample may be a megabyte long).
      reporter: (out) => {
        if (!out.failed) return;
        const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
        throw new Error(`${cause}\n(after ${out.numRuns} runs; seed ${out.seed}, path ${out.counterexamplePath})`);
      },
    },
  );
}, 300_000);
