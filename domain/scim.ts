// SCIM 2.0 shapes (RFC 7643, RFC 7644) as /scim/v2 serves and reads them,
// one zod schema per shape (api.md, "SCIM 2.0"). Input schemas are loose:
// identity providers send attributes we do not keep (title, locale, the
// enterprise extension, ...), and those are ignored rather than refused.
import { z } from 'zod';
import { Text } from './schemas';

export const SCIM = {
  User: 'urn:ietf:params:scim:schemas:core:2.0:User',
  ListResponse: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
  PatchOp: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
  Error: 'urn:ietf:params:scim:api:messages:2.0:Error',
  ServiceProviderConfig: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
  ResourceType: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
  Schema: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
} as const;

export const SCIM_CONTENT_TYPE = 'application/scim+json';

/** Where SCIM is served (api.md "SCIM 2.0": base path). */
export const SCIM_PREFIX = '/scim/v2';

/** Whether a request path (with or without its query) is under SCIM's base path, whose clients read SCIM errors only. */
export function underScim(url: string): boolean {
  return url === SCIM_PREFIX || url.startsWith(`${SCIM_PREFIX}/`) || url.startsWith(`${SCIM_PREFIX}?`);
}

/** Most resources one list page returns (ServiceProviderConfig `filter.maxResults`). */
export const SCIM_MAX_RESULTS = 200;

/**
 * An attribute path as SCIM compares it: case-insensitive, with or without
 * the User schema's URN (`active`, `Active`, `urn:…:core:2.0:User:active` →
 * `active`).
 */
export function scimAttributeName(path: string): string {
  return withoutUserUrn(path).toLowerCase();
}

/** The path without the User schema's URN in front (in any case), its own spelling kept. */
export function withoutUserUrn(path: string): string {
  const urn = `${SCIM.User}:`;
  return path.toLowerCase().startsWith(urn.toLowerCase()) ? path.slice(urn.length) : path;
}

/** A SCIM boolean as providers send it: `false`, or Entra's `"False"`. */
export const ScimBoolean = z
  .union([z.boolean(), z.string().regex(/^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$/)])
  // After the union, so that the OpenAPI document (the input side) shows the string form too.
  .transform((v) => (typeof v === 'string' ? v.toLowerCase() === 'true' : v));

export const ScimEmail = z.looseObject({
  value: Text.max(320),
  type: Text.max(64).optional(),
  primary: ScimBoolean.optional(),
});

/** The body of POST /Users and PUT /Users/{id}, and a PATCHed resource before it is applied. */
export const ScimUserInput = z.looseObject({
  schemas: z.array(z.string()).optional(),
  userName: Text.max(320).refine((s) => s.trim().length > 0, 'must not be blank'),
  externalId: Text.max(200).nullable().optional(),
  displayName: Text.max(200).nullable().optional(),
  name: z
    .looseObject({
      formatted: Text.max(200).nullable().optional(),
      givenName: Text.max(200).nullable().optional(),
      familyName: Text.max(200).nullable().optional(),
    })
    .nullable()
    .optional(),
  // Read-only here (it follows userName); one object instead of a list (OneLogin's) reads as a list of it.
  // null on the list's branch: OpenAPI 3.0 reads `nullable` only beside a type.
  emails: z
    .union([z.array(ScimEmail).max(20).nullable(), ScimEmail])
    .optional()
    .transform((v) => (v !== null && v !== undefined && !Array.isArray(v) ? [v] : v)),
  active: ScimBoolean.optional(),
}).meta({
  description:
    "A SCIM User. userName is the user's email address; the name is displayName, else name.formatted, else name.givenName " +
    'and name.familyName; emails is read-only (it is the userName); booleans may be strings ("False"). Attribute names are ' +
    'read in any case; attributes not kept here are ignored.',
});
export type ScimUserInput = z.infer<typeof ScimUserInput>;

