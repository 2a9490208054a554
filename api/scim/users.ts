// /scim/v2/Users (api.md "SCIM 2.0"): a CRM user as a SCIM User resource,
// and the identity provider's changes applied to it. Deactivation (active
// false, by PATCH or PUT) and DELETE offboard the user through the same
// client/offboarding.ts the HR hook uses; reactivation cancels the wizard the
// IdP started or joined. After DELETE the resource is 404 to SCIM (RFC 7644
// §3.6) while admins finish the wizard in the CRM.
import type { FastifyRequest } from 'fastify';
import { scimPatch, ScimError as PatchError, type ScimPatchOperation } from 'scim-patch';
import { parse as parseFilter } from 'scim2-parse-filter';
import { offboardUser, reinstateUser } from '../../client/offboarding';
import { NothingSent } from '../../client/wizard-client';
import { StepConflict, Unavailable } from '../../domain/errors';
import type { Prisma, PrismaClient, User as UserRow } from '../../generated/prisma/client';
import { Email, type Actor } from '../../domain/schemas';
import { emailIs, plausibleId } from '../directory/common';
import { offboardingResult, recordHrOffboarding } from '../metrics';
import {
  SCIM,
  SCIM_MAX_RESULTS,
  ScimListQuery,
  ScimBoolean,
  ScimPatchBody,
  ScimUserInput,
  scimAttributeName,
  withoutUserUrn,
  type ScimErrorType,
  type ScimUser,
} from '../../domain/scim';
import type { ApiDeps } from '../deps';
import type { ScimAuth } from './auth';
import { USER_ATTRIBUTES } from './discovery';
import { ScimProblem, scimStatusOf } from './errors';
import { usersWhere } from './filter';

export function scimBase(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}/scim/v2`;
}

export function toScimUser(u: UserRow, base: string): ScimUser {
  return {
    schemas: [SCIM.User],
    id: u.id,
    ...(u.externalId !== null ? { externalId: u.externalId } : {}),
    userName: u.email,
    name: { formatted: u.name },
    displayName: u.name,
    emails: [{ value: u.email, type: 'work', primary: true }],
    active: u.status === 'ACTIVE',
    meta: {
      resourceType: 'User',
      created: u.createdAt.toISOString(),
      lastModified: u.updatedAt.toISOString(),
      location: `${base}/Users/${encodeURIComponent(u.id)}`,
    },
  };
}

/** Zod issues as one SCIM 400 (invalidValue, or invalidSyntax for a malformed PatchOp). */
type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };

/**
 * An issue as the client can act on it: one of a union (emails: a list, or
 * one object) is the issues of the branch that got furthest into the value
 * (`emails.0.value: expected string`), not "Invalid input" on the union.
 */
function specific(issue: Issue, prefix: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  const at = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return [{ path: at, message: issue.message }];
  const branches = issue.errors.map((branch) => branch.flatMap((i) => specific(i, at)));
  const depth = (branch: { path: PropertyKey[] }[]) => Math.max(0, ...branch.map((i) => i.path.length));
  return branches.reduce((best, branch) => (depth(branch) > depth(best) ? branch : best));
}

function parsed<T>(
  result: { success: true; data: T } | { success: false; error: { issues: Issue[] } },
  scimType: ScimErrorType = 'invalidValue',
): T {
  if (result.success) return result.data;
  const issues = result.error.issues
    .flatMap((i) => specific(i))
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`);
  throw new ScimProblem(400, `The request is malformed: ${issues.join('; ')}.`, scimType);
}

function objectBody(body: unknown): object {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ScimProblem(400, 'Send a JSON object as the body (application/scim+json).', 'invalidSyntax');
  }
  return body;
}

/** The name a SCIM user carries: displayName, else name.formatted, else given + family name. */
function nameOf(input: ScimUserInput): string | null {
  const candidates = [
    input.displayName,
    input.name?.formatted,
    [input.name?.givenName, input.name?.familyName].filter((p) => p && p.trim()).join(' '),
  ];
  for (const c of candidates) if (c && c.trim()) return c.trim();
  return null;
}

