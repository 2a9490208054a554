// A wizard's audit trail on its own page.
import { api } from './api';
import { auditList, auditNames } from './audit';
import { emptyState, h, loading, replace, shownText } from './dom';
import { errorSlot } from './problem';
import { link, type RouteContext } from './router';
import { deletionStatusBadge, sourceBadge } from './view-deletions';

export function auditView(ctx: RouteContext): HTMLElement {
  const id = ctx.params.id ?? '';
  const errors = errorSlot();
  const title = h('h1', { 'data-testid': 'page-title', tabindex: -1 }, 'Audit trail');
  const meta = h('div', { class: 'head-meta' });
  const body = h('div', { class: 'card-body', 'aria-busy': 'true' }, loading('Loading the audit trail…'));
  const page = h(
    'section',
    { class: 'page' },
    h(
      'header',
      { class: 'page-head' },
      h(
        'div',
        null,
        h('p', { class: 'crumbs' }, h('a', { href: link('/deletions') }, 'Deletion wizards'), ' › ', h('a', { href: link(`/deletions/${encodeURIComponent(id)}`) }, 'Wizard'), ' › '),
        title,
        meta,
      ),
    ),
    errors.element,
    h('div', { class: 'card' }, body),
  );

  void (async () => {
    try {
      const [deletion, events, users] = await Promise.all([
        api.getDeletion(id, ctx.signal),
        api.audit(id, ctx.signal),
        api.listUsers(undefined, ctx.signal).catch(() => []),
      ]);
      const names = auditNames(users, deletion);
      title.textContent = shownText(`Audit trail · ${deletion.user.name}`);
      replace(meta, sourceBadge(deletion.source), deletionStatusBadge(deletion.status), h('span', { class: 'muted' }, deletion.user.email));
      body.removeAttribute('aria-busy');
      replace(body, events.length ? auditList(events, names) : emptyState('No events yet'));
    } catch (err) {
      body.removeAttribute('aria-busy');
      replace(body);
      errors.show(err);
    }
  })();
  return page;
}
