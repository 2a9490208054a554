// One zod schema per shape of api.md, reused by the HTTP layer (validation and
// the OpenAPI document), the workflow (update arguments) and the tests.
// Pure: no I/O, safe inside the Temporal workflow sandbox.
import { z } from 'zod';
import { START_BLOCKER_CODES } from './start-blockers';

// ---- Primitives: every string and timestamp the server accepts is one ----
//
// The edge refuses what the database would (api.md Conventions), so a value
// PostgreSQL cannot store never reaches a query or a wizard. Each check is a
// regex, so the OpenAPI document carries it as a `pattern`: it says exactly
// what the server checks.

/**
 * Well-formed Unicode with no NUL: no lone surrogate (`"\ud800"`, what a
 * client sends when it cuts a string in the middle of an emoji), which
 * `text` and `jsonb` refuse, and no U+0000, which `text` refuses. With the
 * `u` flag a surrogate pair is one code point (outside the class), a lone
 * surrogate is a code point inside it.
 */
export const STORABLE_TEXT = /^[^\u0000\uD800-\uDFFF]*$/u;
export const TEXT_MESSAGE = 'must be well-formed Unicode with no NUL character';
/** Any string the server accepts. Build every string field from this one. */
export const Text = z.string().regex(STORABLE_TEXT, TEXT_MESSAGE);

/** The years a timestamp may have, as written: 1970 to 9999. */
export const TIMESTAMP_YEARS = /^(?:19[7-9]\d|[2-9]\d{3})-/;
const FIRST_INSTANT = Date.UTC(1970, 0, 1);
const LAST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/**
 * An ISO 8601 date-time with an offset (`Z` or `±hh:mm`), in the years
 * 1970–9999: as written, and as an instant (`9999-12-31T23:59:59-14:00` is in
 * the year 10000, which the server could only write back as `+010000-…`).
 */
export const Timestamp = z.iso
  // abort: a string that is no date-time is told so once, not also about its year.
  .datetime({ offset: true, abort: true })
  .regex(TIMESTAMP_YEARS, { message: 'must lie between the years 1970 and 9999', abort: true })
  .refine((s) => {
    const at = Date.parse(s);
    return at >= FIRST_INSTANT && at <= LAST_INSTANT;
  }, 'must lie between the years 1970 and 9999 (in UTC)')
  .meta({ format: 'date-time' });

export const Id = Text.min(1).max(200);

export const ROLES = ['OWNER', 'ADMIN', 'MEMBER'] as const;
export const USER_STATUSES = ['ACTIVE', 'SUSPENDED', 'PENDING_DELETION'] as const;
export const VISIBILITIES = ['PRIVATE', 'SHARED', 'PUBLIC'] as const;
export const DELETION_STATUSES = ['IN_PROGRESS', 'COMPLETED', 'CANCELLED', 'FAILED'] as const;
export const STEPS = ['LEADS', 'AUTOMATIONS', 'INTEGRATIONS', 'LABELS', 'CONFIRM', 'DONE'] as const;
export const ACTOR_TYPES = ['USER', 'HR', 'IDP', 'SYSTEM'] as const;
export const DELETION_SOURCES = ['ADMIN', 'HR', 'IDP'] as const;

export const Role = z.enum(ROLES);
export const UserStatus = z.enum(USER_STATUSES);
export const Visibility = z.enum(VISIBILITIES);
export const DeletionStatus = z.enum(DELETION_STATUSES);
export const Step = z.enum(STEPS);
export const ActorType = z.enum(ACTOR_TYPES);
export type Role = z.infer<typeof Role>;
export type UserStatus = z.infer<typeof UserStatus>;
export type Visibility = z.infer<typeof Visibility>;
export type DeletionStatus = z.infer<typeof DeletionStatus>;
export type Step = z.infer<typeof Step>;
export type ActorType = z.infer<typeof ActorType>;

/** At most this many members in one distribution. */
export const MAX_DISTRIBUTION_MEMBERS = 100;

export const DistributionMember = z.strictObject({
  userId: Id,
  // Any JSON number here: "a positive whole number" is, like the sum to 100,
  // a business rule (422) checked by `distributionProblem`, not a shape (400).
  weight: z.number().describe('A positive whole number; the weights of a distribution add up to 100.'),
});
/**
 * Shape only: positive whole weights, the sum-to-100 and no-duplicates rules
 * are business rules (422), checked by `distributionProblem` in
 * distribution.ts, not here (400).
 */
export const Distribution = z.array(DistributionMember).min(1).max(MAX_DISTRIBUTION_MEMBERS);
export type DistributionMember = z.infer<typeof DistributionMember>;
export type Distribution = z.infer<typeof Distribution>;

