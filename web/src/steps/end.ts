// The end: completed, cancelled or failed, with what moved and the audit trail.
import { api } from '../api';
import { auditList, auditNames } from '../audit';
import { emptyState, formatTime, h, loading, replace, srOnly } from '../dom';
import { errorSlot } from '../problem';
import type { Panel, StepContext } from './panel';
import { fillLeads, review } from './review';
import { leadOutcome } from '../lead-outcome';

export function endPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const auditBody = h('div', { 'aria-busy': 'true' }, loading('Loading the audit trail…'));
  const auditSlot = errorSlot();
  const message =
    d.status === 'COMPLETED'
      ? h(
          'div',
          { class: 'callout callout-good', role: 'status' },
          h('p', null, h('strong', null, `${d.user.name} (${d.user.email}) was deleted`), ` on ${formatTime(d.updatedAt)}.`),
          h('p', null, 'Their leads, automations, integrations and labels moved as listed below.'),
        )
      : d.status === 'CANCELLED'
        ? h(
            'div',
            { class: 'callout callout-neutral', role: 'status' },
            h('p', null, h('strong', null, 'This wizard was cancelled'), ` on ${formatTime(d.updatedAt)}. ${d.user.name} is active again.`),
            h('p', null, 'What had already been reassigned stays where it is:'),
          )
        : h(
            'div',
            { class: 'callout callout-danger', role: 'status' },
            h('p', null, h('strong', null, 'This wizard failed'), ` on ${formatTime(d.updatedAt)}.`),
            h('p', null, 'See the audit trail below for what was done before it stopped.'),
          );

  const summary = review(d, ctx.names, 'summary', 'summary-review');
  void (async () => {
    try {
      const events = await api.audit(d.id, ctx.signal);
      auditBody.removeAttribute('aria-busy');
      const names = auditNames([...ctx.names].map(([id, name]) => ({ id, name })), d);
      const leadsLine = summary.querySelector<HTMLElement>('[data-testid="summary-leads"]');
      if (leadsLine) fillLeads(leadsLine, d, names, leadOutcome(events));
      replace(auditBody, events.length ? auditList(events, names) : emptyState('No events recorded'));
    } catch (err) {
      auditBody.removeAttribute('aria-busy');
      replace(auditBody);
      auditSlot.show(err);
    }
  })();

  return {
    element: h(
      'div',
      { class: 'end-panel', 'data-testid': 'summary', 'data-status': d.status },
      message,
      summary,
      h('section', { class: 'review-block' }, h('h3', null, 'Audit trail', srOnly(` of the wizard for ${d.user.name}`)), auditSlot.element, auditBody),
    ),
  };
}
