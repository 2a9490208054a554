// Steps 2 and 3: automations and integrations that route to the user, each
// with its suggested distribution, or a replacement where the user was alone.
import { api } from '../api';
import { describeDistribution, distributionEditor, sameDistribution, type DistributionEditor } from '../distribution';
import { badge, emptyState, h, uid } from '../dom';
import { errorSlot } from '../problem';
import type { Distribution, RoutingItem } from '../../../domain/schemas';
import { footer, nextButton, noCandidates, type Panel, type StepContext } from './panel';

export type RoutingKind = 'automations' | 'integrations';

export function routingPanel(ctx: StepContext, kind: RoutingKind): Panel {
  const d = ctx.deletion;
  // An item with neither a suggestion nor a replacement to name was deleted since the wizard listed it:
  // nothing is left to change there (the step skips it).
  const items = (kind === 'automations' ? d.automations : d.integrations).filter((it) => it.requiresReplacement || it.suggested !== null);
  const noun = kind === 'automations' ? 'automation' : 'integration';
  const slot = errorSlot();
  const next = nextButton();
  const hint = h('p', { class: 'hint', 'aria-live': 'polite', 'data-testid': 'next-hint' });
  const editors = new Map<string, DistributionEditor>();

  function validate(): void {
    const bad = items.filter((it) => editors.get(it.id)?.problem() !== null);
    next.disabled = bad.length > 0 || (ctx.candidates.length === 0 && items.length > 0);
    hint.textContent = bad.length ? `${bad.length} ${noun}${bad.length === 1 ? '' : 's'} still ${bad.length === 1 ? 'needs' : 'need'} a valid distribution.` : '';
  }

  const cards = items.map((item) => routingCard(ctx, item, noun, editors, validate));
  ctx.onCandidates((users) => {
    for (const editor of editors.values()) editor.setCandidates(users);
    validate();
  });

  const intro =
    kind === 'automations'
      ? `${d.user.name} is part of ${items.length} workflow ${items.length === 1 ? 'automation' : 'automations'}. Each has a suggested distribution without them, keeping the others' shares: keep it or adjust it. Where ${d.user.name} was the only member, choose a replacement.`
      : `${items.length} ${items.length === 1 ? 'integration routes' : 'integrations route'} new leads to ${d.user.name}. Keep the suggested distribution or change it, so incoming leads keep reaching the right people.`;

  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        validate();
        if (next.disabled) return;
        // Only what differs from the suggestion is an override; the rest keeps its suggestion.
        const changed = items
          .map((it) => ({ it, value: editors.get(it.id)?.value() ?? [] }))
          .filter(({ it, value }) => it.requiresReplacement || !sameDistribution(value, it.suggested));
        void ctx.submit(
          () =>
            kind === 'automations'
              ? api.submitAutomations(d.id, changed.map(({ it, value }) => ({ automationId: it.id, distribution: value })))
              : api.submitIntegrations(d.id, changed.map(({ it, value }) => ({ integrationId: it.id, distribution: value }))),
          next,
          slot,
        );
      },
    },
    items.length
      ? h('p', { class: 'lead-text' }, intro)
      : emptyState(`No ${noun}s to update`, `No ${noun} routes leads to ${d.user.name}. Nothing changes here.`, `${kind}-empty`),
    items.length && ctx.candidates.length === 0 ? noCandidates() : null,
    h('div', { class: 'routing-list', 'data-testid': `${kind}-list` }, cards),
    footer(slot, hint, next),
  );
  validate();
  return { element: form };
}

function routingCard(
  ctx: StepContext,
  item: RoutingItem,
  noun: string,
  editors: Map<string, DistributionEditor>,
  validate: () => void,
): HTMLElement {
  const headingId = uid('routing');
  const state = h('span', { class: 'routing-state', 'data-testid': `${noun}-${item.id}-state` });
  const initial: Distribution = item.requiresReplacement || !item.suggested ? [] : item.suggested;
  const editor = distributionEditor({
    candidates: ctx.candidates,
    initial,
    testid: `${noun}-${item.id}-dist`,
    legend: `New distribution for ${item.name}`,
    names: ctx.names,
    onUserFocus: () => ctx.refreshCandidates(),
    onChange: () => {
      refreshState();
      validate();
    },
  });
  editors.set(item.id, editor);

  function refreshState(): void {
    if (item.requiresReplacement) {
      state.textContent = editor.problem() === null ? 'Replacement chosen' : 'Needs a replacement';
      state.className = `routing-state ${editor.problem() === null ? 'is-ok' : 'is-warn'}`;
    } else {
      const kept = sameDistribution(editor.value(), item.suggested);
      state.textContent = kept ? 'Suggested distribution' : 'Custom distribution';
      state.className = `routing-state ${kept ? 'is-ok' : 'is-custom'}`;
      reset.hidden = kept;
    }
  }

  const reset = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-ghost btn-sm',
      'data-testid': `${noun}-${item.id}-reset`,
      hidden: true,
      onclick: () => {
        editor.reset(item.suggested ?? []);
        refreshState();
        validate();
      },
    },
    'Use suggestion',
  );

  refreshState();
  return h(
    'article',
    { class: 'routing-card', 'data-testid': `${noun}-${item.id}`, 'aria-labelledby': headingId, 'data-requires-replacement': String(item.requiresReplacement) },
    h(
      'header',
      { class: 'routing-head' },
      h('h3', { id: headingId }, item.name),
      item.requiresReplacement ? badge('Only member', 'warn') : null,
      state,
    ),
    h(
      'dl',
      { class: 'routing-facts' },
      h('div', null, h('dt', null, 'Current'), h('dd', { 'data-testid': `${noun}-${item.id}-current` }, describeDistribution(item.current, ctx.names))),
      h(
        'div',
        null,
        h('dt', null, 'Suggested'),
        h(
          'dd',
          { 'data-testid': `${noun}-${item.id}-suggested` },
          item.suggested && !item.requiresReplacement
            ? describeDistribution(item.suggested, ctx.names)
            : `None: ${ctx.deletion.user.name} was the only member. Choose a replacement below.`,
        ),
      ),
    ),
    editor.element,
    h('div', { class: 'routing-actions' }, reset),
  );
}
