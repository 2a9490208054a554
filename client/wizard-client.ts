// The wizard seen from outside the workflow: start it (idempotently), send
// step inputs as Workflow Updates, and read it back. Reads come from the
// Deletion row the workflow mirrors (plus live move progress), so listing and
// reading work even while no worker runs. A read of one wizard is ONE indexed
// statement (the row and its moves' committed counts, joined; GET
// /v1/deletions/{id} joins the caller's token in too and shares the statement
// with the reads arriving together: client/deletion-reads.ts); before the
// move starts, the user's lead total comes from a count shared for at most
// `LEAD_TOTAL_MAX_AGE_MS` (see `leadTotals`), and at the automations or
// integrations step its items as they are now from one more statement, shared
// the same way (`live`). Refusals become the named errors of
// domain/errors.ts, which the API maps to 404/409/422. No call waits on a
// wizard longer than `waitLimitMs` (api.md: 10 s): past that it is
// Unavailable (503), and a later read shows whether the change applied.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  ServiceError,
  WithStartWorkflowOperation,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { PrismaClient } from '../generated/prisma/client';
import { notInWorkspace, RuleViolation, StepConflict, Unavailable } from '../domain/errors';
import { refusalError } from '../domain/refusal';
import { decodeTimeCursor, encodeTimeCursor, pageOf } from '../domain/pagination';
import { routingContents, routingRows, startProblem, type RoutingRow } from '../activities/shared';
import { onceKey, type AuditAction } from '../domain/audit';
import { CONFIRMATION_TEXT } from '../domain/rules';
import type { Actor, AuditEvent, Deletion, RoutingItem } from '../domain/schemas';
import { DeletionStatus, DeletionStep, DeletionUserId, DeletionWorkspaceId } from '../domain/search-attributes';
import { ackOf, cancelledView, deletionWorkflowId, routingNow, storableText, type WizardAck, type WizardInput } from '../domain/wizard-state';
import { wizardRecordActivities } from '../activities/wizard-records';
import { jsonBytes, LONE_STEP_BODY_BYTES } from '../domain/wizard-size';
import { waitingSince } from './request-deadline';
import { takeStepLease } from './step-lease';
import type { Config } from '../infra/config';
import * as defs from '../workflows/definitions';
import type { deletionWizard } from '../workflows/deletion-wizard';
import { deletionReads, type DeletionRead } from './deletion-reads';
import type { Page, StartDeletionArgs, WizardApi } from './types';

export interface WizardClientDeps {
  temporal: Client;
  prisma: PrismaClient;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
  /** Longest wait on a wizard (start, step, cancel) before giving up with Unavailable. Default 10 s (api.md). */
  waitLimitMs?: number;
  /** Oldest lead total a read may show before the move starts (default `LEAD_TOTAL_MAX_AGE_MS`). */
  leadTotalMaxAgeMs?: number;
  /** How long a large step body's lease lasts when its wizard does not answer in time (default `STEP_LEASE_MS`). */
  stepLeaseMs?: number;
}

/** api.md: no request waits on a wizard for more than 10 seconds. */
export const WIZARD_WAIT_LIMIT_MS = 10_000;

/** What a request keeps of that limit to answer in: one waiting for a wizard's state to change waits the rest. */
const ANSWER_MARGIN_MS = 1_000;

/** Less than this left of a request's limit: a call to a wizard is not begun (it could only end in "may still apply"). */
const LEAST_CALL_MS = 1_000;

/** The longest a check of whether a wizard's workflow has closed may take (`cancelOrphan`): Temporal away, it is taken as running. */
const ORPHAN_CHECK_MS = 2_000;

/** A call to a wizard not begun, the request's limit spent on its earlier waits: nothing was sent. */
export class NothingSent extends Unavailable {}

/** The wizard's workflow has closed (Temporal answers an update to it "not found"): 409 unless `cancelOrphan` applies. */
export class WizardGone extends StepConflict {}

/**
 * gRPC failures of an update call that say the server let go of the update
 * without recording it as accepted, or that its answer may have been lost on
 * the way (what the SDK's own retries left):
 * - FAILED_PRECONDITION, "unexpected workflow task failure" or "Workflow Task
 *   in failed state" (ABORTED_WITH_ITS_TASK): the workflow task carrying it
 *   failed or timed out under load, and the server aborted the update before
 *   the wizard took it, or refused it at once. An aborted update may stay
 *   aborted under its id, so it is sent again under a new one: it never
 *   applied, and never will;
 * - UNAVAILABLE, ABORTED, RESOURCE_EXHAUSTED: the server or the connection was
 *   briefly away or busy, and the update may have been admitted. Sent again
 *   under the same id, the server takes it now or answers from its record of
 *   the first: never applied twice.
 */
