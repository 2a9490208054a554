// A user's page. Delete never deletes: it opens the deletion wizard (or, the
// call being idempotent, resumes the one already open for this user). Before
// that, an owner or admin sees the preview: what the wizard will ask about and
// any reason it would be refused, read without changing anything. The page
// offers Delete only where the signed-in role may use it: never to a MEMBER,
// and never to an ADMIN for an OWNER (the preview's ROLE blocker).
import { api } from './api';
import { describeDistribution } from './distribution';
import { badge, formatCount, h, loading, replace, shownText } from './dom';
import { canDelete, whoAmI } from './me';
import { errorSlot, plainWords, withNames } from './problem';
import { link, navigate, type RouteContext } from './router';
import type { DeletionPreview, Me, RoutingItem, User } from '../../domain/schemas';
import { routingList } from './steps/review';
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
      const [user, leads, me] = await Promise.all([
        api.getUser(id, ctx.signal),
        api.leadCount(id, ctx.signal).catch(() => null),
        whoAmI(ctx.signal),
      ]);
      title.textContent = shownText(user.name);
      document.title = `${user.name} · CRM Admin`;
      body.removeAttribute('aria-busy');
      replace(body, profile(user, leads, me, ctx.signal));
    } catch (err) {
      body.removeAttribute('aria-busy');
      replace(body);
      errors.show(err);
    }
  })();
  return page;
}

function profile(user: User, leads: number | null, me: Me, signal: AbortSignal): HTMLElement {
  const actions = h('div', { class: 'profile-actions' });
  const actionErrors = errorSlot();
  const help = h('p', { id: 'delete-help', class: 'help' });
  const previewHost = h('div');

  if (!canDelete(me)) {
    help.dataset.testid = 'delete-not-allowed';
    help.textContent = `Only workspace owners and admins can delete users; you are signed in as a ${roleText(me.user.role).toLowerCase()}.`;
  } else {
    replace(previewHost, h('div', { class: 'card preview', 'aria-busy': 'true' }, loading('Reading what deleting this user involves…')));
    void (async () => {
      try {
        const [preview, users] = await Promise.all([api.deletionPreview(user.id, signal), api.listUsers(undefined, signal)]);
        const names = new Map(users.map((u) => [u.id, u.name]));
        names.set(preview.user.id, preview.user.name);
        showActions(preview);
        replace(previewHost, previewCard(preview, names));
      } catch (err) {
        replace(previewHost);
        actionErrors.show(err);
      }
    })();
  }

  function showActions(preview: DeletionPreview): void {
    if (refusedByRole(preview)) {
      help.dataset.testid = 'delete-not-allowed';
      help.textContent = 'Only an owner can delete an owner.';
      return;
    }
    const resume = preview.openDeletionId !== null;
    const refused = !resume && preview.blockers.length > 0;
    const del = h(
      'button',
      {
        type: 'button',
        class: resume ? 'btn btn-primary' : 'btn btn-danger',
        'data-testid': 'delete-user',
        'aria-describedby': 'delete-help',
        disabled: refused,
      },
      h('span', { class: 'icon-trash', 'aria-hidden': 'true' }),
      resume ? 'Resume deletion' : 'Delete user',
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
    replace(actions, del);
    help.textContent = resume
      ? 'A deletion wizard is open for this user. Resume it to continue where it was left.'
      : refused
        ? 'This user cannot be deleted now; the reasons are listed below.'
        : 'Deleting opens a guided wizard: leads, automations, integrations and labels are reassigned first, and the user is removed only after you type CONFIRM.';
  }

  return h(
    'div',
    { class: 'profile-page' },
    h(
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
        actions,
      ),
      h('div', { class: 'profile-action-errors' }, actionErrors.element),
      h(
        'dl',
        { class: 'facts' },
        h('div', null, h('dt', null, 'Role'), h('dd', { 'data-testid': 'user-role' }, roleText(user.role))),
        h('div', null, h('dt', null, 'Status'), h('dd', null, statusBadge(user.status))),
        h('div', null, h('dt', null, 'Leads owned'), h('dd', { 'data-testid': 'user-lead-count' }, leads === null ? '—' : formatCount(leads))),
      ),
      help,
    ),
    previewHost,
  );
}

