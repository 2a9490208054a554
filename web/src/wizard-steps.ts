// The body of each wizard step. Every panel validates in the page first (Next
// stays disabled until the input is acceptable), then posts exactly the body
// api.md describes; refusals from the server are shown right above Next.
import { api } from './api';
import { auditList, auditNames } from './audit';
import { describeDistribution, distributionEditor, sameDistribution, userLabel, type DistributionEditor } from './distribution';
import { badge, emptyState, formatCount, formatTime, h, loading, replace, srOnly, uid } from './dom';
import { errorSlot, type ErrorSlot } from './problem';
import type { Deletion, Distribution, RoutingItem, User } from './types';

export interface StepContext {
  deletion: Deletion;
  names: Map<string, string>;
  /** ACTIVE users other than the one being deleted. */
  candidates: User[];
  signal: AbortSignal;
  /** Post a step; on success the wizard shows what the server answered. */
  submit(action: () => Promise<Deletion>, button: HTMLButtonElement, slot: ErrorSlot): Promise<void>;
}

export interface Panel {
  element: HTMLElement;
  /** In-place refresh while the step stays the same (progress). */
  update?(d: Deletion): void;
}

function nextButton(text = 'Next'): HTMLButtonElement {
  return h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'next', disabled: true }, text, h('span', { 'aria-hidden': 'true' }, ' →'));
}

function footer(slot: ErrorSlot, hint: HTMLElement | null, button: HTMLButtonElement): HTMLElement {
  return h('div', { class: 'step-foot' }, slot.element, h('div', { class: 'step-foot-row' }, hint ?? h('span'), button));
}

function noCandidates(): HTMLElement {
  return h(
    'p',
    { class: 'callout callout-warn', 'data-testid': 'no-candidates' },
    'No other active user can receive anything. Add or reactivate a user, then come back to this wizard.',
  );
}

// ---- Step 1: leads ------------------------------------------------------------

export function leadsPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const slot = errorSlot();
  const next = nextButton('Move leads');
  const modeName = uid('lead-mode');
  let mode: 'one' | 'split' = 'one';

  const target = h(
    'select',
    { id: 'lead-target', 'data-testid': 'lead-target', onchange: () => validate() },
    h('option', { value: '' }, 'Choose an active user…'),
    ctx.candidates.map((u) => h('option', { value: u.id }, userLabel(u))),
  );
  const editor: DistributionEditor = distributionEditor({
    candidates: ctx.candidates,
    initial: [],
    testid: 'lead-distribution',
    legend: 'Split the leads by percentage',
    onChange: () => validate(),
  });
  const onePane = h('div', { class: 'field', 'data-pane': 'one' }, h('label', { for: 'lead-target' }, 'New owner of all leads'), target);
  const splitPane = h(
    'div',
    { 'data-pane': 'split', hidden: true, class: 'pane' },
    editor.element,
    h('p', { class: 'help' }, 'Leads are shared out exactly in these proportions: each user gets their share, rounded to whole leads.'),
  );
  const hint = h('p', { class: 'hint', 'aria-live': 'polite', 'data-testid': 'next-hint' });

  function radio(value: 'one' | 'split', text: string, help: string): HTMLElement {
    const id = uid('mode');
    return h(
      'label',
      { class: 'choice', for: id },
      h('input', {
        type: 'radio',
        id,
        name: modeName,
        value,
        checked: value === mode,
        'data-testid': `lead-mode-${value}`,
        onchange: () => {
          mode = value;
          onePane.hidden = mode !== 'one';
          splitPane.hidden = mode !== 'split';
          validate();
        },
      }),
      h('span', null, h('span', { class: 'choice-title' }, text), h('span', { class: 'choice-help' }, help)),
    );
  }

  function problem(): string | null {
    if (ctx.candidates.length === 0) return 'There is nobody to move the leads to.';
    if (mode === 'one') return target.value ? null : 'Choose who receives the leads.';
    return editor.problem();
  }

  function validate(): void {
    const p = problem();
    next.disabled = p !== null;
    // The editor already says what is wrong next to the row; here only point to it.
    hint.textContent = p === null ? '' : mode === 'split' ? 'Complete the split above to continue.' : p;
  }

  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (problem() !== null) return;
        const body = mode === 'one' ? { targetUserId: target.value } : { distribution: editor.value() };
        void ctx.submit(() => api.submitLeads(d.id, body), next, slot);
      },
    },
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-value', 'data-testid': 'lead-count' }, formatCount(d.leads.total)),
      h('span', { class: 'stat-label' }, `${d.leads.total === 1 ? 'lead is' : 'leads are'} assigned to ${d.user.name} and need a new owner`),
    ),
    d.leads.total === 0
      ? h('p', { class: 'help' }, `${d.user.name} owns no leads right now. Still choose who gets any lead that reaches them before the deletion is confirmed.`)
      : null,
    ctx.candidates.length === 0 ? noCandidates() : null,
    h(
      'fieldset',
      { class: 'choices' },
      h('legend', null, 'Reassign to'),
      radio('one', 'One user', 'Every lead goes to the same active user.'),
      radio('split', 'Several users', 'Share the leads out by percentage; the shares must add up to 100%.'),
    ),
    onePane,
    splitPane,
    h(
      'p',
      { class: 'help' },
      `The move runs on the server in batches; you can close this page and come back. Any lead that reaches ${d.user.name} before you confirm goes the same way.`,
    ),
    footer(slot, hint, next),
  );
  validate();
  return { element: form };
}

