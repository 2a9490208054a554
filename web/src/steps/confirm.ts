// The last step: review, then type the confirmation text the server expects.
import { CONFIRMATION_TEXT } from '../../../domain/rules';
import { api } from '../api';
import { auditNames } from '../audit';
import { formatTime, h, loading } from '../dom';
import { leadOutcome } from '../lead-outcome';
import { errorSlot } from '../problem';
import type { Panel, StepContext } from './panel';
import { fillLeads, review } from './review';

/** Why what was typed is not the confirmation text, in words; null when it is. */
export function confirmationProblem(typed: string): string | null {
  if (typed === CONFIRMATION_TEXT) return null;
  if (typed === '') return `Type ${CONFIRMATION_TEXT} to enable Delete user.`;
  // What a paste often brings: spaces, or characters that show as nothing.
  const visible = typed.replace(/[\u200B-\u200D\u2060\uFEFF]/g, '');
  if (visible !== typed && visible.trim() === CONFIRMATION_TEXT) return 'It holds invisible characters (a paste often brings them): type it by hand.';
  if (typed.trim() !== typed && typed.trim().toUpperCase() === CONFIRMATION_TEXT) return `Remove the spaces before or after ${CONFIRMATION_TEXT}.`;
  if (typed.toUpperCase() === CONFIRMATION_TEXT) return `Type ${CONFIRMATION_TEXT} in capitals.`;
  if (typed.normalize('NFKC').trim().toUpperCase() === CONFIRMATION_TEXT) return `Type it with ordinary letters: these look like ${CONFIRMATION_TEXT} but are other characters.`;
  return `Type exactly ${CONFIRMATION_TEXT}, nothing more.`;
}

/** Longest delay setTimeout keeps (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function confirmPanel(ctx: StepContext, finishing: boolean): Panel {
  const d = ctx.deletion;
  const slot = errorSlot();
  const button = h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'confirm-delete', disabled: true }, 'Delete user');
  const why = h('p', { id: 'confirm-why', class: 'hint', 'data-testid': 'confirm-why', 'aria-live': 'polite' });
  // HR's date still to come by this browser's clock: said, not enforced. A clock behind the server's
  // would block a CONFIRM the server accepts; when it is really too early the server answers 409, in words.
  const waitsMs = d.effectiveAt ? Date.parse(d.effectiveAt) - Date.now() : 0;
  const early = waitsMs > 0;
  const input = h('input', {
    id: 'confirm-text',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    autocapitalize: 'off',
    'data-testid': 'confirm-input',
    'aria-describedby': 'confirm-help confirm-why',
    disabled: finishing,
    oninput: () => check(),
  });
  function check(): void {
    const problem = confirmationProblem(input.value);
    button.disabled = problem !== null;
    why.textContent = problem ?? '';
  }
  const effective =
    early && d.effectiveAt
      ? h(
          'div',
          { class: 'callout', 'data-testid': 'effective-at' },
          h(
            'p',
            null,
            `${d.user.name} leaves on ${formatTime(d.effectiveAt)} (HR's date). CONFIRM is refused until then: the deletion can be confirmed from then on.`,
          ),
        )
      : null;
  if (early && waitsMs < MAX_TIMER_MS) {
    const timer = setTimeout(() => effective?.remove(), waitsMs + 1_000);
    ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  }

  const reviewEl = review(d, ctx.names, 'review');
  // The review says where the leads really went: read from the audit.
  void (async () => {
    try {
      const events = await api.audit(d.id, ctx.signal);
      const line = reviewEl.querySelector<HTMLElement>('[data-testid="review-leads"]');
      if (line) fillLeads(line, d, auditNames([...ctx.names].map(([id, name]) => ({ id, name })), d), leadOutcome(events));
    } catch {
      // The plan stays shown, said to be a plan; the audit page says the rest.
    }
  })();

  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        check();
        if (button.disabled) return;
        void ctx.submit(() => api.confirm(d.id, input.value), button, slot);
      },
    },
    h('p', { class: 'lead-text' }, 'Everything has a new home. Review, then confirm.'),
    effective,
    reviewEl,
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
          why,
          h('div', { class: 'step-foot' }, slot.element, h('div', { class: 'step-foot-row' }, h('span'), button)),
        ],
  );
  check();
  return { element: form };
}
