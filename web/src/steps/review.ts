// What the wizard did (or will do), step by step: shown before confirming and at the end.
import { describeDistribution } from '../distribution';
import { formatCount, h, type Child } from '../dom';
import type { Deletion, RoutingItem } from '../../../domain/schemas';

/** What the wizard did (or will do), step by step. */
export function review(d: Deletion, names: Map<string, string>, testid: string, containerTestid = testid): HTMLElement {
  const routing = (items: RoutingItem[], noun: string) =>
    items.length
      ? routingList(
          items,
          (it) => `${testid}-${noun}-${it.id}`,
          (it) => (it.applied ? describeDistribution(it.applied, names) : h('span', { class: 'muted' }, 'not changed')),
        )
      : h('p', { class: 'muted' }, `No ${noun}s involved.`);
  const leads = d.leads;
  return h(
    'div',
    { class: 'review', 'data-testid': containerTestid },
    h(
      'section',
      { class: 'review-block' },
      h('h3', null, 'Leads'),
      h(
        'p',
        { 'data-testid': `${testid}-leads` },
        leads.state === 'PENDING'
          ? h('span', { class: 'muted' }, 'Not moved.')
          : [
              h('strong', null, `${formatCount(leads.moved)} ${leads.moved === 1 ? 'lead' : 'leads'}`),
              leads.state === 'MOVING' ? ` of ${formatCount(leads.total)} so far` : '',
              ' moved to ',
              describeDistribution(leads.distribution, names),
              '.',
              leads.swept ? ` ${formatCount(leads.swept)} more moved by the final sweep.` : '',
            ],
      ),
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
                    ? `${names.get(l.replacementUserId) ?? l.replacementUserId} replaces ${d.user.name}`
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