const SENT_AGAIN_AS_NEW = new Set<number>([grpcStatus.FAILED_PRECONDITION]);
const SENT_AGAIN_AS_IS = new Set<number>([grpcStatus.UNAVAILABLE, grpcStatus.ABORTED, grpcStatus.RESOURCE_EXHAUSTED]);

/**
 * The server's words for an update it let go of because of the workflow's
 * task: aborted with the task that carried it ("unexpected workflow task
 * failure"), or refused at once while the task keeps failing or timing out
 * ("Workflow Task in failed state": its third attempt on, as a task holding a
 * long local transaction can on a loaded machine). Its other
 * FAILED_PRECONDITIONs are not that.
 */
const ABORTED_WITH_ITS_TASK = /unexpected workflow task failure|workflow task in failed state/i;

/** The gRPC code of an update call's failure, when it is one the server let go of the update with (see above). */
function letGoCode(err: unknown): number | null {
  if (!(err instanceof ServiceError)) return null;
  const cause = err.cause as { code?: unknown; details?: unknown } | undefined;
  const code = cause?.code;
  if (typeof code !== 'number') return null;
  if (SENT_AGAIN_AS_IS.has(code)) return code;
  return SENT_AGAIN_AS_NEW.has(code) && ABORTED_WITH_ITS_TASK.test(String(cause?.details ?? '')) ? code : null;
}

/** Whether the server let go of an update (see above): sent again while the request's limit allows. */
export function letGoOf(err: unknown): boolean {
  return letGoCode(err) !== null;
}

/** First pause before an update the server let go of is sent again; doubled each time, up to the last. */
const SEND_AGAIN_FIRST_PAUSE_MS = 100;
const SEND_AGAIN_LAST_PAUSE_MS = 1_000;

/**
 * `send`, sent again after each failure that `letGoOf` names while at least
 * LEAST_CALL_MS would be left after the pause (under the same update id, or a
 * new one after an abort); the last failure is thrown otherwise.
 */
async function untilTaken<T>(send: (signal: AbortSignal, updateId: string) => Promise<T>, signal: AbortSignal, deadline: number): Promise<T> {
  let updateId = randomUUID();
  /** An earlier send may have been taken: a refusal of a later one may be about that one having applied. */
  let mayHaveApplied = false;
  for (let pause = SEND_AGAIN_FIRST_PAUSE_MS; ; pause = Math.min(2 * pause, SEND_AGAIN_LAST_PAUSE_MS)) {
    try {
      return await send(signal, updateId);
    } catch (err) {
      const code = letGoCode(err);
      if (mayHaveApplied && code === null && refusalFrom(err) instanceof StepConflict) {
        // Its wizard has moved on (or ended) since: by the first send, or by someone else. Read to see.
        throw new MayHaveApplied('An earlier try of this may have applied; read the deletion to see, and send it again if it did not.');
      }
      if (code === null || deadline - Date.now() < pause + LEAST_CALL_MS) throw err;
      if (SENT_AGAIN_AS_NEW.has(code)) updateId = randomUUID();
      else mayHaveApplied = true;
      await sleep(pause, undefined, { signal });
    }
  }
}

/** A send again refused after an earlier try may have applied: Unavailable (503, read and send again), not the refusal. */
export class MayHaveApplied extends Unavailable {}

