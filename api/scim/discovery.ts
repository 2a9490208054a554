// SCIM discovery (RFC 7644 §4, RFC 7643 §5-7): what /scim/v2 serves, exactly.
// The User schema lists the attributes toScimUser writes (besides the common
// id, externalId and meta); ResourceTypes lists User only; the service
// provider config says PATCH yes, filter yes (up to SCIM_MAX_RESULTS), bulk,
// sort, etag and password changes no.
import { SCIM, SCIM_MAX_RESULTS, type ScimAttribute } from '../../domain/scim';

const string = (name: string, description: string, extra: Partial<ScimAttribute> = {}): ScimAttribute => ({
  name,
  type: 'string',
  multiValued: false,
  description,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...extra,
});

export const USER_ATTRIBUTES: ScimAttribute[] = [
  string('userName', "The user's email address in the CRM; unique in the workspace.", {
    required: true,
    uniqueness: 'server',
  }),
  {
    name: 'name',
    type: 'complex',
    multiValued: false,
    description: "The user's name. Every CRM user has one: a PATCH cannot remove it (400 mutability).",
    required: true,
    mutability: 'readWrite',
    returned: 'default',
    subAttributes: [string('formatted', 'The full name, as the CRM shows it.', { required: true })],
  },
  string('displayName', 'The name the CRM shows (the same as name.formatted); a PATCH cannot remove it.', { required: true }),
  {
    name: 'emails',
    type: 'complex',
    multiValued: true,
    description: "The user's one email address (the userName), primary, of type work.",
    required: false,
    mutability: 'readOnly',
    returned: 'default',
    subAttributes: [
      string('value', 'The email address.', { mutability: 'readOnly' }),
      string('type', 'Always work.', { mutability: 'readOnly', canonicalValues: ['work'] }),
      {
        name: 'primary',
        type: 'boolean',
        multiValued: false,
        description: 'Always true.',
        required: false,
        mutability: 'readOnly',
        returned: 'default',
      },
    ],
  },
  {
    name: 'active',
    type: 'boolean',
    multiValued: false,
    description:
      'True while the user is ACTIVE. Setting false starts (or joins) the user\'s deletion wizard and freezes the user; ' +
      'setting true before CONFIRM cancels that wizard. Every CRM user has a status: a PATCH cannot remove it.',
    required: true,
    mutability: 'readWrite',
    returned: 'default',
  },
];

const meta = (base: string, resourceType: string, path: string) => ({ resourceType, location: `${base}${path}` });

export function serviceProviderConfig(base: string) {
  return {
    schemas: [SCIM.ServiceProviderConfig] as [typeof SCIM.ServiceProviderConfig],
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: SCIM_MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A workspace SCIM token from `npm run scim-token -- --workspace <slug>`, sent as Authorization: Bearer <token>.',
        primary: true,
      },
    ],
    meta: meta(base, 'ServiceProviderConfig', '/ServiceProviderConfig'),
  };
}

export function userResourceType(base: string) {
  return {
    schemas: [SCIM.ResourceType] as [typeof SCIM.ResourceType],
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: 'A user of the CRM workspace.',
    schema: SCIM.User,
    meta: meta(base, 'ResourceType', '/ResourceTypes/User'),
  };
}

export function userSchema(base: string) {
  return {
    schemas: [SCIM.Schema] as [typeof SCIM.Schema],
    id: SCIM.User,
    name: 'User',
    description: 'A user of the CRM workspace.',
    attributes: USER_ATTRIBUTES,
    meta: meta(base, 'Schema', `/Schemas/${SCIM.User}`),
  };
}

export function listOf<T>(resources: T[]) {
  return {
    schemas: [SCIM.ListResponse] as [typeof SCIM.ListResponse],
    totalResults: resources.length,
    startIndex: 1,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}
