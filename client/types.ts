// The wizard as the API (and scripts, and tests) see it: every operation of
// api.md's "deletion wizard" table. Implemented by client/wizard-client.ts over
// the Temporal client and the database mirror. Refusals are thrown as the
// named errors of domain/errors.ts (NotFound, StepConflict, RuleViolation);
// a start, step, cancel or retry the wizard does not answer within its limit
// (10 s) throws Unavailable, and may still apply: `get` shows whether it did.
import type {
  Actor,
  AuditEvent,
  AutomationsStepBody,
  CancelBody,
  ConfirmBody,
  Deletion,
  DeletionStatus,
  IntegrationsStepBody,
  LabelsStepBody,
  LeadsStepBody,
  Role,
} from '../domain/schemas';
import type { Page } from '../domain/pagination';

export type { Page };

export interface StartDeletionArgs {
  workspaceId: string;
  userId: string;
  /** Who starts it: an admin (USER), the HR hook (HR, id = employeeId or "hr-hook"), an identity provider (IDP). */
  actor: Actor;
  source: Deletion['source'];
  reason?: string;
  /** HR only: the user stays SUSPENDED until then, PENDING_DELETION after. */
  effectiveAt?: Date;
}

/** An API token's row and its user's, as one read gives them (api/auth.ts decides what they allow). */
export interface TokenRow {
  tokenHash: string;
  workspaceId: string;
  userId: string;
  userWorkspaceId: string;
  role: Role;
  status: string;
}

export interface WizardApi {
  /** Idempotent: the open wizard of that user if there is one (`created: false`). */
  start(args: StartDeletionArgs): Promise<{ deletion: Deletion; created: boolean }>;
  get(workspaceId: string, deletionId: string): Promise<Deletion>;
  /**
   * The wizard once it has ended, its status polled (every 20 ms, then up
   * to 400) until `deadline` (a time in ms; read once when it has passed),
   * or null while it is still open: for a request that waits out a cancel or
   * a confirm under way.
   */
  endedBy(workspaceId: string, deletionId: string, deadline: number): Promise<Deletion | null>;
  /**
   * This process has just changed these users' books (leads created or
   * delivered through the API): the lead totals it shares are let go, so the
   * next read counts afresh and a client sees the leads it just added.
   */
  leadsChanged(workspaceId: string, userIds: string[]): void;
  /**
   * Until when a wait for a wizard's state (a cancel, a removal, another
   * delivery's answer) may go on: the limit of the request being answered
   * (api.md: 10 s), counted from its first wait on a wizard, less a second to
   * answer in (client/request-deadline.ts); outside a request, from now.
   */
  stateWaitDeadline(): number;
  /**
   * GET /v1/deletions/{id} in one statement with its caller's token: the
   * token's row (null: no such token) and the wizard, when it is in that
   * token's workspace (null otherwise), to be rendered once the token is
   * accepted. Concurrent calls share statements (client/deletion-reads.ts).
   */
  readWithToken(tokenHash: string, deletionId: string): Promise<{ token: TokenRow | null; deletion: (() => Promise<Deletion>) | null }>;
  list(workspaceId: string, q: { status?: DeletionStatus; limit: number; cursor?: string }): Promise<Page<Deletion>>;
  submitLeads(workspaceId: string, deletionId: string, actor: Actor, body: LeadsStepBody): Promise<Deletion>;
  submitAutomations(workspaceId: string, deletionId: string, actor: Actor, body: AutomationsStepBody): Promise<Deletion>;
  submitIntegrations(workspaceId: string, deletionId: string, actor: Actor, body: IntegrationsStepBody): Promise<Deletion>;
  submitLabels(workspaceId: string, deletionId: string, actor: Actor, body: LabelsStepBody): Promise<Deletion>;
  confirm(workspaceId: string, deletionId: string, actor: Actor, body: ConfirmBody): Promise<Deletion>;
  cancel(workspaceId: string, deletionId: string, actor: Actor, body: CancelBody): Promise<Deletion>;
  /** Tries again the background work the database refused for good (`attention`); StepConflict when nothing waits. */
  retry(workspaceId: string, deletionId: string): Promise<Deletion>;
  /**
   * A later offboarding says the user leaves at `effectiveAt` (null: now): a
   * wizard waiting for HR's date waits only until then, if it is sooner.
   * Answers nothing: its caller has the wizard already.
   */
  bringForward(workspaceId: string, deletionId: string, actor: Actor, effectiveAt: Date | null): Promise<void>;
  audit(workspaceId: string, deletionId: string, q: { limit: number; cursor?: string }): Promise<Page<AuditEvent>>;
  /**
   * Once the Temporal calls of requests answered at their wait limit have
   * ended (past it the SDK may still wait out one retry's backoff, up to
   * ~6 s, before its call fails on the deadline): await it before closing
   * the Temporal connection, which such a retry would find shut.
   */
  settled(): Promise<void>;
}