/** What the wizard would ask about, read now; nothing is frozen until Delete is clicked. */
/** The viewer's role may not delete this user (an ADMIN and an OWNER): no Delete, no Resume. */
const refusedByRole = (p: DeletionPreview) => p.blockers.some((b) => b.code === 'ROLE');

function previewCard(p: DeletionPreview, names: Map<string, string>): HTMLElement {
  const plural = (n: number, one: string, many: string) => `${formatCount(n)} ${n === 1 ? one : many}`;
  const routing = (items: RoutingItem[], noun: string, testid: string) => {
    const sole = items.filter((it) => it.requiresReplacement).length;
    return h(
      'section',
      { class: 'review-block', 'data-testid': testid },
      h('h3', null, `${noun[0]!.toUpperCase()}${noun.slice(1)}s`),
      h(
        'p',
        { 'data-testid': `${testid}-count` },
        items.length
          ? `${plural(items.length, noun, `${noun}s`)} ${items.length === 1 ? 'routes' : 'route'} leads to ${p.user.name}`
          : `No ${noun} routes leads to ${p.user.name}.`,
        sole ? `; ${formatCount(sole)} ${sole === 1 ? 'routes' : 'route'} only to them and will need a replacement` : '',
        items.length ? '.' : '',
      ),
      items.length
        ? routingList(
            items,
            (it) => `${testid}-${it.id}`,
            (it) =>
              it.requiresReplacement || !it.suggested
                ? badge('Only member: choose a replacement', 'warn')
                : ['suggested ', describeDistribution(it.suggested, names)],
          )
        : null,
    );
  };

  return h(
    'div',
    { class: 'card preview', 'data-testid': 'deletion-preview' },
    h('h2', null, `What deleting ${p.user.name} involves`),
    h('p', { class: 'muted' }, 'Read just now; nothing changes until you click Delete.'),
    p.openDeletionId !== null
      ? h(
          'div',
          { class: 'callout', 'data-testid': 'preview-under-way' },
          h('p', null, h('strong', null, 'Already under way')),
          h(
            'p',
            null,
            // Resume is offered only to whom may delete this user (an ADMIN sees an OWNER's wizard under Deletions).
            refusedByRole(p)
              ? `${p.user.name} is already being deleted; only an owner can go on with it.`
              : `${p.user.name} is already being deleted: Resume deletion opens their wizard.`,
          ),
        )
      : null,
    p.blockers.length
      ? h(
          'div',
          { class: 'callout callout-warn', 'data-testid': 'preview-blockers' },
          h('p', null, h('strong', null, 'Deleting is not possible now')),
          h('ul', { class: 'plain-list' }, p.blockers.map((b) => h('li', { 'data-testid': `blocker-${b.code}` }, plainWords(withNames(b.message, names))))),
        )
      : null,
    h(
      'div',
      { class: 'review' },
      h(
        'section',
        { class: 'review-block' },
        h('h3', null, 'Leads'),
        h('p', null, h('strong', { 'data-testid': 'preview-leads' }, formatCount(p.leads.total)), ` ${p.leads.total === 1 ? 'lead' : 'leads'} to reassign.`),
      ),
      routing(p.automations, 'automation', 'preview-automations'),
      routing(p.integrations, 'integration', 'preview-integrations'),
      h(
        'section',
        { class: 'review-block', 'data-testid': 'preview-labels' },
        h('h3', null, 'Labels'),
        h(
          'p',
          { 'data-testid': 'preview-labels-count' },
          p.labels.length ? `${plural(p.labels.length, 'shared or public label', 'shared or public labels')}: ` : 'No shared or public labels.',
          p.labels.map((l) => l.name).join(', '),
        ),
      ),
    ),
  );
}
