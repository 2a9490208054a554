// A user's page. Delete never deletes: it opens the deletion wizard (or, the
// call being idempotent, resumes the one already open for this user).
import { api } from './api';
import { formatCount, h, loading, replace } from './dom';
import { errorSlot } from './problem';
import { link, navigate, type RouteContext } from './router';
import type { User } from '../../domain/schemas';
import { avatar, roleText, statusBadge } from './view-users';

export function userView(ctx: RouteContext): HTMLElement {
  const id = ctx.params.id ?? '';
  const errors = errorSlot();
  const title = h('h1', { 'data-testid': 'page-title', tabindex: -1 }, 'User');
  const body = h('div', { 'aria-busy': 'true' }, loading('Loading user…'));
  const page = h(
    'section',
    { class: 'page' },
    h(
      'header',
      { class: 'page-head' },
      h('div', null, h('p', { class: 'crumbs' }, h('a', { href: link('/users') }, 'Users'), ' › '), title),
    ),
    errors.element,
    body,
  );

  void (async () => {
    try {
      const [user, leads] = await Promise.all([api.getUser(id, ctx.signal), api.leadCount(id, ctx.signal).catch(() => null)]);
      title.textContent = user.name;
      document.title = `${user.name} · CRM Admin`;
      body.removeAttribute('aria-busy');
      replace(body, profile(user, leads));
    } catch (err) {
      body.removeAttribute('aria-busy');
      replace(body);
      errors.show(err);
    }
  })();
  return page;
}

function profile(user: User, leads: number | null): HTMLElement {
  const pending = user.status === 'PENDING_DELETION';
  const actionErrors = errorSlot();
  const del = h(
    'button',
    {
      type: 'button',
      class: pending ? 'btn btn-primary' : 'btn btn-danger',
      'data-testid': 'delete-user',
      'aria-describedby': 'delete-help',
    },
    h('span', { class: 'icon-trash', 'aria-hidden': 'true' }),
    pending ? 'Resume deletion' : 'Delete user',
  );
  del.addEventListener('click', () => {
    void (async () => {
      actionErrors.clear();
      del.disabled = true;
      try {
        const { deletion } = await api.startDeletion(user.id);
        navigate(`/deletions/${encodeURIComponent(deletion.id)}`);
      } catch (err) {
        actionErrors.show(err);
        del.disabled = false;
      }
    })();
  });

  return h(
    'div',
    { class: 'card profile', 'data-testid': 'user-profile' },
    h(
      'div',
      { class: 'profile-head' },
      avatar(user.name),
      h(
        'div',
        { class: 'profile-id' },
        h('p', { class: 'profile-name', 'data-testid': 'user-name' }, user.name),
        h('p', { class: 'muted', 'data-testid': 'user-email' }, user.email),
      ),
      h('div', { class: 'profile-actions' }, del),
    ),
    h('div', { class: 'profile-action-errors' }, actionErrors.element),
    h(
      'dl',
      { class: 'facts' },
      h('div', null, h('dt', null, 'Role'), h('dd', { 'data-testid': 'user-role' }, roleText(user.role))),
      h('div', null, h('dt', null, 'Status'), h('dd', null, statusBadge(user.status))),
      h('div', null, h('dt', null, 'Leads owned'), h('dd', { 'data-testid': 'user-lead-count' }, leads === null ? '—' : formatCount(leads))),
    ),
    h(
      'p',
      { id: 'delete-help', class: 'help' },
      pending
        ? 'A deletion wizard is open for this user. Resume it to continue where it was left.'
        : 'Deleting opens a guided wizard: leads, automations, integrations and labels are reassigned first, and the user is removed only after you type CONFIRM.',
    ),
  );
}