export const ScimPatchOperation = z.looseObject({
  op: Text.max(20),
  path: Text.max(500).optional(),
  value: z.unknown().optional(),
});
export const ScimPatchBody = z.looseObject({
  schemas: z.array(z.string()).refine((s) => s.includes(SCIM.PatchOp), `must include ${SCIM.PatchOp}`),
  Operations: z.array(ScimPatchOperation).min(1).max(100),
}).meta({
  description:
    `A PatchOp message (RFC 7644 §3.5.2); schemas must include ${SCIM.PatchOp}. op is add, replace or remove in any case; ` +
    'an operation without a path takes an object of attributes as its value (Okta\'s {"value": {"active": false}}). ' +
    'Operations on attributes not kept here change nothing; names are read in any case.',
});
export type ScimPatchBody = z.infer<typeof ScimPatchBody>;

/**
 * A query parameter's whole number as written: decimal digits, a minus
 * allowed (what `Number()` would also read, `0x10`, `1e2`, ` 2`, `2.0`, is
 * not one: 400 invalidValue).
 */
const wholeNumber = z.preprocess(
  (v) => (typeof v === 'string' && /^-?[0-9]{1,15}$/.test(v) ? Number(v) : v),
  z.number({ error: 'must be a whole number in decimal digits' }).int(),
);

/** GET /Users query (RFC 7644 §3.4.2): 1-based startIndex, count clamped to SCIM_MAX_RESULTS. */
export const ScimListQuery = z.looseObject({
  filter: Text.max(2_000, 'is longer than the 2,000 characters a filter may have')
    .optional()
    .meta({
      description:
        'A SCIM filter: eq, joined by and, on userName, externalId, emails.value and emails[type eq "work"].value ' +
        '(attribute names in any case); anything else is 400 invalidFilter.',
    }),
  startIndex: wholeNumber.optional().meta({ description: 'The 1-based index of the first user to return (default 1; below 1 reads as 1).' }),
  count: wholeNumber
    .optional()
    .meta({ description: `How many users to return at most (default and largest ${SCIM_MAX_RESULTS}; below 0 reads as 0).` }),
});

/** `attributes` / `excludedAttributes` (RFC 7644 §3.9): which attributes of the Users answered leave (api/scim/attributes.ts). */
export const ScimAttributesQuery = z.looseObject({
  attributes: z.string().optional().meta({
    description:
      'Comma-separated attribute names to return, and only those (names in any case, with or without the User schema URN; ' +
      '`name.formatted` names a sub-attribute). `schemas` and `id` are always returned.',
  }),
  excludedAttributes: z.string().optional().meta({
    description: 'Comma-separated attribute names to leave out (named as in `attributes`); ignored when `attributes` is given.',
  }),
});

const ignoredSort = 'Accepted and ignored: sorting is not supported (ServiceProviderConfig sort.supported is false); users come in the order they were created.';

/**
 * The whole query of GET /Users as the OpenAPI document shows it: the list (ScimListQuery, which
 * users.ts parses), the attributes (attributes.ts) and sorting, which is ignored.
 */
export const ScimUsersQuery = ScimListQuery.extend({
  ...ScimAttributesQuery.shape,
  sortBy: z.string().optional().meta({ description: ignoredSort }),
  sortOrder: z.string().optional().meta({ description: ignoredSort }),
});

/** A SearchRequest (RFC 7644 §3.4.3), the body of POST /Users/.search: GET /Users's query as a JSON object (read by api/scim/index.ts searchQuery). */
export const ScimSearchRequest = ScimUsersQuery.extend({
  schemas: z.array(z.string()).optional(),
  attributes: z.union([z.array(z.string()), z.string()]).optional().meta({ description: 'As the `attributes` query parameter: a list of names, or a comma-separated string.' }),
  excludedAttributes: z
    .union([z.array(z.string()), z.string()])
    .optional()
    .meta({ description: 'As the `excludedAttributes` query parameter: a list of names, or a comma-separated string.' }),
}).meta({
  description: 'What GET /Users reads from its query, as a JSON object. Member names are read in any case; other members are ignored.',
});

export const ScimMeta = z.object({
  resourceType: z.string(),
  created: z.string().optional(),
  lastModified: z.string().optional(),
  location: z.string(),
});