/** `count=` or `startIndex=` with no value is not given (the default), as any client building its URL from blanks means it; never 0. */
function withoutEmptyPaging(query: unknown): unknown {
  if (query === null || typeof query !== 'object') return query;
  const q = { ...(query as Record<string, unknown>) };
  for (const key of ['count', 'startIndex']) if (q[key] === '') delete q[key];
  return q;
}

function emailOf(input: ScimUserInput): string {
  const email = Email.safeParse(input.userName);
  if (!email.success) throw new ScimProblem(400, 'userName must be the user\'s email address.', 'invalidValue');
  return email.data;
}

function uniquenessConflict(email: string): ScimProblem {
  return new ScimProblem(409, `A user with userName ${email} already exists in this workspace.`, 'uniqueness');
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | undefined)?.code === 'P2002';
}

/**
 * Every attribute name this service reads or writes, by its lower case (RFC
 * 7643 §2.1: names are case-insensitive): the User schema's attributes and
 * sub-attributes (discovery.ts), the common ones (RFC 7643 §3.1), the name
 * parts nameOf reads, and the PatchOp message's own.
 */
const CANONICAL = new Map(
  [
    ...USER_ATTRIBUTES.flatMap((a) => [a.name, ...(a.subAttributes ?? []).map((s) => s.name)]),
    'schemas', 'id', 'externalId', 'meta', 'resourceType', 'created', 'lastModified', 'location',
    'givenName', 'familyName', 'Operations', 'op', 'path', 'value',
  ].map((n) => [n.toLowerCase(), n]),
);

/**
 * How deep canonicalKeys renames keys: a PatchOp body, its Operations, an
 * operation, its value, an attribute of it (name, emails) and an emails item.
 * Deeper than anything this service reads; what lies below is left as sent,
 * so a value nested 200,000 deep costs no recursion (and no stack overflow).
 */
const KEY_DEPTH = 6;

