// Deletion wizards: the open ones (started by an admin, HR or the identity provider) to resume,
// and the finished ones to look back at.
import { api } from './api';
import { badge, emptyState, formatCount, formatTime, h, loading, replace } from './dom';
import { errorSlot } from './problem';
import { link, navigate, type RouteContext } from './router';
import type { Deletion, DeletionStatus, Step } from '../../domain/schemas';

export const STEP_TEXT: Record<Step, string> = {
  LEADS: 'Leads',
  AUTOMATIONS: 'Automations',
  INTEGRATIONS: 'Integrations',
  LABELS: 'Labels',
  CONFIRM: 'Confirm',
  DONE: 'Done',
};
export const DELETION_STATUS_TEXT: Record<DeletionStatus, string> = {
  IN_PROGRESS: 'In progress',
  COMPLETED: 'Completed',
  CANCELLED: 'Cancelled',
  FAILED: 'Failed',
};
const DELETION_TONE = { IN_PROGRESS: 'info', COMPLETED: 'good', CANCELLED: 'neutral', FAILED: 'bad' } as const;

export function deletionStatusBadge(status: DeletionStatus): HTMLElement {
  return badge(DELETION_STATUS_TEXT[status] ?? status, DELETION_TONE[status] ?? 'neutral', 'deletion-status');
}

const SOURCE_TEXT: Record<Deletion['source'], string> = { ADMIN: 'Admin', HR: 'HR', IDP: 'Identity provider' };

export function sourceBadge(source: Deletion['source']): HTMLElement {
  return badge(SOURCE_TEXT[source] ?? source, source === 'ADMIN' ? 'neutral' : 'warn', 'deletion-source');
}

/** A wizard that waits on someone: shown beside its status wherever it is listed. */
export function attentionBadge(d: Deletion): HTMLElement | null {
  return d.attention && d.status === 'IN_PROGRESS' ? badge('Needs attention', 'bad', 'deletion-attention') : null;
}

export function deletionsView(ctx: RouteContext): HTMLElement {
  const status = (ctx.query.get('status') ?? 'IN_PROGRESS') as DeletionStatus | 'ALL';
  const errors = errorSlot();
  const body = h('div', { class: 'card-body', 'aria-busy': 'true' }, loading('Loading deletion wizards…'));
  const count = h('span', { class: 'muted', 'data-testid': 'deletions-count' });
  const filter = h(
    'select',
    {
      id: 'deletion-filter',
      'data-testid': 'deletion-filter',
      value: status,
      onchange: (e: Event) => navigate(`/deletions?status=${(e.target as HTMLSelectElement).value}`),
    },
    (Object.keys(DELETION_STATUS_TEXT) as DeletionStatus[]).map((s) => h('option', { value: s }, DELETION_STATUS_TEXT[s])),
    h('option', { value: 'ALL' }, 'All'),
  );

  const page = h(
    'section',
    { class: 'page' },
    h(
      'header',
      { class: 'page-head' },
      h('div', null, h('p', { class: 'crumbs' }, 'Settings'), h('h1', { 'data-testid': 'page-title', tabindex: -1 }, 'Deletion wizards')),
      h('div', { class: 'toolbar' }, h('label', { for: 'deletion-filter', class: 'inline-label' }, 'Show'), filter),
    ),
    h(
      'p',
      { class: 'muted lead-text' },
      'A wizard stays open until it is confirmed or cancelled, for as long as it takes. Wizards started by the HR system or by the identity provider (SCIM) appear here too.',
    ),
    errors.element,
    h('div', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', null, status === 'ALL' ? 'All wizards' : DELETION_STATUS_TEXT[status]), count), body),
  );

  void (async () => {
    try {
      const items = await api.listDeletions(status === 'ALL' ? undefined : status, ctx.signal);
      body.removeAttribute('aria-busy');
      count.textContent = `${formatCount(items.length)} ${items.length === 1 ? 'wizard' : 'wizards'}`;
      if (items.length === 0) {
        replace(
          body,
          emptyState(
            status === 'IN_PROGRESS' ? 'No wizard is open' : 'Nothing to show',
            status === 'IN_PROGRESS' ? 'Open a user and choose Delete user to start one.' : undefined,
          ),
        );
        return;
      }
      replace(body, deletionsTable(items));
    } catch (err) {
      body.removeAttribute('aria-busy');
      replace(body);
      errors.show(err);
    }
  })();
  return page;
}

function progressText(d: Deletion): string {
  if (d.leads.state === 'MOVING') return `${formatCount(d.leads.moved)} of ${formatCount(d.leads.total)} leads moved`;
  if (d.leads.state === 'DONE') return `${formatCount(d.leads.moved)} leads moved`;
  return `${formatCount(d.leads.total)} leads to move`;
}

function deletionsTable(items: Deletion[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table table-stack', 'data-testid': 'deletions-list' },
      h('caption', { class: 'sr-only' }, 'Deletion wizards, newest first'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['User', 'Started by', 'Step', 'Leads', 'Status', 'Dates'].map((t) => h('th', { scope: 'col' }, t)),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')),
        ),
      ),
      h(
        'tbody',
        null,
        items.map((d) =>
          h(
            'tr',
            { 'data-testid': `deletion-row-${d.id}` },
            h('th', { scope: 'row' }, h('span', { class: 'cell-strong' }, d.user.name), h('span', { class: 'cell-sub' }, d.user.email)),
            h('td', { 'data-label': 'Started by' }, sourceBadge(d.source)),
            h('td', { 'data-label': 'Step' }, d.status === 'IN_PROGRESS' ? STEP_TEXT[d.step] : '—'),
            h('td', { class: 'num', 'data-label': 'Leads' }, progressText(d)),
            h('td', { 'data-label': 'Status' }, h('span', { class: 'badges' }, deletionStatusBadge(d.status), attentionBadge(d))),
            // Both dates in one column: seven columns pushed Resume and Audit out of a 1280-px-wide window.
            h(
              'td',
              { class: 'dates', 'data-label': 'Dates' },
              h('span', { class: 'cell-sub' }, 'Started ', h('time', { datetime: d.startedAt }, formatTime(d.startedAt))),
              h('span', { class: 'cell-sub' }, 'Changed ', h('time', { datetime: d.updatedAt }, formatTime(d.updatedAt))),
            ),
            h(
              'td',
              { class: 'row-actions' },
              h(
                'a',
                {
                  class: d.status === 'IN_PROGRESS' ? 'btn btn-primary btn-sm' : 'btn btn-ghost btn-sm',
                  href: link(`/deletions/${encodeURIComponent(d.id)}`),
                  'data-testid': `resume-${d.id}`,
                  'aria-label': `${d.status === 'IN_PROGRESS' ? 'Resume' : 'Open'} the wizard for ${d.user.name}`,
                },
                d.status === 'IN_PROGRESS' ? 'Resume' : 'Open',
              ),
              h(
                'a',
                {
                  class: 'btn btn-ghost btn-sm',
                  href: link(`/deletions/${encodeURIComponent(d.id)}/audit`),
                  'data-testid': `audit-link-${d.id}`,
                  'aria-label': `Audit trail of the wizard for ${d.user.name}`,
                },
                'Audit',
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
