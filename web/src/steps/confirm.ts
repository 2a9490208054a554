// The last step: review, then type the confirmation text the server expects.
import { CONFIRMATION_TEXT } from '../../../domain/rules';
import { api } from '../api';
import { h, loading } from '../dom';
import { errorSlot } from '../problem';
import type { Panel, StepContext } from './panel';
import { review } from './review';

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
      button.disabled = input.value !== CONFIRMATION_TEXT;
    },
  });

  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (input.value !== CONFIRMATION_TEXT) return;
        void ctx.submit(() => api.confirm(d.id, input.value), button, slot);
      },
    },
    h('p', { class: 'lead-text' }, 'Everything has a new home. Review, then confirm.'),
    // HR's date still to come: CONFIRM is refused (409) until then.
    d.effectiveAt && Date.parse(d.effectiveAt) > Date.now()
      ? h(
          'div',
          { class: 'callout', 'data-testid': 'effective-at' },
          h('p', null, `${d.user.name} leaves on ${new Date(d.effectiveAt).toLocaleString()} (HR's date): the deletion can be confirmed from then on.`),
        )
      : null,
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
          h('div', { class: 'field' }, h('label', { for: 'confirm-text' }, 'Type ', h('kbd', null, CONFIRMATION_TEXT), ` to delete ${d.user.name}`), input),
          h('p', { id: 'confirm-help', class: 'help' }, 'Exactly as shown, in capitals.'),
          h('div', { class: 'step-foot' }, slot.element, h('div', { class: 'step-foot-row' }, h('span'), button)),
        ],
  );
  return { element: form };
}