export const ScimUser = z.object({
  schemas: z.tuple([z.literal(SCIM.User)]),
  id: z.string(),
  externalId: z.string().optional(),
  userName: z.string(),
  name: z.object({ formatted: z.string() }),
  displayName: z.string(),
  emails: z.array(z.object({ value: z.string(), type: z.literal('work'), primary: z.literal(true) })),
  active: z.boolean(),
  meta: ScimMeta,
});
export type ScimUser = z.infer<typeof ScimUser>;
/**
 * A User as answered where `attributes` / `excludedAttributes` apply (RFC 7644 §3.9): only `schemas`
 * and `id` are always there; every other attribute may have been left out on request.
 */
export const ScimUserProjected = ScimUser.partial().required({ schemas: true, id: true });

export function scimListOf<T extends z.ZodType>(resource: T) {
  return z.object({
    schemas: z.tuple([z.literal(SCIM.ListResponse)]),
    totalResults: z.number().int(),
    startIndex: z.number().int(),
    itemsPerPage: z.number().int(),
    Resources: z.array(resource),
  });
}

/** RFC 7644 §3.12. `status` is a string there. */
export const ScimError = z.object({
  schemas: z.tuple([z.literal(SCIM.Error)]),
  status: z.string(),
  scimType: z
    .enum(['invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'sensitive'])
    .optional(),
  detail: z.string(),
});
export type ScimError = z.infer<typeof ScimError>;
export type ScimErrorType = NonNullable<ScimError['scimType']>;

export function scimError(status: number, detail: string, scimType?: ScimErrorType): ScimError {
  return { schemas: [SCIM.Error], status: String(status), ...(scimType ? { scimType } : {}), detail };
}

export const ScimServiceProviderConfig = z.object({
  schemas: z.tuple([z.literal(SCIM.ServiceProviderConfig)]),
  documentationUri: z.string().optional(),
  patch: z.object({ supported: z.boolean() }),
  bulk: z.object({ supported: z.boolean(), maxOperations: z.number().int(), maxPayloadSize: z.number().int() }),
  filter: z.object({ supported: z.boolean(), maxResults: z.number().int() }),
  changePassword: z.object({ supported: z.boolean() }),
  sort: z.object({ supported: z.boolean() }),
  etag: z.object({ supported: z.boolean() }),
  authenticationSchemes: z.array(
    z.object({ type: z.string(), name: z.string(), description: z.string(), primary: z.boolean().optional() }),
  ),
  meta: ScimMeta,
});

export const ScimResourceType = z.object({
  schemas: z.tuple([z.literal(SCIM.ResourceType)]),
  id: z.string(),
  name: z.string(),
  endpoint: z.string(),
  description: z.string(),
  schema: z.string(),
  meta: ScimMeta,
});

export interface ScimAttribute {
  name: string;
  type: 'string' | 'boolean' | 'complex';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact?: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  subAttributes?: ScimAttribute[];
}
/** Named (`ScimAttribute`): it contains itself, so the OpenAPI document holds it as a component that refers to itself. */
export const ScimAttributeSchema: z.ZodType<ScimAttribute> = z.lazy(() =>
  z.object({
    name: z.string(),
    type: z.enum(['string', 'boolean', 'complex']),
    multiValued: z.boolean(),
    description: z.string(),
    required: z.boolean(),
    caseExact: z.boolean().optional(),
    mutability: z.enum(['readOnly', 'readWrite', 'immutable', 'writeOnly']),
    returned: z.enum(['always', 'never', 'default', 'request']),
    uniqueness: z.enum(['none', 'server', 'global']).optional(),
    canonicalValues: z.array(z.string()).optional(),
    subAttributes: z.array(ScimAttributeSchema).optional(),
  }),
).meta({ id: 'ScimAttribute' });

export const ScimSchemaDefinition = z.object({
  schemas: z.tuple([z.literal(SCIM.Schema)]),
  id: z.string(),
  name: z.string(),
  description: z.string(),
  attributes: z.array(ScimAttributeSchema),
  meta: ScimMeta,
});