/** Turns a refused update into the named error the API maps; anything else is rethrown. */
export function refusalFrom(err: unknown): Error {
  const refusal = refusalError(err);
  if (refusal) return refusal;
  if (err instanceof WorkflowNotFoundError) return new WizardGone('This wizard is no longer running.');
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * api.md: `leads.total` is the live count of the user's leads until the move
 * starts. Counting a book of a million leads on every read (a page polls every
 * 500 ms, a hundred pages at once) would cost more than everything else a read
 * does, so a count is shared: every read of the same user's total within this
 * many milliseconds of when that count began (reads arriving while it runs
 * included) gets its result. The total a read shows is therefore at most 2 s
 * old; once the move starts it is the move's snapshot and is never counted.
 */
export const LEAD_TOTAL_MAX_AGE_MS = 2_000;

/** A count of each user's leads, begun at most `maxAgeMs` ago, shared by every caller meanwhile. */
export function leadTotals(count: (workspaceId: string, userId: string) => Promise<number>, maxAgeMs: number) {
  return recentlyShared(count, maxAgeMs);
}

/** A shared read, and how to let go of what it holds for some arguments (the next call reads afresh). */
export type SharedRead<A extends unknown[], T> = ((...args: A) => Promise<T>) & { forget(...args: A): void };

/**
 * `read`, shared: every call with the same arguments within `maxAgeMs` of when
 * a read of them began (calls arriving while it runs included) gets its
 * result, until `forget` lets go of it.
 */
export function recentlyShared<A extends unknown[], T>(
  read: (...args: A) => Promise<T>,
  maxAgeMs: number,
  /** What makes two calls the same read. */
  keyOf: (...args: A) => string = (...args) => args.join('\u0000'),
): SharedRead<A, T> {
  const reads = new Map<string, { begun: number; value: Promise<T> }>();
  let swept = Date.now();
  const shared = (...args: A): Promise<T> => {
    const key = keyOf(...args);
    const now = Date.now();
    const known = reads.get(key);
    if (known && now - known.begun < maxAgeMs) return known.value;
    // Reads past their age are let go (at most one sweep per `maxAgeMs`): nothing is kept longer than it may be used.
    if (now - swept >= maxAgeMs) {
      swept = now;
      for (const [k, c] of reads) if (now - c.begun >= maxAgeMs) reads.delete(k);
    }
    const value = read(...args);
    const entry = { begun: now, value };
    reads.set(key, entry);
    // A failed read is not shared: the next call tries again.
    value.catch(() => reads.get(key) === entry && reads.delete(key));
    return value;
  };
  return Object.assign(shared, { forget: (...args: A) => void reads.delete(keyOf(...args)) });
}

type RoutingKind = 'automations' | 'integrations';

/** The routing kind a wizard in progress is at the step of, with items to show as they are now; null otherwise. */
function routingStepOf(view: Deletion): RoutingKind | null {
  if (view.status !== 'IN_PROGRESS') return null;
  const kind = view.step === 'AUTOMATIONS' ? 'automations' : view.step === 'INTEGRATIONS' ? 'integrations' : null;
  return kind && view[kind].length > 0 ? kind : null;
}

const byId = (rows: RoutingRow[]) => new Map(rows.map((row) => [row.id, row]));

/**
 * A confirmation text as the wizard needs it: any string but exactly CONFIRM is
 * refused (422, api.md), so one longer than that is cut to one character more
 * (still not CONFIRM): a megabyte typed there never enters the wizard's history.
 */
export function shortConfirmation(text: string): string {
  const keep = CONFIRMATION_TEXT.length + 1;
  // By code points (from at most twice as many UTF-16 units): a character is never cut in half.
  return text.length > keep ? Array.from(text.slice(0, 2 * keep)).slice(0, keep).join('') : text;
}

/** A timestamp column as read (a Date, or its text), in the views' ISO form. */
const isoOf = (at: Date | string | null) => (at === null ? null : new Date(at).toISOString());

/** A deletion row as `row` reads it: a read's fields, and the workflow's id and status. */
interface DeletionRow extends DeletionRead {
  workflowId: string;
  status: string;
}

/** The wait limit passed before the wizard answered (`askWizard`). */
const TIMED_OUT = Symbol('timed out');
/** Past a call's deadline, the SDK may still wait out one retry's backoff (5 s, ±20 %) before the call fails. */
const SETTLE_SLACK_MS = 7_000;

export function createWizardClient(deps: WizardClientDeps): WizardApi {
  const { temporal, prisma, config } = deps;
  const waitLimitMs = deps.waitLimitMs ?? WIZARD_WAIT_LIMIT_MS;
  /** The end of the request's limit on waiting for wizards, counted from its first wait (client/request-deadline.ts). */
  const waitDeadline = () => waitingSince() + waitLimitMs;
  /** WizardApi.stateWaitDeadline: that end, less the time to answer in. */
  const stateWaitDeadline = () => waitDeadline() - ANSWER_MARGIN_MS;
  /** The Temporal work of requests not yet ended (`settled`). */
  const inFlight = new Set<Promise<void>>();

  /**
   * One call to the wizard, given up after `waitLimitMs`: the abort cancels the
   * gRPC calls in flight (the SDK then throws WorkflowUpdateRPCTimeoutOrCancelledError).
   * A refusal that arrived in time stays a refusal; anything else after the
   * limit is Unavailable. The wizard may still apply what was sent (an update
   * the server admitted usually reaches the workflow), or may not (one not yet
   * recorded as accepted is lost if the server lets go of it, e.g. when its
   * task times out under load, and nobody is left to send it again), which is
   * why the answer is "read, and send it again if it did not apply", not
   * "refused". An update writes nothing before it is recorded, so the read
   * tells the two apart (workflows/deletion-wizard.ts, PATCH.acceptedFirst).
   * With `sendAgain` (an update, `call` sending it under the id it is given),
   * an update the server let go of at once is sent again within the limit
   * (`untilTaken`), and answered Unavailable only once the limit is near.
   */
  async function askWizard<T>(call: (signal: AbortSignal, updateId: string) => Promise<T>, opts: { sendAgain?: boolean } = {}): Promise<T> {
    // Within a request, the limit counts from its first wait on a wizard: what it waited before (a cancel
    // under way, a removal) is part of it (client/request-deadline.ts). Too little left: nothing is sent.
    const deadline = waitDeadline();
    const remaining = deadline - Date.now();
    if (remaining < LEAST_CALL_MS) {
      throw new NothingSent(
        `This request has waited on the wizard for ${Math.round(waitLimitMs / 1000)} s already (api.md's limit); nothing more was sent: send it again in a moment.`,
      );
    }
    const signal = AbortSignal.timeout(remaining);
    // Each gRPC call the SDK makes under it listens to it until the request ends: an update sent
    // again (`untilTaken`, up to ~15 times in 10 s) is more calls than Node's default warning of 10.
    setMaxListeners(64, signal);
    // The limit is also every gRPC call's deadline: the abort cancels the calls in flight when it fires,
    // but the SDK's retry of a call that failed (Temporal unreachable: a new call after a backoff of up to
    // 5 s, up to 10 times) starts a call nobody would cancel, and the request waited for all of them.
    const work = temporal.withDeadline(deadline, () => temporal.withAbortSignal(signal, () => (opts.sendAgain ? untilTaken(call, signal, deadline) : call(signal, randomUUID()))));
    const ended = work.then(
      () => undefined,
      () => undefined,
    );
    inFlight.add(ended);
    void ended.then(() => inFlight.delete(ended));
    // And the answer does not wait for what the SDK may still wait on (a retry's backoff timer).
    const limit = new Promise<typeof TIMED_OUT>((resolve) => signal.addEventListener('abort', () => resolve(TIMED_OUT), { once: true }));
    try {
      const answer = await Promise.race([work, limit]);
      if (answer === TIMED_OUT) throw signal.reason;
      return answer;
    } catch (err) {
      const refusal = refusalFrom(err);
      if (refusal instanceof StepConflict || refusal instanceof RuleViolation) throw refusal;
      if (signal.aborted || Date.now() >= deadline || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || letGoOf(err)) {
        throw new Unavailable(
          `The wizard did not answer within this request's ${Math.round(waitLimitMs / 1000)} s (its worker may be busy or away). ` +
            'What you sent may still apply: read the deletion to see, and send it again if it did not.',
        );
      }
      throw refusal;
    }
  }

  const leadTotal = leadTotals(
    (workspaceId, userId) => prisma.lead.count({ where: { workspaceId, ownerId: userId } }),
    deps.leadTotalMaxAgeMs ?? LEAD_TOTAL_MAX_AGE_MS,
  );

  /** The row and its moves' committed counts in one statement (primary keys only). */
  async function row(workspaceId: string, deletionId: string): Promise<DeletionRow> {
    const [found] = await prisma.$queryRaw<DeletionRow[]>`
      SELECT d.id, d.workspace_id AS "workspaceId", d.user_id AS "userId", d.workflow_id AS "workflowId",
        d.status::text AS status, d.state, m.moved AS "moveMoved", s.moved AS "sweepMoved", d.effective_at AS "effectiveAt",
        GREATEST(m.updated_at, s.updated_at) AS "movedAt"
      FROM deletions d
      LEFT JOIN lead_moves m ON m.deletion_id = d.id AND m.kind = 'MOVE'
      LEFT JOIN lead_moves s ON s.deletion_id = d.id AND s.kind = 'SWEEP'
      WHERE d.id = ${deletionId} AND d.workspace_id = ${workspaceId}`;
    if (!found) throw notInWorkspace('Deletion', deletionId);
    return found;
  }

  /**
   * A routing step's items as they are now (a few rows by key), read for each
   * read of the wizard, never shared: another member's wizard opening or
   * cancelled is shown by the next read, as `{overrides: []}` would apply it
   * (a probe found a 2-s share showing the suggestion before).
   */
  const routingNowOf = async (kind: RoutingKind, r: DeletionRead, ids: string[]) => byId(await routingRows(prisma, kind, r.workspaceId, ids));

  /**
   * The mirrored state, with what changes between workflow transitions filled
   * in: the moves' counts committed with each batch, the lead total before
   * the move (shared count, see LEAD_TOTAL_MAX_AGE_MS), and at the
   * automations or integrations step, its items as they are now (domain
   * `routingNow`: what `{overrides: []}` applies at that moment), not as the
   * wizard listed them when it opened. `rows`: the routing step's items
   * already read, for a page of wizards (`list`: one read for the page); else
   * read here.
   */
  async function live(r: DeletionRead, rows?: Map<string, RoutingRow>): Promise<Deletion> {
    // Never changed in place: one read's row may answer several requests (client/deletion-reads.ts).
    // The date is the row's (moved forward there with its audit event); views mirrored before the field existed lack it.
    const view = { ...(r.state as Deletion), effectiveAt: isoOf(r.effectiveAt) };
    if (view.status !== 'IN_PROGRESS') return view;
    const leads = { ...view.leads };
    if (leads.state === 'PENDING') leads.total = await leadTotal(r.workspaceId, r.userId);
    if (r.moveMoved !== null && leads.state === 'MOVING') leads.moved = Math.max(leads.moved, r.moveMoved);
    if (r.sweepMoved !== null) leads.swept = Math.max(leads.swept, r.sweepMoved);
    // A move's batches change the wizard between its transitions: its last one is the wizard's last change.
    const movedAt = isoOf(r.movedAt);
    if (movedAt !== null && Date.parse(movedAt) > Date.parse(view.updatedAt)) view.updatedAt = movedAt;
    const kind = routingStepOf(view);
    if (!kind) return { ...view, leads };
    const now = rows ?? (await routingNowOf(kind, r, view[kind].map((item) => item.id)));
    const asNow = (item: RoutingItem) => {
      const row = now.get(item.id);
      return item.applied ? item : routingNow(item, row && routingContents(row, r.userId), r.userId);
    };
    return { ...view, leads, [kind]: view[kind].map(asNow) };
  }

  const readTogether = deletionReads(prisma);

  /**
   * The user's open wizard, to join, unless its cancel is already written
   * (the user ACTIVE again, DELETION_CANCELLED recorded) while its row does
   * not say CANCELLED yet (the wizard mirrors it a moment later): then the
   * row is awaited (within the wait limit, else Unavailable) and null
   * answered, so that a new wizard opens rather than the offboarding being
   * lost with this one. (An offboarding joining before the cancel's
   * transaction commits is cancelled with the wizard: the cancel came later.)
   * One whose workflow Temporal has closed without it is cancelled by `actor`
   * (`cancelOrphan`) and null answered: the offboarding opens a new wizard
   * rather than joining one that can never go on.
   */
  async function joinOpen(workspaceId: string, deletionId: string, actor: Actor): Promise<Deletion | null> {
    const orphaned = () => cancelOrphan(workspaceId, deletionId, actor, 'Its workflow had ended without it; a new offboarding opened another wizard.');
    let now: Deletion | null;
    if (await recorded(deletionId, 'DELETION_CANCELLED')) {
      // Its workflow may have closed between the cancel's transaction and the row's save: nobody else ends that row.
      if (await orphaned()) return null;
      now = await endedBy(workspaceId, deletionId, stateWaitDeadline());
      if (now === null) throw new Unavailable("This user's wizard is being cancelled; send this again in a moment: it then opens a new one.");
    } else {
      now = await live(await row(workspaceId, deletionId));
      if (now.status === 'IN_PROGRESS') {
        if (await orphaned()) return null;
        // Not an orphan, or another offboarding's cancel of it came first: as the row reads now.
        now = await live(await row(workspaceId, deletionId));
      }
    }
    // Ended: cancelled (or failed), a new wizard; completed (a confirm won), the user is gone: that one.
    return now.status === 'IN_PROGRESS' || now.status === 'COMPLETED' ? now : null;
  }

  /** WizardApi.endedBy: the status alone (one primary-key read) until it has ended, then the whole wizard once. */
  async function endedBy(workspaceId: string, deletionId: string, deadline: number): Promise<Deletion | null> {
    for (let wait = 20; ; wait = Math.min(wait * 2, 400)) {
      const r = await prisma.deletion.findFirst({ where: { id: deletionId, workspaceId }, select: { status: true } });
      if (!r) throw notInWorkspace('Deletion', deletionId);
      if (r.status !== 'IN_PROGRESS') return live(await row(workspaceId, deletionId));
      if (Date.now() + wait > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /** The wizard's row, to send it something: StepConflict once it has ended. */
  async function inProgress(workspaceId: string, deletionId: string): Promise<DeletionRow> {
    const r = await row(workspaceId, deletionId);
    if (r.status !== 'IN_PROGRESS') throw new StepConflict(`This deletion is already ${r.status}.`);
    return r;
  }

  /**
   * A cancel of a wizard whose row says IN_PROGRESS but whose workflow Temporal
   * has closed without it (terminated by an operator, or by Temporal itself
   * for a result it refused to record, as a probe once made it): nobody is
   * left to apply the cancel, and api.md says cancel always ends CANCELLED with
   * the user ACTIVE. So it is applied here as the workflow would (the cancel's
   * transaction: the user ACTIVE, a move's streams closed, DELETION_CANCELLED)
   * and the row written CANCELLED. Null (the 409 stands) while the workflow
   * runs, once the row has ended, or once the user was removed (USER_DELETED:
   * that wizard is done, not stuck).
   */
  async function cancelOrphan(workspaceId: string, deletionId: string, actor: Actor, reason: string | null): Promise<Deletion | null> {
    const found = await prisma.deletion.findFirst({
      where: { id: deletionId, workspaceId, status: 'IN_PROGRESS' },
      select: { workflowId: true, userId: true, state: true, version: true },
    });
    if (!found || !(await workflowClosedWithout(found.workflowId))) return null;
    // (Its cancel may be recorded already, its workflow closed before its save: the transaction below then
    // changes nothing, and the save ends the row. A workflow that saved meanwhile has a later version.)
    // Removed, or its confirm under way (its sweep begun): done or past cancelling, not this.
    if ((await recorded(deletionId, 'USER_DELETED')) || (await prisma.leadMove.findFirst({ where: { deletionId, kind: 'SWEEP' }, select: { kind: true } }))) {
      return null;
    }
    const records = wizardRecordActivities(prisma);
    let moved: number | null;
    try {
      ({ moved } = await records.cancelDeletion({ workspaceId, deletionId, userId: found.userId, actor, reason: storableText(reason) }));
    } catch (err) {
      // Another API process's cancel of it committed first (the once-only key): that one saves the row.
      if (await recorded(deletionId, 'DELETION_CANCELLED').catch(() => false)) return live(await row(workspaceId, deletionId));
      throw err;
    }
    const view = found.state as Deletion;
    const stopped = moved === null ? view : { ...view, leads: { ...view.leads, moved } };
    // One version past the row as read: any save that came since (another API process's cancel of it) stands.
    await records.saveDeletionState({ workspaceId, deletionId, view: cancelledView(stopped, new Date().toISOString()), version: found.version + 1 });
    return live(await row(workspaceId, deletionId));
  }

  /** Whether every run of the wizard's workflow has closed: its latest is not running, or is gone (past retention). */
  async function workflowClosedWithout(workflowId: string): Promise<boolean> {
    try {
      const run = await temporal.withDeadline(Date.now() + ORPHAN_CHECK_MS, () => temporal.workflow.getHandle(workflowId).describe());
      return ['TERMINATED', 'TIMED_OUT', 'FAILED', 'CANCELLED'].includes(run.status.name);
    } catch (err) {
      return err instanceof WorkflowNotFoundError;
    }
  }

  async function recorded(deletionId: string, action: AuditAction): Promise<boolean> {
    return (await prisma.auditEvent.findUnique({ where: { idempotencyKey: onceKey(deletionId, action) }, select: { id: true } })) !== null;
  }

  async function sendStep(
    workspaceId: string,
    deletionId: string,
    /** Sends the update under `updateId` (the same id each time it is sent again). */
    update: (h: WorkflowHandle, updateId: string) => Promise<WizardAck>,
    /** The step's body, when it may be large (the list steps). */
    body?: unknown,
  ): Promise<Deletion> {
    const r = await inProgress(workspaceId, deletionId);
    // Temporal's worker echoes each update's request in the task that answers it: several large
    // bodies at once to one wizard could add up past what one task may carry (domain/wizard-size.ts).
    // So a large one goes under the wizard's lease, one at a time across every API server
    // (client/step-lease.ts); another meanwhile is told so, as a step sent while one is being applied is.
    const large = body !== undefined && jsonBytes(body) > LONE_STEP_BODY_BYTES;
    const lease = large ? await takeStepLease(prisma, deletionId, deps.stepLeaseMs) : null;
    if (large && !lease) {
      throw new StepConflict('Another large step is being sent to this wizard; send yours again once it is answered.');
    }
    try {
      await askWizard((_signal, updateId) => update(temporal.workflow.getHandle(r.workflowId), updateId), { sendAgain: true });
    } catch (err) {
      // Not answered in time: the update may still be waiting for the wizard's next task, and the
      // lease is kept until it expires. Answered (refused), or not sent at all, it is given back.
      if (!(err instanceof Unavailable) || err instanceof NothingSent) await lease?.release().catch(() => undefined);
      throw err;
    }
    // A lease not given back (the database away a moment) only expires: the step is applied all the same.
    await lease?.release().catch(() => undefined);
    return live(await row(workspaceId, deletionId));
  }

  return {
    async start(args: StartDeletionArgs) {
      const user = await prisma.user.findFirst({ where: { id: args.userId, workspaceId: args.workspaceId } });
      if (!user) throw notInWorkspace('User', args.userId);
      const open = await prisma.deletion.findFirst({
        where: { workspaceId: args.workspaceId, userId: user.id, status: 'IN_PROGRESS' },
        orderBy: { startedAt: 'desc' },
        select: { id: true },
      });
      if (open) {
        const joined = await joinOpen(args.workspaceId, open.id, args.actor);
        if (joined) return { deletion: joined, created: false };
        // Its cancel has ended it: a new wizard, as after any cancel.
      }

      if (user.status !== 'PENDING_DELETION') {
        const problem = await startProblem(prisma, args.workspaceId, user, args.actor);
        if (problem) throw new RuleViolation(problem.message);
      }

      const input: WizardInput = {
        deletionId: `del_${randomUUID().replaceAll('-', '')}`,
        workspaceId: args.workspaceId,
        userId: user.id,
        source: args.source,
        actor: args.actor,
        reason: args.reason ?? null,
        effectiveAt: args.effectiveAt ? args.effectiveAt.toISOString() : null,
      };
      const workflowId = deletionWorkflowId(args.workspaceId, user.id);
      const startOrJoin = () => {
        const operation = new WithStartWorkflowOperation<typeof deletionWizard>(defs.WORKFLOW_TYPE, {
          workflowId,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          args: [input],
          // Starting twice gives the same wizard; after one ends, a new one may start.
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          typedSearchAttributes: [
            { key: DeletionWorkspaceId, value: args.workspaceId },
            { key: DeletionUserId, value: user.id },
            { key: DeletionStep, value: 'LEADS' },
            { key: DeletionStatus, value: 'IN_PROGRESS' },
          ],
        });
        return temporal.workflow.executeUpdateWithStart(defs.waitOpened, { startWorkflowOperation: operation }).then(
          async (ack) => ({ ack, handle: await operation.workflowHandle() }),
          async (err: unknown) => {
            // Refused by the run the update reached: that run may be an earlier wizard whose opening was refused
            // (a leaver too big, say) and that has not closed yet. Its refusal is not this start's answer: it is
            // joined as an ended wizard, as below. This start's own wizard refusing is the answer.
            if (!(refusalFrom(err) instanceof RuleViolation)) throw err;
            const handle = await operation.workflowHandle().catch(() => null);
            const view = handle ? await handle.query(defs.getDeletion).catch(() => null) : null;
            if (!handle || !view || view.id === input.deletionId) throw err;
            return { ack: ackOf(view), handle };
          },
        );
      };
      const opened = await askWizard(async (signal) => {
        let joined = await startOrJoin();
        // A wizard that has ended (its row already says so, or its opening was refused) but whose run has
        // not closed yet is joined, not replaced: wait for that run to close, then start again
        // (ALLOW_DUPLICATE lets the new run start). Its outcome does not matter here; the wait ends with
        // the time limit.
        for (let tries = 0; tries < 3 && joined.ack.status !== 'IN_PROGRESS' && joined.ack.id !== input.deletionId; tries++) {
          // The handle is bound to the run the update reached (its result follows that run only).
          await joined.handle.result().catch(() => {
            if (signal.aborted) throw signal.reason;
          });
          joined = await startOrJoin();
        }
        return joined.ack;
      });
      return { deletion: await live(await row(args.workspaceId, opened.id)), created: opened.id === input.deletionId };
    },

    async settled() {
      // Calls that began meanwhile too; never longer than a limit and the longest retry backoff (~6 s) past it.
      const givenUp = new Promise<void>((resolve) => setTimeout(resolve, waitLimitMs + SETTLE_SLACK_MS).unref());
      const all = (async () => {
        while (inFlight.size > 0) await Promise.all(inFlight);
      })();
      await Promise.race([all, givenUp]);
    },

    async get(workspaceId, deletionId) {
      return live(await row(workspaceId, deletionId));
    },

    endedBy,

    leadsChanged(workspaceId, userIds) {
      for (const userId of new Set(userIds)) leadTotal.forget(workspaceId, userId);
    },

    stateWaitDeadline,

    async readWithToken(tokenHash, deletionId) {
      const { token, deletion } = await readTogether(tokenHash, deletionId);
      return { token, deletion: deletion ? () => live(deletion) : null };
    },

    async list(workspaceId, q): Promise<Page<Deletion>> {
      const after = decodeTimeCursor(q.cursor);
      const rows = await prisma.deletion.findMany({
        where: {
          workspaceId,
          ...(q.status ? { status: q.status } : {}),
          ...(after ? { OR: [{ startedAt: { lt: after.at } }, { startedAt: after.at, id: { lt: after.id } }] } : {}),
        },
        orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
        take: q.limit + 1,
      });
      const page = pageOf(rows, q.limit, (r) => r, (r) => encodeTimeCursor({ at: r.startedAt, id: r.id }));
      // The page's moves in one more statement (not one per wizard).
      const open = page.items.filter((r) => r.status === 'IN_PROGRESS').map((r) => r.id);
      const moves = open.length
        ? await prisma.leadMove.findMany({ where: { deletionId: { in: open } }, select: { deletionId: true, kind: true, moved: true, updatedAt: true } })
        : [];
      const moved = (id: string, kind: string) => moves.find((m) => m.deletionId === id && m.kind === kind)?.moved ?? null;
      const movedAt = (id: string) =>
        moves.filter((m) => m.deletionId === id).reduce<Date | null>((at, m) => (at === null || m.updatedAt > at ? m.updatedAt : at), null);
      // The items of the page's wizards at a routing step, as they are now: one more statement for each kind.
      const ids = { automations: [] as string[], integrations: [] as string[] };
      for (const r of page.items) {
        const view = r.state as Deletion;
        const kind = routingStepOf(view);
        if (kind) ids[kind].push(...view[kind].map((item) => item.id));
      }
      const routing = new Map<string, RoutingRow>();
      for (const kind of ['automations', 'integrations'] as const) {
        if (ids[kind].length > 0) for (const row of await routingRows(prisma, kind, workspaceId, ids[kind])) routing.set(row.id, row);
      }
      return {
        items: await Promise.all(
          page.items.map((r) => live({ ...r, moveMoved: moved(r.id, 'MOVE'), sweepMoved: moved(r.id, 'SWEEP'), movedAt: movedAt(r.id) }, routing)),
        ),
        nextCursor: page.nextCursor,
      };
    },

    submitLeads: (ws, id, actor, body) =>
      sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.submitLeads, { args: [{ actor, body, deletionId: id }], updateId })),
    submitAutomations: (ws, id, actor, body) =>
      sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.submitAutomations, { args: [{ actor, body, deletionId: id }], updateId }), body),
    submitIntegrations: (ws, id, actor, body) =>
      sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.submitIntegrations, { args: [{ actor, body, deletionId: id }], updateId }), body),
    submitLabels: (ws, id, actor, body) =>
      sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.submitLabels, { args: [{ actor, body, deletionId: id }], updateId }), body),
    confirm: (ws, id, actor, body) =>
      sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.confirm, { args: [{ actor, body: { confirmation: shortConfirmation(body.confirmation) }, deletionId: id }], updateId })),
    async cancel(ws, id, actor, body) {
      try {
        return await sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.cancel, { args: [{ actor, body, deletionId: id }], updateId }));
      } catch (err) {
        const cancelled = err instanceof WizardGone ? await cancelOrphan(ws, id, actor, body.reason ?? null) : null;
        if (!cancelled) throw err;
        return cancelled;
      }
    },
    retry: (ws, id) => sendStep(ws, id, (h, updateId) => h.executeUpdate(defs.retry, { args: [{ deletionId: id }], updateId })),
    async bringForward(ws, id, actor, effectiveAt) {
      // Not through sendStep: no step body, and no view to read back afterwards.
      const r = await inProgress(ws, id);
      const at = effectiveAt ? effectiveAt.toISOString() : null;
      await askWizard(
        (_signal, updateId) => temporal.workflow.getHandle(r.workflowId).executeUpdate(defs.bringForward, { args: [{ actor, effectiveAt: at, deletionId: id }], updateId }),
        { sendAgain: true },
      );
    },

    async audit(workspaceId, deletionId, q): Promise<Page<AuditEvent>> {
      await row(workspaceId, deletionId);
      const after = decodeTimeCursor(q.cursor);
      const rows = await prisma.auditEvent.findMany({
        where: {
          workspaceId,
          deletionId,
          ...(after ? { OR: [{ at: { gt: after.at } }, { at: after.at, id: { gt: after.id } }] } : {}),
        },
        orderBy: [{ at: 'asc' }, { id: 'asc' }],
        take: q.limit + 1,
      });
      return pageOf(
        rows,
        q.limit,
        (e) => ({
          id: e.id,
          at: e.at.toISOString(),
          actor: { type: e.actorType, id: e.actorId },
          action: e.action,
          detail: e.detail as Record<string, unknown>,
        }),
        encodeTimeCursor,
      );
    },
  };
}
