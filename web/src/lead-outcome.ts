// Where the leads really went, from the audit: the plan of step 1 is only what
// was asked for. A step-1 target who stopped being active mid-move got nothing
// more (LEAD_TARGET_LEFT); their share went to the others, or, when nobody of
// step 1 was left (`untilConfirm`), stayed with the user until the final sweep
// at CONFIRM. LEADS_MOVED says what each target actually received.
import type { AuditEvent, Deletion } from '../../domain/schemas';
import { formatCount, type Child } from './dom';

export interface Received {
  userId: string;
  count: number;
}

export interface Handover {
  leftUserId: string;
  remaining: number;
  to: Received[];
  /** Nobody of step 1 was left: these leads stay with the user until CONFIRM. */
  untilConfirm: boolean;
}

export interface LeadOutcome {
  /** What each target received (LEADS_MOVED); null while the move has not written it. */
  received: Received[] | null;
  left: Handover[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function receivedOf(v: unknown): Received[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isRecord).flatMap((r) => (typeof r.userId === 'string' && typeof r.count === 'number' ? [{ userId: r.userId, count: r.count }] : []));
}

function handoverOf(v: unknown): Handover | null {
  if (!isRecord(v) || typeof v.leftUserId !== 'string') return null;
  const to = receivedOf(v.to);
  return {
    leftUserId: v.leftUserId,
    remaining: typeof v.remaining === 'number' ? v.remaining : 0,
    to,
    untilConfirm: v.untilConfirm === true || to.length === 0,
  };
}

/** The step-1 move's outcome as the audit tells it (the final sweep's own events are left out). */
export function leadOutcome(events: AuditEvent[]): LeadOutcome {
  const moved = events.filter((e) => e.action === 'LEADS_MOVED').at(-1);
  if (moved) {
    const left = Array.isArray(moved.detail.targetsLeft) ? moved.detail.targetsLeft.map(handoverOf).filter((x): x is Handover => x !== null) : [];
    return { received: receivedOf(moved.detail.targets), left };
  }
  const left = events
    .filter((e) => e.action === 'LEAD_TARGET_LEFT' && (e.detail.kind === undefined || e.detail.kind === 'MOVE'))
    .map((e) => handoverOf(e.detail))
    .filter((x): x is Handover => x !== null);
  return { received: null, left };
}

/** A user's name, or "a deleted user" for one the workspace no longer lists. */
export function nameOf(id: string, names: Map<string, string>): string {
  return names.get(id) ?? 'a deleted user';
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const plural = (n: number, one: string, many: string) => `${formatCount(n)} ${n === 1 ? one : many}`;
const counts = (list: Received[], names: Map<string, string>) =>
  list.map((r) => `${nameOf(r.userId, names)} ${formatCount(r.count)}`).join(' · ');

/** "dee left during the move and got nothing more; the 990 leads still due to them went to ann 510 · bob 480." */
export function handoverText(handover: Handover, d: Pick<Deletion, 'user' | 'status'>, names: Map<string, string>): string {
  // A name is shown as its owner wrote it; only the page's own words take a capital.
  const who = names.get(handover.leftUserId) ?? capital(nameOf(handover.leftUserId, names));
  const due = `the ${plural(handover.remaining, 'lead', 'leads')} still due to them`;
  if (handover.untilConfirm) {
    // Cancelled: there was no CONFIRM and no final sweep; the leads are the user's again.
    if (d.status === 'CANCELLED') return `${who} left during the move and got nothing more; nobody chosen in step 1 was left, so ${due} stayed with ${d.user.name}, who is active again: the wizard was cancelled.`;
    const done = d.status === 'COMPLETED';
    return `${who} left during the move and got nothing more; nobody chosen in step 1 was left, so ${due} ${done ? 'stayed' : 'stay'} with ${d.user.name} until CONFIRM, where the final sweep ${done ? 'gave' : 'gives'} them to the step-1 targets active again, else to the admin who ${done ? 'confirmed' : 'confirms'}.`;
  }
  return `${who} left during the move and got nothing more; ${due} went to ${counts(handover.to, names)}.`;
}

/**
 * The leads line of the review, the summary and the progress: what each target
 * received and who left, when the audit says it; else the step-1 plan, said to
 * be a plan.
 */
export function leadsText(d: Deletion, names: Map<string, string>, outcome: LeadOutcome | null): Child[] {
  const leads = d.leads;
  if (leads.state === 'PENDING') return ['Not moved.'];
  const plan = (leads.distribution ?? []).map((m) => `${nameOf(m.userId, names)} ${m.weight}%`).join(' · ') || 'nobody';
  const movedText = leads.state === 'DONE' && leads.moved < leads.total ? `${formatCount(leads.moved)} of ${formatCount(leads.total)} leads` : plural(leads.moved, 'lead', 'leads');
  const out: Child[] = [];
  if (outcome?.received && leads.state !== 'MOVING') {
    const got = outcome.received.filter((r) => r.count > 0);
    out.push(`${movedText} moved: `, got.length ? counts(got, names) : 'to nobody', '.');
  } else {
    const so = leads.state === 'MOVING' ? `${formatCount(leads.moved)} of ${formatCount(leads.total)} leads moved so far` : `${movedText} moved`;
    out.push(`${so}; planned in step 1: ${plan}.`);
  }
  for (const handover of outcome?.left ?? []) out.push(' ', handoverText(handover, d, names));
  if (leads.swept) out.push(` ${formatCount(leads.swept)} more moved by the final sweep.`);
  return out;
}

/** What the progress announces once the move is over: a move that ended short (every step-1 target left, or a cancel) says where it stopped. */
export function moveEndText(d: Pick<Deletion, 'status' | 'leads'>): string {
  const { moved, total } = d.leads;
  if (moved >= total) return `All ${formatCount(total)} leads moved.`;
  const at = `${formatCount(moved)} of ${formatCount(total)}`;
  if (d.status === 'CANCELLED') return `The move stopped at ${at}: the wizard was cancelled.`;
  return `The move ended at ${at}; the rest waits for CONFIRM.`;
}
