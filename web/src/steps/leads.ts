// Step 1: who receives the user's leads (one user, or a split by percentage).
import { api } from '../api';
import { distributionEditor, userOptions, type DistributionEditor } from '../distribution';
import { formatCount, h, uid } from '../dom';
import { errorSlot } from '../problem';
import { footer, nextButton, noCandidates, type Panel, type StepContext } from './panel';

export function leadsPanel(ctx: StepContext): Panel {
  const d = ctx.deletion;
  const slot = errorSlot();
  const next = nextButton('Move leads');
  const modeName = uid('lead-mode');
  let mode: 'one' | 'split' = 'one';

  let candidates = ctx.candidates;
  const target = h('select', { id: 'lead-target', 'data-testid': 'lead-target', onchange: () => validate(), onfocus: () => ctx.refreshCandidates() });
  userOptions(target, candidates, ctx.names, 'Choose an active user…');
  const editor: DistributionEditor = distributionEditor({
    candidates,
    initial: [],
    testid: 'lead-distribution',
    legend: 'Split the leads by percentage',
    onChange: () => validate(),
    names: ctx.names,
    onUserFocus: () => ctx.refreshCandidates(),
  });
  ctx.onCandidates((users) => {
    candidates = users;
    userOptions(target, users, ctx.names, 'Choose an active user…');
    editor.setCandidates(users);
    validate();
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
    if (candidates.length === 0) return 'There is nobody to move the leads to.';
    if (mode === 'one') {
      if (!target.value) return 'Choose who receives the leads.';
      return candidates.some((u) => u.id === target.value) ? null : `${ctx.names.get(target.value) ?? 'That user'} can no longer be picked; choose another user.`;
    }
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