/**
 * An address as RFC 5322 §3.4.1 writes one: a local part of dot-separated
 * atoms (any character but specials, spaces and control or format
 * characters: `#`, `/`, `&`, `=`, `~`, `'` and letters of any script, RFC
 * 6531, included; an Entra guest signs in as `name_domain#EXT#@tenant`) or
 * one quoted string; a domain of ASCII labels (an internationalised one as
 * its punycode, so that one mailbox is one string) ending in a top level of
 * two letters or more, or an IPv4 literal.
 */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)';
export const EMAIL_ADDRESS = new RegExp(
  '^(?:[^\\p{C}\\s<>()[\\]\\\\.,;:@"]+(?:\\.[^\\p{C}\\s<>()[\\]\\\\.,;:@"]+)*|"(?:[^"\\\\\\p{C}]|\\\\[^\\p{C}])*")' +
    `@(?:\\[${OCTET}(?:\\.${OCTET}){3}\\]|(?:[a-z\\d](?:[a-z\\d-]{0,61}[a-z\\d])?\\.)+(?:[a-z]{2,63}|xn--[a-z\\d-]{1,59}))$`,
  'u',
);
// The documents (OpenAPI) show the input side of a schema; `meta` says there
// what the pipes and the trim check on it.
export const Email = Text
  .max(320)
  .trim()
  .normalize('NFC')
  .toLowerCase()
  .pipe(z.email({ pattern: EMAIL_ADDRESS }))
  .pipe(z.string().max(320))
  .meta({ format: 'idn-email', maxLength: 320, description: 'An email address as RFC 5322 writes one, its local part in any script (RFC 6531), its domain in ASCII (punycode); trimmed, NFC, compared in lower case.' });
// .max before .trim: the documented maxLength holds on the value as sent (a longer one padded with spaces was taken).
const Name = Text.max(200)
  .trim()
  .min(1)
  .regex(/\S/, 'must hold a character that is not a space')
  .meta({ description: 'At least one character that is not a space.' });

// ---- Directory ----------------------------------------------------------

export const User = z.object({
  id: Id,
  name: z.string(),
  email: z.string(),
  role: Role,
  status: UserStatus,
});
export type User = z.infer<typeof User>;
export const CreateUserBody = z.strictObject({ name: Name, email: Email, role: Role });

export const LeadInput = z.strictObject({
  name: Name,
  email: Text.max(320).trim().optional(),
  phone: Text.max(64).trim().optional(),
});
export const MAX_LEADS_PER_REQUEST = 10_000;
export const BulkLeadsBody = z.strictObject({
  leads: z.array(LeadInput.extend({ ownerId: Id })).min(1).max(MAX_LEADS_PER_REQUEST),
});
export const SourceLeadsBody = z.strictObject({
  leads: z.array(LeadInput).min(1).max(MAX_LEADS_PER_REQUEST),
});
export const Lead = z.object({
  id: Id,
  name: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  ownerId: Id,
});
export type Lead = z.infer<typeof Lead>;

export const Automation = z.object({ id: Id, name: z.string(), distribution: Distribution });
export type Automation = z.infer<typeof Automation>;
export const CreateAutomationBody = z.strictObject({ name: Name, distribution: Distribution });

export const Integration = z.object({
  id: Id,
  name: z.string(),
  source: z.string(),
  distribution: Distribution,
});
export type Integration = z.infer<typeof Integration>;
export const CreateIntegrationBody = z.strictObject({
  name: Name,
  source: Text.max(200).regex(/\S/, 'must hold a character that is not a space').trim(),
  distribution: Distribution,
});

export const MAX_LABEL_MEMBERS = 1_000;
export const Label = z.object({
  id: Id,
  name: z.string(),
  visibility: Visibility,
  ownerId: Id,
  memberIds: z.array(Id),
});
export type Label = z.infer<typeof Label>;
export const CreateLabelBody = z.strictObject({
  name: Name,
  visibility: Visibility,
  ownerId: Id,
  memberIds: z.array(Id).max(MAX_LABEL_MEMBERS),
});

// ---- The deletion wizard --------------------------------------------------

export const Actor = z.object({ type: ActorType, id: z.string() });
export type Actor = z.infer<typeof Actor>;

export const Reason = Text.max(2_000);
export const StartDeletionBody = z.strictObject({ reason: Reason.optional() });

/** Step 1: one target user, or a distribution over several. */
export const LeadsStepBody = z.xor([
  z.strictObject({ targetUserId: Id }),
  z.strictObject({ distribution: Distribution }),
]);
export type LeadsStepBody = z.infer<typeof LeadsStepBody>;