/** Step 1 while the move runs (and just after it ends). */
export function progressPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const bar = h('progress', { 'data-testid': 'progress', id: 'lead-progress', 'aria-valuemin': 0 });
  const text = h('p', { class: 'progress-text', 'data-testid': 'progress-text' });
  // Announce in steps of 10% only: a live region updated every half second would drown everything else.
  const announcer = h('p', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'progress-live' });
  const target = h('p', { class: 'muted' });
  let lastDecile = -1;

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
      announcer.textContent = state === 'DONE' ? `All ${formatCount(total)} leads moved.` : `${pct}% of the leads moved.`;
    }
    replace(target, 'Moving to ', h('strong', null, describeDistribution(next.leads.distribution, ctx.names)), '.');
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

// ---- Steps 2 and 3: automations, integrations ---------------------------------

export type RoutingKind = 'automations' | 'integrations';

export function routingPanel(ctx: StepContext, kind: RoutingKind): Panel {
  const d = ctx.deletion;
  const items = kind === 'automations' ? d.automations : d.integrations;
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

// ---- Step 4: labels -----------------------------------------------------------

export function labelsPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const slot = errorSlot();
  const next = nextButton();
  next.disabled = false;
  const selects = new Map<string, HTMLSelectElement>();

  const rows = d.labels.map((label) => {
    const id = uid('label-repl');
    const select = h(
      'select',
      { id, 'data-testid': `label-${label.id}-replacement`, value: label.replacementUserId ?? '' },
      h('option', { value: '' }, 'No replacement (just remove)'),
      ctx.candidates.map((u) => h('option', { value: u.id }, userLabel(u))),
    );
    selects.set(label.id, select);
    return h(
      'tr',
      { 'data-testid': `label-${label.id}` },
      h('th', { scope: 'row' }, h('span', { class: 'label-chip' }, label.name)),
      h('td', null, badge(label.visibility === 'PUBLIC' ? 'Public' : label.visibility === 'SHARED' ? 'Shared' : 'Private', 'neutral')),
      h('td', null, h('label', { for: id, class: 'sr-only' }, `Replacement for ${label.name}`), select),
    );
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

// ---- Confirm --------------------------------------------------------------------

export function confirmPanel(ctx: StepContext, finishing: boolean): Panel {
  const d = ctx.deletion;
  const slot = errorSlot();
  const button = h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'confirm-delete', disabled: true }, 'Delete user');
  const input = h('input', {
    id: 'confirm-text',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    'data-testid': 'confirm-input',
    'aria-describedby': 'confirm-help',
    disabled: finishing,
    oninput: () => {
      button.disabled = input.value !== 'CONFIRM';
    },
  });

  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (input.value !== 'CONFIRM') return;
        void ctx.submit(() => api.confirm(d.id, input.value), button, slot);
      },
    },
    h('p', { class: 'lead-text' }, 'Everything has a new home. Review, then confirm.'),
    review(d, ctx.names, 'review'),
    h(
      'div',
      { class: 'callout callout-danger' },
      h('p', null, h('strong', null, `${d.user.name} (${d.user.email}) will be deleted permanently.`)),
      h(
        'p',
        null,
        'Their sign-in and tokens are revoked and they leave the directory. Any lead that reached them since step 1 is first moved the same way as in step 1. This cannot be undone.',
      ),
    ),
    finishing
      ? h('div', { class: 'finishing', 'data-testid': 'finishing' }, loading(`Deleting ${d.user.name}: final sweep and removal…`))
      : [
          h('div', { class: 'field' }, h('label', { for: 'confirm-text' }, 'Type ', h('kbd', null, 'CONFIRM'), ` to delete ${d.user.name}`), input),
          h('p', { id: 'confirm-help', class: 'help' }, 'Exactly as shown, in capitals.'),
          h('div', { class: 'step-foot' }, slot.element, h('div', { class: 'step-foot-row' }, h('span'), button)),
        ],
  );
  return { element: form };
}

/** What the wizard did (or will do), step by step. */
export function review(d: Deletion, names: Map<string, string>, testid: string, containerTestid = testid): HTMLElement {
  const routing = (items: RoutingItem[], noun: string) =>
    items.length
      ? h(
          'ul',
          { class: 'plain-list' },
          items.map((it) =>
            h(
              'li',
              { 'data-testid': `${testid}-${noun}-${it.id}` },
              h('strong', null, it.name),
              ' → ',
              it.applied ? describeDistribution(it.applied, names) : h('span', { class: 'muted' }, 'not changed'),
            ),
          ),
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

// ---- The end: completed, cancelled, failed ----------------------------------------

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

  void (async () => {
    try {
      const events = await api.audit(d.id, ctx.signal);
      auditBody.removeAttribute('aria-busy');
      const names = auditNames([...ctx.names].map(([id, name]) => ({ id, name })), d);
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
      review(d, ctx.names, 'summary', 'summary-review'),
      h('section', { class: 'review-block' }, h('h3', null, 'Audit trail', srOnly(` of the wizard for ${d.user.name}`)), auditSlot.element, auditBody),
    ),
  };
}
