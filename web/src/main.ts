// CRM Admin · user offboarding. The page served by the API at `/`; it talks
// only to api.md's v1 contract (same origin, `Authorization: Bearer <token>`).
//
// Routes (hash routing, so the server only ever serves index.html):
//   #/signin[?next=/path][&expired=1]  sign in with an API token (sessionStorage)
//   #/users[?status=ACTIVE|SUSPENDED|PENDING_DELETION]   users with role and status
//   #/users/:id                        a user; owners and admins see the deletion preview, and
//                                      Delete opens (or resumes) the wizard where their role allows
//   #/deletions[?status=IN_PROGRESS|COMPLETED|CANCELLED|FAILED|ALL]   wizards (default: in progress)
//   #/deletions/:id                    the wizard: stepper, current step, summary at the end
//   #/deletions/:id/audit              a wizard's audit trail
//
// Stable data-testids for the browser tests:
//   app                       the root element
//   page-title                each screen's h1
//   error                     an API problem or page error, next to what caused it (role=alert)
//   poll-error                trouble while polling the wizard (keeps retrying)
//   loading, empty            loading and empty states
//   Sign-in:   token-input, sign-in, sign-in-form, session-ended
//   Shell:     nav-users, nav-deletions (hidden from a MEMBER), sign-out, me, me-name, me-role
//   Users:     users-table, users-count, status-filter, user-row-<id>, user-link-<id>, user-status
//   User:      user-profile, user-name, user-email, user-role, user-lead-count, delete-user,
//              delete-not-allowed (instead of delete-user where the role may not delete this user),
//              deletion-preview, preview-leads, preview-automations(-count, -<id>),
//              preview-integrations(-count, -<id>), preview-labels(-count), preview-blockers, blocker-<CODE>,
//              preview-under-way (a wizard is open for this user)
//   Wizards:   deletions-list, deletions-count, deletion-filter, deletion-row-<id>, resume-<id>,
//              audit-link-<id>, deletion-source, deletion-status, deletion-attention
//   Wizard:    wizard (data-updates stream|poll|hidden|idle: how it follows work on the server now),
//              stepper, stepper-<LEADS|AUTOMATIONS|INTEGRATIONS|LABELS|CONFIRM> (data-state
//              done|current|todo, aria-current=step), step-title, next, next-hint, audit-link,
//              wizard-user-email, wizard-reason, attention, attention-reason, attention-retry, attention-cancel,
//              attention-error,
//              cancel-wizard, cancel-panel, cancel-reason, cancel-confirm, cancel-keep, reload
//   Step 1:    lead-count, lead-mode-one, lead-mode-split, lead-target, lead-distribution (editor),
//              progress (<progress>), progress-text, progress-live, no-candidates
//   Steps 2/3: automations-list | integrations-list, automations-empty | integrations-empty,
//              automation-<id> | integration-<id> (card, data-requires-replacement),
//              automation-<id>-current, -suggested, -state, -reset, -dist (editor)
//   Editor <p> (distribution editor with prefix p): p-user-<i>, p-weight-<i>, p-remove-<i>,
//              p-add, p-even, p-sum, p-problem (rows counted from 0)
//   Step 4:    labels-table, labels-empty, label-<id>, label-<id>-replacement
//   Confirm:   review (review-leads, review-automation-<id>, ...), confirm-input, confirm-delete, finishing
//   End:       summary (data-status COMPLETED|CANCELLED|FAILED), summary-leads, summary-automation-<id>,
//              summary-integration-<id>, summary-label-<id>, audit-list
//   Audit:     audit-list, audit-<ACTION> (one per event)
import './styles.css';
import { session, setUnauthorizedHandler } from './api';
import { focusHeading, h, replace } from './dom';
import { createShell, show, type Shell } from './layout';
import { errorSlot } from './problem';
import { createRouter, currentPath, navigate } from './router';
import { auditView } from './view-audit';
import { deletionsView } from './view-deletions';
import { signInView } from './view-signin';
import { userView } from './view-user';
import { usersView } from './view-users';
import { wizardView } from './view-wizard';

const app = document.getElementById('app') as HTMLElement;
let shell: Shell | null = null;

const PUBLIC_ROUTES = new Set(['signin']);
const SECTION: Record<string, string> = {
  users: 'users',
  user: 'users',
  deletions: 'deletions',
  wizard: 'deletions',
  audit: 'deletions',
};

setUnauthorizedHandler(() => {
  // The token stopped working (revoked, or its user is being deleted): back to sign-in.
  session.signOut();
  shell = null;
  const here = currentPath();
  navigate(`/signin?expired=1${here.startsWith('/signin') ? '' : `&next=${encodeURIComponent(here)}`}`);
});

function mount(content: HTMLElement | Promise<HTMLElement>, route: { name: string; path: string }): void {
  if (route.name === 'home') return; // it has already redirected
  if (!PUBLIC_ROUTES.has(route.name) && !session.token) {
    navigate(`/signin?next=${encodeURIComponent(currentPath())}`);
    return;
  }
  if (PUBLIC_ROUTES.has(route.name)) {
    shell = null;
    document.title = 'Sign in · CRM Admin';
    void Promise.resolve(content).then((el) => {
      replace(app, el);
      el.querySelector<HTMLInputElement>('[data-testid="token-input"]')?.focus();
    });
    return;
  }
  if (!shell) {
    shell = createShell();
    replace(app, shell.element);
  }
  const current = shell;
  current.setActive(SECTION[route.name] ?? '');
  document.title = `${route.name === 'users' || route.name === 'user' ? 'Users' : 'Deletion wizards'} · CRM Admin`;
  void Promise.resolve(content).then(
    (el) => {
      show(current, el);
      // Land keyboard and screen-reader users on the new screen's heading.
      focusHeading(el.querySelector<HTMLElement>('[data-testid="page-title"]'));
    },
    (err: unknown) => {
      const slot = errorSlot();
      show(current, h('section', { class: 'page' }, slot.element));
      slot.show(err);
    },
  );
}

const router = createRouter(mount, '/users');
router
  .add('/signin', 'signin', signInView)
  .add('/users', 'users', usersView)
  .add('/users/:id', 'user', userView)
  .add('/deletions', 'deletions', deletionsView)
  .add('/deletions/:id', 'wizard', wizardView)
  .add('/deletions/:id/audit', 'audit', auditView)
  .add('/', 'home', () => {
    navigate(session.token ? '/users' : '/signin');
    return h('div');
  });

router.start();
