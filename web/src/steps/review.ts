// What the wizard did (or will do), step by step: shown before confirming and at the end.
import { describeDistribution } from '../distribution';
import { h, replace, type Child } from '../dom';
import { leadsText, nameOf, type LeadOutcome } from '../lead-outcome';
import type { Deletion, RoutingItem } from '../../../domain/schemas';

/** The leads line: from the audit once it is read (`data-outcome="audit"`), the step-1 plan, said to be one, until then. */
export function fillLeads(p: HTMLElement, d: Deletion, names: Map<string, string>, outcome: LeadOutcome | null): void {
  p.dataset.outcome = outcome ? 'audit' : 'plan';
  replace(p, d.leads.state === 'PENDING' ? h('span', { class: 'muted' }, 'Not moved.') : leadsText(d, names, outcome));
}

/** What the wizard did (or will do), step by step. */
export function review(d: Deletion, names: Map<string, string>, testid: string, containerTestid = testid, outcome: LeadOutcome | null = null): HTMLElement {
  const leadsLine = h('p', { 'data-testid': `${testid}-leads` });
  fillLeads(leadsLine, d, names, outcome);
  const routing = (items: RoutingItem[], noun: string) =>
    items.length
      ? routingList(
          items,
          (it) => `${testid}-${noun}-${it.id}`,
          (it) => (it.applied ? describeDistribution(it.applied, names) : h('span', { class: 'muted' }, 'not changed')),
        )
      : h('p', { class: 'muted' }, `No ${noun}s involved.`);
  return h(
    'div',
    { class: 'review', 'data-testid': containerTestid },
    h(
      'section',
      { class: 'review-block' },
      h('h3', null, 'Leads'),
      leadsLine,
    ),
    h('section', { class: 'review-block' }, h('h3', null, 'Workflow automations'), routing(d.automations, 'automation')),
    h('section', { class: 'review-block' }, h('h3', null, 'Integrations'), routing(d.integrations, 'integration')),
    h(
      'section',
      { class: 'review-block' },
      h('h3', null, 'Labels'),
      d.labels.length
        ? h(
            'ul',
            { class: 'plain-list' },
            d.labels.map((l) =>
              h(
                'li',
                { 'data-testid': `${testid}-label-${l.id}` },
                h('strong', null, l.name),
                ' → ',
                !l.applied
                  ? h('span', { class: 'muted' }, 'not changed')
                  : l.replacementUserId
                    ? `${nameOf(l.replacementUserId, names)} replaces ${d.user.name}`
                    : `${d.user.name} removed, no replacement`,
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No shared or public labels involved.'),
    ),
  );
}

/** Automations or integrations, one line each: the name, then what happens to it. */
export function routingList(items: RoutingItem[], testidOf: (it: RoutingItem) => string, outcome: (it: RoutingItem) => Child): HTMLElement {
  return h(
    'ul',
    { class: 'plain-list' },
    items.map((it) => h('li', { 'data-testid': testidOf(it) }, h('strong', null, it.name), ' → ', outcome(it))),
  );
}
