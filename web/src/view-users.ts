// Settings › Users: every user of the workspace with role and status.
import { api } from './api';
import { badge, emptyState, formatCount, h, loading, replace } from './dom';
import { errorSlot } from './problem';
import { link, navigate, type RouteContext } from './router';
import type { User, UserStatus } from '../../domain/schemas';

export const STATUS_TEXT: Record<UserStatus, string> = {
  ACTIVE: 'Active',
  SUSPENDED: 'Suspended',
  PENDING_DELETION: 'Pending deletion',
};
const STATUS_TONE = { ACTIVE: 'good', SUSPENDED: 'warn', PENDING_DELETION: 'bad' } as const;

export function statusBadge(status: UserStatus): HTMLElement {
  return badge(STATUS_TEXT[status] ?? status, STATUS_TONE[status] ?? 'neutral', 'user-status');
}

export function roleText(role: string): string {
  return role.charAt(0) + role.slice(1).toLowerCase();
}

export function usersView(ctx: RouteContext): HTMLElement {
  const status = (ctx.query.get('status') ?? '') as UserStatus | '';
  const errors = errorSlot();
  const body = h('div', { class: 'card-body', 'aria-busy': 'true' }, loading('Loading users…'));
  const count = h('span', { class: 'muted', 'data-testid': 'users-count' });

  const filter = h(
    'select',
    {
      id: 'status-filter',
      'data-testid': 'status-filter',
      value: status,
      onchange: (e: Event) => {
        const v = (e.target as HTMLSelectElement).value;
        navigate(v ? `/users?status=${v}` : '/users');
      },
    },
    h('option', { value: '' }, 'All statuses'),
    (Object.keys(STATUS_TEXT) as UserStatus[]).map((s) => h('option', { value: s }, STATUS_TEXT[s])),
  );

  const page = h(
    'section',
    { class: 'page', 'aria-labelledby': 'users-title' },
    h(
      'header',
      { class: 'page-head' },
      h('div', null, h('p', { class: 'crumbs' }, 'Settings'), h('h1', { id: 'users-title', 'data-testid': 'page-title', tabindex: -1 }, 'Users')),
      h('div', { class: 'toolbar' }, h('label', { for: 'status-filter', class: 'inline-label' }, 'Status'), filter),
    ),
    errors.element,
    h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, 'Team members'), count), body),
  );

  void (async () => {
    try {
      const users = await api.listUsers(status || undefined, ctx.signal);
      body.removeAttribute('aria-busy');
      count.textContent = `${formatCount(users.length)} ${users.length === 1 ? 'user' : 'users'}`;
      if (users.length === 0) {
        replace(body, emptyState('No users here', status ? 'No user has this status. Try another filter.' : 'This workspace has no users yet.'));
        return;
      }
      replace(body, usersTable(users));
    } catch (err) {
      body.removeAttribute('aria-busy');
      replace(body);
      errors.show(err);
    }
  })();
  return page;
}

function usersTable(users: User[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table table-stack', 'data-testid': 'users-table' },
      h('caption', { class: 'sr-only' }, 'Users of this workspace'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Email'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Status'))),
      h(
        'tbody',
        null,
        users.map((u) =>
          h(
            'tr',
            { 'data-testid': `user-row-${u.id}` },
            h(
              'th',
              { scope: 'row' },
              h('a', { href: link(`/users/${encodeURIComponent(u.id)}`), class: 'user-link', 'data-testid': `user-link-${u.id}` }, avatar(u.name), u.name),
            ),
            h('td', { class: 'muted cell-email', 'data-label': 'Email' }, u.email),
            h('td', { 'data-label': 'Role' }, roleText(u.role)),
            h('td', { 'data-label': 'Status' }, statusBadge(u.status)),
          ),
        ),
      ),
    ),
  );
}

export function avatar(name: string): HTMLElement {
  // The first letter or digit of the first two words that have one: "Owner (demo)" is OD, not "O(".
  const initials = name
    .split(/\s+/)
    .map((word) => word.match(/[\p{L}\p{N}]/u)?.[0] ?? '')
    .filter(Boolean)
    .slice(0, 2)
    .map((c) => c.toUpperCase())
    .join('');
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
  const el = h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials || '?');
  el.style.setProperty('--hue', String(hash)); // via CSSOM, which a strict style-src CSP still allows
  return el;
}
