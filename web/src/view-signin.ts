// Sign-in with an API token. The token is checked against the API before the
// session keeps it, and lives in sessionStorage only (gone with the tab).
import { api, session } from './api';
import { h } from './dom';
import { errorSlot } from './problem';
import { navigate, type RouteContext } from './router';

export function signInView(ctx: RouteContext): HTMLElement {
  const next = ctx.query.get('next');
  const ended = ctx.query.get('expired') === '1';
  const errors = errorSlot();
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'data-testid': 'token-input',
    'aria-describedby': 'token-help',
  });
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'sign-in' }, 'Sign in');

  async function submit(e: Event): Promise<void> {
    e.preventDefault();
    errors.clear();
    const token = input.value.trim();
    if (!token) {
      input.setAttribute('aria-invalid', 'true');
      errors.show(new Error('Paste your API token to sign in.'));
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Checking…';
    try {
      await api.checkToken(token);
      session.signIn(token);
      navigate(next && next.startsWith('/') && !next.startsWith('/signin') ? next : '/users');
    } catch (err) {
      input.setAttribute('aria-invalid', 'true');
      errors.show(err);
      input.select();
    } finally {
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }

  return h(
    'div',
    { class: 'signin-page' },
    h(
      'main',
      { class: 'signin-card', id: 'main-content' },
      h('div', { class: 'brand brand-dark' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'C'), h('span', null, 'CRM Admin')),
      h('h1', { 'data-testid': 'page-title', tabindex: -1 }, 'Sign in'),
      h('p', { class: 'muted' }, 'Manage users and offboard them safely: leads, automations, integrations and labels all get a new home first.'),
      ended
        ? h('p', { class: 'notice', role: 'status', 'data-testid': 'session-ended' }, 'Your session ended. Sign in again to continue.')
        : null,
      h(
        'form',
        { onsubmit: (e: Event) => void submit(e), novalidate: true, 'data-testid': 'sign-in-form' },
        h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input),
        h(
          'p',
          { id: 'token-help', class: 'help' },
          'A token of a user of this workspace (owners and admins can delete users). It is kept for this browser tab only and forgotten when you close it or sign out.',
        ),
        errors.element,
        button,
      ),
    ),
  );
}
