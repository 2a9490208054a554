// What every wizard panel shares: the context it is drawn with, and its Next
// button and footer. Each panel validates in the page first (Next stays
// disabled until the input is acceptable), then posts exactly the body api.md
// describes; refusals from the server are shown right above Next.
import { h } from '../dom';
import type { ErrorSlot } from '../problem';
import type { Deletion, User } from '../../../domain/schemas';

export interface StepContext {
  deletion: Deletion;
  names: Map<string, string>;
  /** ACTIVE users other than the one being deleted. */
  candidates: User[];
  signal: AbortSignal;
  /** Post a step; on success the wizard shows what the server answered. */
  submit(action: () => Promise<Deletion>, button: HTMLButtonElement, slot: ErrorSlot): Promise<void>;
  /** Read the users again (a select got focus): who can no longer be picked leaves the lists. */
  refreshCandidates(): void;
  /** Called with the ACTIVE users each time they are read again (after a focus, or a 422). */
  onCandidates(listener: (candidates: User[]) => void): void;
}

export interface Panel {
  element: HTMLElement;
  /** In-place refresh while the step stays the same (progress). */
  update?(d: Deletion): void;
}

export function nextButton(text = 'Next'): HTMLButtonElement {
  return h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'next', disabled: true }, text, h('span', { 'aria-hidden': 'true' }, ' →'));
}

export function footer(slot: ErrorSlot, hint: HTMLElement | null, button: HTMLButtonElement): HTMLElement {
  return h('div', { class: 'step-foot' }, slot.element, h('div', { class: 'step-foot-row' }, hint ?? h('span'), button));
}

export function noCandidates(): HTMLElement {
  return h(
    'p',
    { class: 'callout callout-warn', 'data-testid': 'no-candidates' },
    'No other active user can receive anything. Add or reactivate a user, then come back to this wizard.',
  );
}
