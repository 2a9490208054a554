// Step 1 while the lead move runs on the server: a progress bar fed by the wizard's event stream (polled while it is down).
import { api } from '../api';
import { formatCount, h } from '../dom';
import { leadOutcome, moveEndText, type LeadOutcome } from '../lead-outcome';
import { fillLeads } from './review';
import type { Deletion } from '../../../domain/schemas';
import type { Panel, StepContext } from './panel';

/** How often the audit is read while the move runs (for targets who left). */
const AUDIT_EVERY_MS = 5_000;

/** Step 1 while the move runs (and just after it ends). */
export function progressPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const bar = h('progress', { 'data-testid': 'progress', id: 'lead-progress', 'aria-valuemin': 0 });
  const text = h('p', { class: 'progress-text', 'data-testid': 'progress-text' });
  // Announce in steps of 10% only: a live region updated every half second would drown everything else.
  const announcer = h('p', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'progress-live' });
  const target = h('p', { class: 'muted', 'data-testid': 'progress-leads' });
  let lastDecile = -1;
  // Who left mid-move and where their share went is in the audit: read it now and then while the move runs, and at its end.
  let outcome: LeadOutcome | null = null;
  let auditAt = 0;
  let reading = false;
  let latest = d;
  const readAudit = (force: boolean) => {
    if (reading || ctx.signal.aborted || (!force && Date.now() - auditAt < AUDIT_EVERY_MS)) return;
    reading = true;
    auditAt = Date.now();
    api.audit(d.id, ctx.signal).then(
      (events) => {
        reading = false;
        outcome = leadOutcome(events);
        fillLeads(target, latest, ctx.names, outcome);
      },
      () => {
        reading = false;
      },
    );
  };

  function update(next: Deletion): void {
    const { total, moved, state } = next.leads;
    const max = Math.max(total, 1);
    const value = total === 0 ? (state === 'DONE' ? 1 : 0) : Math.min(moved, total);
    const pct = Math.floor((value / max) * 100);
    bar.max = max;
    bar.value = value;
    bar.setAttribute('aria-valuemax', String(max));
    bar.setAttribute('aria-valuenow', String(value));
    const words = `${formatCount(moved)} of ${formatCount(total)} leads moved`;
    bar.setAttribute('aria-valuetext', words);
    text.textContent = `${words} (${pct}%)${state === 'DONE' ? ' · done' : ''}`;
    const decile = state === 'DONE' ? 10 : Math.floor(pct / 10);
    if (decile !== lastDecile) {
      lastDecile = decile;
      announcer.textContent = state === 'DONE' ? moveEndText(next) : `${pct}% of the leads moved.`;
    }
    latest = next;
    fillLeads(target, next, ctx.names, outcome);
    readAudit(state === 'DONE');
  }
  update(d);

  return {
    element: h(
      'div',
      { class: 'progress-panel' },
      target,
      h('label', { for: 'lead-progress', class: 'progress-label' }, 'Leads moved'),
      bar,
      text,
      announcer,
      h(
        'p',
        { class: 'help' },
        'The move continues on the server even if you close this page. Come back any time from Deletion wizards; the next step opens when every lead has moved.',
      ),
    ),
    update,
  };
}