export const MAX_STEP_ITEMS = 10_000;
export const AutomationsStepBody = z.strictObject({
  overrides: z.array(z.strictObject({ automationId: Id, distribution: Distribution })).max(MAX_STEP_ITEMS),
});
export type AutomationsStepBody = z.infer<typeof AutomationsStepBody>;
export const IntegrationsStepBody = z.strictObject({
  overrides: z.array(z.strictObject({ integrationId: Id, distribution: Distribution })).max(MAX_STEP_ITEMS),
});
export type IntegrationsStepBody = z.infer<typeof IntegrationsStepBody>;
export const LabelsStepBody = z.strictObject({
  replacements: z
    .array(z.strictObject({ labelId: Id, replacementUserId: Id.nullable() }))
    .max(MAX_STEP_ITEMS),
});
export type LabelsStepBody = z.infer<typeof LabelsStepBody>;
// Any string but exactly CONFIRM is a 422 (api.md), however long: no length limit here (client/wizard-client.ts shortens it).
export const ConfirmBody = z.strictObject({ confirmation: Text });
export type ConfirmBody = z.infer<typeof ConfirmBody>;
export const CancelBody = z.strictObject({ reason: Reason.optional() });
export type CancelBody = z.infer<typeof CancelBody>;
/** Try again the background work the database refused (`attention`): nothing to say, `{}` or no body. */
export const RetryBody = z.strictObject({});
export type RetryBody = z.infer<typeof RetryBody>;

export const LeadsState = z.object({
  total: z.number().int(),
  moved: z.number().int(),
  swept: z.number().int(),
  state: z.enum(['PENDING', 'MOVING', 'DONE']),
  distribution: Distribution.nullable(),
});
export type LeadsState = z.infer<typeof LeadsState>;

/** An automation or integration as the wizard shows it. */
export const RoutingItem = z.object({
  id: Id,
  name: z.string(),
  current: Distribution,
  suggested: Distribution.nullable(),
  requiresReplacement: z.boolean(),
  applied: Distribution.nullable(),
});
export type RoutingItem = z.infer<typeof RoutingItem>;

export const LabelItem = z.object({
  id: Id,
  name: z.string(),
  visibility: Visibility,
  replacementUserId: Id.nullable(),
  applied: z.boolean(),
});
export type LabelItem = z.infer<typeof LabelItem>;

export const Deletion = z.object({
  id: Id,
  workflowId: z.string(),
  status: DeletionStatus,
  step: Step,
  user: z.object({ id: Id, name: z.string(), email: z.string() }),
  source: z.enum(DELETION_SOURCES),
  reason: z.string().nullable(),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** HR's date the user leaves: until then they stay SUSPENDED and CONFIRM answers 409; null when none was given. */
  effectiveAt: z
    .string()
    .nullable()
    .meta({ description: "When the user leaves, as HR gave it (or a later offboarding brought it forward): until then the user stays SUSPENDED and CONFIRM answers 409. Null when no date was given." }),
  /** Set while the wizard cannot go on by itself (work the database keeps refusing), with the reason; null otherwise. */
  attention: z.object({ reason: z.string(), since: z.string() }).nullable(),
  leads: LeadsState,
  automations: z.array(RoutingItem),
  integrations: z.array(RoutingItem),
  labels: z.array(LabelItem),
});
export type Deletion = z.infer<typeof Deletion>;

// ---- Who is signed in, and what a deletion would involve -------------------

export const Workspace = z.object({ id: Id, slug: z.string(), name: z.string() });
export type Workspace = z.infer<typeof Workspace>;
/** `GET /v1/me`: who the token acts as, so a client shows only what this role may do. */
export const Me = z.object({ user: User, workspace: Workspace });
export type Me = z.infer<typeof Me>;

/** Why starting a deletion would be refused now (rules.ts `startDeletionBlockers`; the codes in start-blockers.ts). */
export { START_BLOCKER_CODES };
export const StartBlockerCode = z.enum(START_BLOCKER_CODES);
export type StartBlockerCode = z.infer<typeof StartBlockerCode>;
export const StartBlocker = z.object({ code: StartBlockerCode, message: z.string() });
export type StartBlocker = z.infer<typeof StartBlocker>;

/** `GET /v1/users/{userId}/deletion-preview`: what the wizard would show, changing nothing. */
export const DeletionPreview = z.object({
  user: z.object({ id: Id, name: z.string(), email: z.string() }),
  leads: z.object({ total: z.number().int() }),
  automations: z.array(RoutingItem),
  integrations: z.array(RoutingItem),
  labels: z.array(LabelItem),
  blockers: z.array(StartBlocker),
  /** The wizard already open for the user: starting answers 200 with it (not a refusal, so no blocker). */
  openDeletionId: Id.nullable().meta({
    description: 'The deletion already open for this user (starting answers 200 with it, and opens nothing new); null when none is.',
  }),
});
export type DeletionPreview = z.infer<typeof DeletionPreview>;

