// The signed-in frame: a settings sidebar (Users, Deletion wizards), sign-out,
// and the main region the views render into.
import { session } from './api';
import { h, replace } from './dom';
import { canDelete, whoAmI } from './me';
import { link, navigate } from './router';
import { roleText } from './view-users';

export interface Shell {
  element: HTMLElement;
  main: HTMLElement;
  setActive(section: string): void;
}

const SECTIONS = [
  { name: 'users', path: '/users', label: 'Users', testid: 'nav-users' },
  { name: 'deletions', path: '/deletions', label: 'Deletion wizards', testid: 'nav-deletions' },
];

export function createShell(): Shell {
  const main = h('main', { id: 'main-content', class: 'content', tabindex: -1 });
  const links = SECTIONS.map((s) =>
    h('a', { href: link(s.path), class: 'nav-link', 'data-section': s.name, 'data-testid': s.testid }, s.label),
  );
  const skip = h(
    'a',
    {
      href: '#main-content',
      class: 'skip-link',
      onclick: (e: Event) => {
        // The hash is the router's; move focus without touching it.
        e.preventDefault();
        main.focus();
      },
    },
    'Skip to content',
  );
  const signOut = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-quiet sign-out',
      'data-testid': 'sign-out',
      onclick: () => {
        session.signOut();
        navigate('/signin');
      },
    },
    'Sign out',
  );
  // Who is signed in; a MEMBER has no deletion routes, so no link to them.
  const who = h('p', { class: 'sidebar-who', 'data-testid': 'me' });
  const deletionsLink = links.find((a) => a.dataset.section === 'deletions');
  if (deletionsLink) deletionsLink.hidden = true;
  whoAmI().then(
    (me) => {
      replace(who, h('span', { class: 'sidebar-who-name', 'data-testid': 'me-name' }, me.user.name), h('span', { class: 'sidebar-who-role', 'data-testid': 'me-role' }, `${roleText(me.user.role)} · ${me.workspace.name}`));
      if (deletionsLink) deletionsLink.hidden = !canDelete(me);
    },
    () => {
      // Unknown role: show the link; the server answers 403 if it must.
      if (deletionsLink) deletionsLink.hidden = false;
    },
  );
  const element = h(
    'div',
    { class: 'shell' },
    skip,
    h(
      'aside',
      { class: 'sidebar' },
      h('a', { class: 'brand', href: link('/users') }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'C'), h('span', null, 'CRM Admin')),
      h(
        'nav',
        { class: 'nav', 'aria-label': 'Settings' },
        h('p', { class: 'nav-title', 'aria-hidden': 'true' }, 'Settings'),
        links,
      ),
      h('div', { class: 'sidebar-foot' }, who, signOut),
    ),
    main,
  );
  return {
    element,
    main,
    setActive(section) {
      for (const a of links) {
        if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
    },
  };
}

/** Replace the main region's content. */
export function show(shell: Shell, content: HTMLElement): void {
  replace(shell.main, content);
}