/** The same JSON with every known attribute name spelled as the schema spells it (`Active` → `active`), down to KEY_DEPTH. */
export function canonicalKeys(v: unknown, depth = KEY_DEPTH): unknown {
  if (depth === 0 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => canonicalKeys(x, depth - 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const name = CANONICAL.get(k.toLowerCase()) ?? k;
    // Two spellings of one name: the schema's own spelling wins.
    if (name in out && name !== k) continue;
    out[name] = canonicalKeys(x, depth - 1);
  }
  return out;
}

/**
 * A PATCH path with its attribute names as the schema spells them
 * (`Active`, `urn:…:User:Active`, `emails[Type eq "work"].Value`); quoted
 * values are left alone.
 */
export function canonicalPath(path: string): string {
  return withoutUserUrn(path)
    .split(/("(?:[^"\\]|\\.)*")/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/[A-Za-z][\w$-]*/g, (w) => CANONICAL.get(w.toLowerCase()) ?? w)))
    .join('');
}

/** Read-only attributes of the core User (RFC 7643 §3.1): a PATCH naming one is 400 mutability. */
const READ_ONLY = new Set(['id', 'meta', 'schemas']);

/**
 * The paths /Schemas calls required (`userName`, `name`, `name.formatted`,
 * `displayName`, `active`): every CRM user has a name, an email address and
 * a status, so removing one is 400 mutability (RFC 7644 §3.5.2).
 */
const REQUIRED_PATHS = new Set(
  USER_ATTRIBUTES.filter((a) => a.required).flatMap((a) => [
    a.name,
    ...(a.subAttributes ?? []).filter((sub) => sub.required).map((sub) => `${a.name}.${sub.name}`),
  ]),
);

/**
 * An operation's own path, checked (RFC 7644 §3.5.2): `attr[.sub]` or
 * `attr[filter][.sub]`, after an optional schema URN, with the filter as
 * scim2-parse-filter (scim-patch's parser) reads it; else 400 invalidPath.
 * A core attribute that is read-only is 400 mutability. Checked before
 * operations on attributes not kept here are dropped.
 */
function checkedPath(raw: string): string {
  const path = canonicalPath(raw);
  const bracket = path.indexOf('[');
  const head = bracket === -1 ? path : path.slice(0, bracket);
  const extension = /^urn:/i.test(path);
  const attrPath = extension ? path.slice(head.lastIndexOf(':') + 1) : path;
  const m = /^([A-Za-z][\w$-]*)(?:\[(.*)\])?(?:\.([A-Za-z][\w$-]*))?$/s.exec(attrPath);
  let valid = m !== null;
  if (m?.[2] !== undefined) {
    try {
      parseFilter(m[2]);
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new ScimProblem(400, `The path ${JSON.stringify(raw)} is not a SCIM attribute path.`, 'invalidPath');
  if (!extension && READ_ONLY.has(m![1]!.toLowerCase())) {
    throw new ScimProblem(400, `${m![1]} is read-only; a PATCH cannot change it.`, 'mutability');
  }
  return path;
}

/**
 * Operations as RFC 7644 says them, from what providers send: any case of
 * `op` (Entra's "Replace"), and a path-less value object (Okta's
 * `{"value": {"active": false}}`) as one operation per attribute. String
 * booleans ("False") are read by ScimUserInput once the patch is applied.
 */
export function normaliseOperations(ops: ScimPatchBody['Operations']): ScimPatchOperation[] {
  const out: ScimPatchOperation[] = [];
  for (const o of ops) {
    const op = o.op.toLowerCase();
    if (op !== 'add' && op !== 'replace' && op !== 'remove') {
      throw new ScimProblem(400, `"${o.op}" is not a PATCH operation; use add, replace or remove.`, 'invalidSyntax');
    }
    if (op === 'remove') {
      if (!o.path) throw new ScimProblem(400, 'A remove operation needs a path.', 'noTarget');
      out.push({ op, path: checkedPath(o.path) });
      continue;
    }
    if (!('value' in o)) throw new ScimProblem(400, `The ${op} operation needs a value.`, 'invalidValue');
    if (o.path) {
      out.push({ op, path: checkedPath(o.path), value: canonicalKeys(o.value) });
    } else if (o.value !== null && typeof o.value === 'object' && !Array.isArray(o.value)) {
      for (const [path, value] of Object.entries(o.value as Record<string, unknown>)) {
        out.push({ op, path: canonicalPath(path), value: canonicalKeys(value) });
      }
    } else {
      throw new ScimProblem(400, `A ${op} operation without a path needs an object as its value.`, 'invalidValue');
    }
  }
  return out;
}

/**
 * A remove of a required attribute is 400 mutability, and the whole PATCH
 * changes nothing; but beside a deactivation it is dropped, so that no
 * remove a provider sends along (a mapped attribute become empty) ever
 * keeps a leaver from being offboarded.
 */
function withoutRequiredRemoves(operations: ScimPatchOperation[], deactivates: boolean): ScimPatchOperation[] {
  const required = (op: ScimPatchOperation) => op.op === 'remove' && op.path !== undefined && REQUIRED_PATHS.has(op.path);
  const refused = operations.find(required);
  if (!refused) return operations;
  if (deactivates) return operations.filter((op) => !required(op));
  throw new ScimProblem(
    400,
    `${refused.path} is required: every CRM user has a name, an email address and a status, so a PATCH cannot remove it; replace its value instead.`,
    'mutability',
  );
}

/** The attributes a PATCH can change here; `emails` is read-only (it is the userName). */
const WRITABLE = new Set(['externalId', 'userName', 'name', 'displayName', 'active']);

/**
 * Does this operation target an attribute kept here? Operations on others
 * (emails, phoneNumbers, title, the enterprise extension, ...) change
 * nothing, so they are dropped before the patch is applied: Entra's removes
 * on them (with a value, or with a filter matching no value) must not fail
 * the whole PATCH.
 */
function kept(op: ScimPatchOperation): boolean {
  return op.path !== undefined && WRITABLE.has(op.path.split(/[.[]/)[0]!);
}

/** Does this SCIM value say false (`false`, Entra's `"False"`)? */
function isFalse(value: unknown): boolean {
  const b = ScimBoolean.safeParse(value);
  return b.success && !b.data;
}

/**
 * Does this PUT or PATCH body ask to deactivate the user? Read before the
 * user is looked up, so that a deactivation of an unknown id is counted as
 * one (unknown_user), as the hook counts it.
 */
function asksToDeactivate(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const { active, Operations } = body as { active?: unknown; Operations?: unknown };
  if (!Array.isArray(Operations)) return isFalse(active);
  return Operations.some((o: unknown) => {
    if (o === null || typeof o !== 'object') return false;
    const { op, path, value } = o as { op?: unknown; path?: unknown; value?: unknown };
    if (typeof op !== 'string' || !['add', 'replace'].includes(op.toLowerCase())) return false;
    if (typeof path === 'string' && path !== '') return scimAttributeName(path) === 'active' && isFalse(value);
    return value !== null && typeof value === 'object' && isFalse((value as { active?: unknown }).active);
  });
}

/** One request that may offboard: `deactivates()` marks it as one once it is known. */
interface Offboarding {
  deactivates(): void;
}

/**
 * Runs one SCIM request and, when it asked to deactivate a user, counts it in
 * crm_hr_offboardings_received_total{source="scim"} with its result (the
 * status it answers, read as the hook's is).
 */
async function counted<T>(work: (o: Offboarding) => Promise<T>, deactivates = false): Promise<T> {
  let counts = deactivates;
  const o: Offboarding = {
    deactivates: () => {
      counts = true;
    },
  };
  try {
    const result = await work(o);
    if (counts) recordHrOffboarding('scim', 'accepted');
    return result;
  } catch (err) {
    if (counts) recordHrOffboarding('scim', offboardingResult(scimStatusOf(err)));
    throw err;
  }
}

export interface ScimUserList {
  schemas: [typeof SCIM.ListResponse];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: ScimUser[];
}

export interface UsersService {
  list(auth: ScimAuth, query: unknown, base: string): Promise<ScimUserList>;
  create(auth: ScimAuth, body: unknown, base: string): Promise<ScimUser>;
  get(auth: ScimAuth, id: string, base: string): Promise<ScimUser>;
  replace(auth: ScimAuth, id: string, body: unknown, base: string): Promise<ScimUser>;
  patch(auth: ScimAuth, id: string, body: unknown, base: string): Promise<ScimUser>;
  remove(auth: ScimAuth, id: string): Promise<void>;
}

export function usersService(deps: Pick<ApiDeps, 'prisma' | 'wizard'>): UsersService {
  const db: PrismaClient = deps.prisma;
  const actorOf = (auth: ScimAuth): Actor => ({ type: 'IDP', id: `scim-token:${auth.tokenId}` });

  async function visible(auth: ScimAuth, id: string): Promise<UserRow> {
    // An id PostgreSQL cannot hold (NUL, a lone surrogate) was never handed
    // out: 404 like any other unknown id (RFC 7644 §3.12), never a query.
    if (!plausibleId(id)) throw new ScimProblem(404, 'No user has this id: it is not one this service hands out.');
    const user = await db.user.findFirst({ where: { id, workspaceId: auth.workspaceId, scimDeletedAt: null } });
    if (!user) throw new ScimProblem(404, `User ${id} not found.`);
    return user;
  }

  async function emailTaken(workspaceId: string, email: string, exceptId?: string): Promise<boolean> {
    const other = await db.user.findFirst({
      where: { workspaceId, email: emailIs(email), ...(exceptId ? { id: { not: exceptId } } : {}) },
      select: { id: true },
    });
    return other !== null;
  }

  /**
   * Waits until the wizard that is removing `userId` (its confirm under way)
   * has removed them; `conflict` stands if it ends otherwise, and a wizard
   * still at it by `deadline` is Unavailable (503: send the request again).
   */
  async function untilRemoved(auth: ScimAuth, userId: string, conflict: StepConflict, deadline: number): Promise<void> {
    const open = await db.deletion.findFirst({ where: { workspaceId: auth.workspaceId, userId, status: 'IN_PROGRESS' }, select: { id: true } });
    if (!open) {
      if ((await db.user.count({ where: { id: userId } })) === 0) return;
      throw conflict;
    }
    const ended = await deps.wizard.endedBy(auth.workspaceId, open.id, deadline);
    if (ended === null) throw new Unavailable(`${conflict.message} Send the request again in a moment.`);
    if (ended.status !== 'COMPLETED') throw conflict;
  }

  /** `active` as the IdP set it: false offboards (joins or starts), true cancels the IdP's wizard. */
  async function applyActive(auth: ScimAuth, user: UserRow, active: boolean | undefined, reason: string, o: Offboarding): Promise<void> {
    if (active === false) {
      o.deactivates();
      await offboardUser(deps, { workspaceId: auth.workspaceId, userId: user.id, source: 'IDP', actor: actorOf(auth), reason });
    } else if (active === true && user.status !== 'ACTIVE') {
      await reinstateUser(deps, { workspaceId: auth.workspaceId, userId: user.id, actor: actorOf(auth) });
    }
  }

  /** PUT, and PATCH once its operations are applied: the whole resource as the IdP wants it. */
  async function applyResource(
    auth: ScimAuth,
    user: UserRow,
    raw: unknown,
    base: string,
    opts: { setsActive: boolean; patch?: boolean },
    o: Offboarding,
  ): Promise<ScimUser> {
    const input = parsed(ScimUserInput.safeParse(raw));
    // A PATCH of other attributes carries the current `active` along: it is
    // no deactivation (nor reactivation) of its own.
    if (!opts.setsActive) delete input.active;
    const email = emailOf(input);
    const changesEmail = email !== user.email.toLowerCase();
    if (changesEmail && (await emailTaken(auth.workspaceId, email, user.id))) throw uniquenessConflict(email);
    // The wizard first: a refused deactivation (the last owner, ...) changes nothing here (a leaver
    // too big for one wizard is frozen all the same: client/offboarding.ts).
    await applyActive(auth, user, input.active, 'Deactivated by the identity provider.', o);
    // What this request sets: a PUT, each attribute it carries; a PATCH (applied to the user as read
    // before the wizard), each one its operations changed. Written only where the row, as it is when
    // written, differs: a request that changes nothing leaves meta.lastModified as it was, and one
    // racing another never writes back what it read of an attribute it does not set.
    const given = nameOf(input);
    const name = opts.patch ? (given !== null && given !== user.name ? given : undefined) : (given ?? undefined);
    const externalId = opts.patch && input.externalId === user.externalId ? undefined : input.externalId;
    const differs: Prisma.UserWhereInput[] = [];
    if (changesEmail) differs.push({ email: { not: email } });
    if (name !== undefined) differs.push({ name: { not: name } });
    if (externalId === null) differs.push({ externalId: { not: null } });
    else if (externalId !== undefined) differs.push({ externalId: null }, { externalId: { not: externalId } });
    try {
      if (differs.length > 0)
        await db.user.updateMany({
          where: { id: user.id, OR: differs },
          data: { ...(changesEmail ? { email } : {}), ...(name !== undefined ? { name } : {}), ...(externalId !== undefined ? { externalId } : {}) },
        });
    } catch (err) {
      if (isUniqueViolation(err)) throw uniquenessConflict(email);
      throw err;
    }
    let now = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    // A request racing this one (a deactivation's wizard opening meanwhile, a reactivation's cancel)
    // changed `active` after this one decided: what this one asks for is applied again, once, now
    // that the other has, so that it never answers 2xx with the opposite of what it set (rules still
    // apply: a wizard HR or an admin started stays, and the answer says so).
    if (input.active !== undefined && (now.status === 'ACTIVE') !== input.active) {
      try {
        await applyActive(auth, now, input.active, 'Deactivated by the identity provider.', o);
      } catch {
        // This request's own changes are written: refused now (a rule, a wizard that did not answer), the
        // other request's `active` stands, and the answer shows it rather than claiming nothing changed.
      }
      now = await db.user.findUniqueOrThrow({ where: { id: user.id } });
    }
    return toScimUser(now, base);
  }

  async function patchUser(auth: ScimAuth, id: string, body: unknown, base: string, o: Offboarding): Promise<ScimUser> {
    const user = await visible(auth, id);
    const request = parsed(ScimPatchBody.safeParse(objectBody(body)), 'invalidSyntax');
    const operations = withoutRequiredRemoves(normaliseOperations(request.Operations), asksToDeactivate(request)).filter(kept);
    let patched: unknown;
    try {
      patched = scimPatch(toScimUser(user, base) as never, operations, { mutateDocument: false, treatMissingAsAdd: true });
    } catch (err) {
      if (err instanceof PatchError) {
        const code = err.scimCode as ScimErrorType | undefined;
        throw new ScimProblem(400, err.message || 'The PATCH operation cannot be applied.', code ?? 'invalidValue');
      }
      throw err;
    }
    // displayName and name.formatted are one name (api.md): when no
    // operation names displayName but name changed, the new name speaks
    // (name.formatted, else givenName familyName), as it does in PUT. An
    // operation that names displayName wins, even with the current name.
    // The CRM keeps no name parts: a given and a family name that the
    // PATCH leaves both set (a rename, OneLogin's and Entra's way) are the
    // new name, unless it also sets name.formatted (even to the name the
    // user has); one part alone cannot be placed in a name kept whole, and
    // changes nothing.
    const before = toScimUser(user, base);
    const doc = patched as { displayName?: unknown; name?: { formatted?: unknown; givenName?: unknown; familyName?: unknown } | null };
    const namesDisplay = operations.some((op) => op.path !== undefined && op.path.split(/[.[]/)[0] === 'displayName');
    const part = (p: unknown) => typeof p === 'string' && p.trim() !== '';
    const setsFormatted = operations.some(
      (op) =>
        op.op !== 'remove' &&
        (op.path === 'name.formatted' || (op.path === 'name' && op.value !== null && typeof op.value === 'object' && 'formatted' in op.value)),
    );
    if (!namesDisplay && (setsFormatted || doc.name?.formatted !== before.name.formatted)) {
      patched = { ...doc, displayName: undefined };
    } else if (!namesDisplay && doc.name && part(doc.name.givenName) && part(doc.name.familyName)) {
      patched = { ...doc, displayName: undefined, name: { givenName: doc.name.givenName, familyName: doc.name.familyName } };
    }
    // A removed externalId is unassigned (RFC 7644 §3.5.2.2), not kept.
    if (user.externalId !== null && patched !== null && typeof patched === 'object' && !('externalId' in patched)) {
      patched = { ...patched, externalId: null };
    }
    const setsActive = operations.some((op) => op.path !== undefined && scimAttributeName(op.path) === 'active');
    return applyResource(auth, user, patched, base, { setsActive, patch: true }, o);
  }

  return {
    async list(auth, rawQuery, base) {
      const q = parsed(ScimListQuery.safeParse(withoutEmptyPaging(rawQuery)));
      const where = { workspaceId: auth.workspaceId, scimDeletedAt: null, AND: [usersWhere(q.filter)] };
      // Past 2^31 no workspace has users; the clamp keeps OFFSET a plain integer.
      const startIndex = Math.min(2 ** 31 - 1, Math.max(1, q.startIndex ?? 1));
      const count = Math.min(SCIM_MAX_RESULTS, Math.max(0, q.count ?? SCIM_MAX_RESULTS));
      const [totalResults, rows] = await Promise.all([
        db.user.count({ where }),
        count === 0
          ? Promise.resolve([] as UserRow[])
          : db.user.findMany({ where, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], skip: startIndex - 1, take: count }),
      ]);
      return {
        schemas: [SCIM.ListResponse] as [typeof SCIM.ListResponse],
        totalResults,
        startIndex,
        itemsPerPage: rows.length,
        Resources: rows.map((u) => toScimUser(u, base)),
      };
    },

    async create(auth, rawBody: unknown, base) {
      const deadline = deps.wizard.stateWaitDeadline();
      const body = canonicalKeys(rawBody);
      return counted(async (o) => {
        const input = parsed(ScimUserInput.safeParse(objectBody(body)));
        const email = emailOf(input);
        const holder = await db.user.findFirst({
          where: { workspaceId: auth.workspaceId, email: emailIs(email) },
        });
        if (holder && holder.scimDeletedAt === null) throw uniquenessConflict(email);
        if (holder) {
          // Deleted over SCIM but still in the CRM (its wizard not finished):
          // the IdP creating this userName again brings that user back, active
          // unless it says otherwise (which cancels the IdP's wizard), instead
          // of a 409 the provider would retry until it quarantines the app.
          try {
            const revived = await applyResource(auth, holder, { ...input, active: input.active ?? true }, base, { setsActive: true }, o);
            await db.user.update({ where: { id: holder.id }, data: { scimDeletedAt: null } });
            return revived;
          } catch (err) {
            if (!(err instanceof StepConflict)) throw err;
            // Its wizard is past CONFIRM (nothing changed): once it has removed that user, the userName is new.
            await untilRemoved(auth, holder.id, err, deadline);
          }
        }
        let user: UserRow;
        try {
          user = await db.user.create({
            data: {
              workspaceId: auth.workspaceId,
              email,
              name: nameOf(input) ?? email.split('@')[0]!,
              role: 'MEMBER',
              status: 'ACTIVE',
              externalId: input.externalId ?? null,
            },
          });
        } catch (err) {
          if (isUniqueViolation(err)) throw uniquenessConflict(email);
          throw err;
        }
        // Created inactive: offboarded at once, as a later deactivation would.
        if (input.active === false) {
          try {
            await applyActive(auth, user, false, 'Created inactive by the identity provider.', o);
          } catch (err) {
            // Nothing reached a wizard (this request spent its limit waiting, for an earlier holder of the
            // userName to be removed): the user is taken back, untouched since, so that the provider's retry
            // creates them whole instead of meeting 409 uniqueness with the user left ACTIVE.
            if (err instanceof NothingSent) await db.user.delete({ where: { id: user.id } }).catch(() => undefined);
            throw err;
          }
        }
        return toScimUser(await visible(auth, user.id), base);
      }, asksToDeactivate(body));
    },

    async get(auth, id, base) {
      return toScimUser(await visible(auth, id), base);
    },

    async replace(auth, id, rawBody: unknown, base) {
      const body = canonicalKeys(rawBody);
      return counted(async (o) => {
        const user = await visible(auth, id);
        return applyResource(auth, user, objectBody(body), base, { setsActive: true }, o);
      }, asksToDeactivate(body));
    },

    async patch(auth, id, rawBody: unknown, base) {
      const body = canonicalKeys(rawBody);
      return counted((o) => patchUser(auth, id, body, base, o), asksToDeactivate(body));
    },

    async remove(auth, id) {
      // A DELETE offboards: counted whatever its result.
      await counted(async () => {
        const user = await visible(auth, id);
        await offboardUser(deps, {
          workspaceId: auth.workspaceId,
          userId: user.id,
          source: 'IDP',
          actor: actorOf(auth),
          reason: 'Deleted by the identity provider.',
        });
        await db.user.updateMany({ where: { id: user.id, scimDeletedAt: null }, data: { scimDeletedAt: new Date() } });
      }, true);
    },
  };
}
