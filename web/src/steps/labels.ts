// Step 4: the shared and public labels the user leaves, each with an optional replacement.
import { api } from '../api';
import { userOptions } from '../distribution';
import { badge, emptyState, h, uid } from '../dom';
import { errorSlot } from '../problem';
import { footer, nextButton, type Panel, type StepContext } from './panel';

export function labelsPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const slot = errorSlot();
  const next = nextButton();
  next.disabled = false;
  const selects = new Map<string, HTMLSelectElement>();

  const rows = d.labels.map((label) => {
    const id = uid('label-repl');
    const select = h('select', { id, 'data-testid': `label-${label.id}-replacement`, onfocus: () => ctx.refreshCandidates() });
    select.append(h('option', { value: label.replacementUserId ?? '' }));
    select.value = label.replacementUserId ?? '';
    userOptions(select, ctx.candidates, ctx.names, 'No replacement (just remove)');
    selects.set(label.id, select);
    return h(
      'tr',
      { 'data-testid': `label-${label.id}` },
      h('th', { scope: 'row' }, h('span', { class: 'label-chip' }, label.name)),
      h('td', null, badge(label.visibility === 'PUBLIC' ? 'Public' : label.visibility === 'SHARED' ? 'Shared' : 'Private', 'neutral')),
      h('td', null, h('label', { for: id, class: 'sr-only' }, `Replacement for ${label.name}`), select),
    );
  });

  ctx.onCandidates((users) => {
    for (const select of selects.values()) userOptions(select, users, ctx.names, 'No replacement (just remove)');
  });

  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const replacements = d.labels.map((l) => ({ labelId: l.id, replacementUserId: selects.get(l.id)?.value || null }));
        void ctx.submit(() => api.submitLabels(d.id, replacements), next, slot);
      },
    },
    d.labels.length
      ? [
          h(
            'p',
            { class: 'lead-text' },
            `${d.user.name} is in ${d.labels.length} shared or public ${d.labels.length === 1 ? 'label' : 'labels'}. They will be removed from each; you may put a replacement in their place. A label they owned passes to the replacement, or to you if there is none.`,
          ),
          h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'table', 'data-testid': 'labels-table' },
              h('caption', { class: 'sr-only' }, `Labels ${d.user.name} belongs to`),
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Label'), h('th', { scope: 'col' }, 'Visibility'), h('th', { scope: 'col' }, 'Replacement (optional)'))),
              h('tbody', null, rows),
            ),
          ),
        ]
      : emptyState('No shared or public labels', `${d.user.name} is in no shared or public label. Private labels they own are deleted with them.`, 'labels-empty'),
    footer(slot, null, next),
  );
  return { element: form };
}