export const AuditEvent = z.object({
  id: Id,
  at: z.string(),
  actor: Actor,
  action: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
export type AuditEvent = z.infer<typeof AuditEvent>;

/**
 * When HR says the employee leaves: a Timestamp, or a date alone
 * (`2027-01-31`, as HR exports write a termination date), which is that day
 * at 00:00 UTC (how `new Date` reads it).
 */
const HookDate = z.iso.date().regex(TIMESTAMP_YEARS);
export const EffectiveAt = Text.refine(
  // (Text that is not storable is told so by Text alone.)
  // RFC 3339 §5.6 allows a lower-case `t` and `z` (the letters are the only ones a date-time holds).
  (s) => !STORABLE_TEXT.test(s) || Timestamp.safeParse(s.toUpperCase()).success || HookDate.safeParse(s).success,
  'must be an ISO 8601 date-time with an offset (2027-01-31T17:00:00Z, or +01:00) or a date (2027-01-31, ' +
    'read as 00:00 UTC), in the years 1970 to 9999',
).meta({
  description:
    'When the employee leaves: an RFC 3339 date-time with an offset (2027-01-31T17:00:00Z; `t` and `z` in lower case ' +
    'too), or a date alone (2027-01-31: that day at 00:00 UTC); years 1970 to 9999, as written and as an instant.',
  // What the refinement checks, for the document (a union would report a refused value per branch).
  anyOf: [
    { type: 'string', format: 'date-time', pattern: TIMESTAMP_YEARS.source },
    { type: 'string', format: 'date', pattern: TIMESTAMP_YEARS.source },
  ],
});

export const HookBody = z.strictObject({
  email: Email,
  employeeId: Text.max(200).regex(/\S/, 'must hold a character that is not a space').trim().optional(),
  effectiveAt: EffectiveAt.optional(),
});
export type HookBody = z.infer<typeof HookBody>;

// ---- Lists ----------------------------------------------------------------

const LIMIT_RULE = 'must be a whole number from 1 to 500';
/**
 * A page's size as a query parameter writes it: decimal digits only (what
 * `Number()` would also read, `0x10`, `1e2`, ` 5`, `5.0`, is no limit).
 */
const Limit = z
  .preprocess(
    (v) => (typeof v === 'string' && /^[0-9]{1,9}$/.test(v) ? Number(v) : v),
    z.number({ error: LIMIT_RULE }).int(LIMIT_RULE).min(1, LIMIT_RULE).max(500, LIMIT_RULE).default(50),
  )
  .meta({ description: 'How many items a page holds at most: 1 to 500 (50 when left out), in decimal digits.' });

export const ListQuery = z.strictObject({
  limit: Limit,
  // What is inside is checked when it is decoded (domain/pagination.ts), with these same primitives.
  cursor: Text.max(500)
    .meta({ description: 'The nextCursor of the page before; any cursor this server did not hand out is 400.' })
    .optional(),
});
/** The query of a route that takes none: any parameter is unknown (400 naming it). */
export const NoQuery = z.strictObject({});

export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type Problem = z.infer<typeof Problem>;

// ---- HTTP envelopes (api/): path, query and small answer shapes -------------

/**
 * Path ids: any storable string; one that does not exist in the workspace is
 * 404, not 400.
 */
export const IdParams = z.object({ id: Text });
export const UserIdParams = z.object({ userId: Text });
export const HookParams = z.object({ workspaceSlug: Text });
export const UsersQuery = ListQuery.extend({ status: UserStatus.optional() });
/** A blank `ownerId=` names nobody: 400, not a lookup of an empty id. */
const OwnerIdQuery = Text.min(1, 'must not be empty').max(500).optional();
export const LeadsQuery = ListQuery.extend({ ownerId: OwnerIdQuery });
export const LeadCountQuery = z.strictObject({ ownerId: OwnerIdQuery });
export const DeletionsQuery = ListQuery.extend({ status: DeletionStatus.optional() });
export const CreatedCount = z.object({ created: z.number().int() });
export const LeadCount = z.object({ count: z.number().int() });
export const DeliveredLeads = z.object({
  created: z.number().int(),
  /** userId → number of the new leads that user received. */
  owners: z.record(z.string(), z.number().int()),
});
export const HookAccepted = z.object({ deletionId: Id });
export const Health = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.enum(['ok', 'down']),
  temporal: z.enum(['ok', 'down']),
});
export type Health = z.infer<typeof Health>;
