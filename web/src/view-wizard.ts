// The deletion wizard: a stepper (Leads, Automations, Integrations, Labels,
// Confirm) driven by the Deletion the server answers. The server decides the
// step; the page shows it, posts the admin's choices, and follows the wizard
// while work runs in the background (the lead move, the final removal): the
// server pushes each change over its event stream (live.ts); while the stream
// is down the page polls, and tries the stream again now and then. Reopening
// the page at any time picks the wizard up where it is.
import { api, ApiError } from './api';
import { focusHeading, formatTime, h, loading, replace, shownText } from './dom';
import { errorSlot, type ErrorSlot } from './problem';
import { link, type RouteContext } from './router';
import type { Deletion, Step, User } from '../../domain/schemas';
import { attentionBadge, deletionStatusBadge, sourceBadge, STEP_TEXT } from './view-deletions';
import { STEP_ORDER } from '../../domain/wizard-state';
import { confirmPanel } from './steps/confirm';
import { endPanel } from './steps/end';
import { labelsPanel } from './steps/labels';
import { leadsPanel } from './steps/leads';
import type { Panel, StepContext } from './steps/panel';
import { progressPanel } from './steps/progress';
import { routingPanel } from './steps/routing';
import { followDeletion } from './live';

/** The steps the stepper shows: the server's order, up to CONFIRM (DONE is past the last dot). */
const STEPS: readonly Step[] = STEP_ORDER.filter((s) => s !== 'DONE');

const POLL_MS = 500;
const POLL_RETRY_MS = 2_000;
/** After the stream drops, poll for this long before trying it again (doubling while it fails at once, up to the max). */
const STREAM_RETRY_MS = 5_000;
const STREAM_RETRY_MAX_MS = 60_000;

type Screen = 'leads' | 'moving' | 'automations' | 'integrations' | 'labels' | 'confirm' | 'finishing' | 'end';

function screenOf(d: Deletion, confirmed: boolean): Screen {
  if (d.status !== 'IN_PROGRESS') return 'end';
  if (d.step === 'DONE') return 'finishing';
  switch (d.step) {
    case 'LEADS':
      return d.leads.state === 'PENDING' ? 'leads' : 'moving';
    case 'AUTOMATIONS':
      return 'automations';
    case 'INTEGRATIONS':
      return 'integrations';
    case 'LABELS':
      return 'labels';
    case 'CONFIRM':
      return confirmed ? 'finishing' : 'confirm';
  }
}

function titleOf(screen: Screen, d: Deletion): string {
  switch (screen) {
    case 'leads':
    case 'moving':
      return 'Step 1 of 4 · Reassign leads';
    case 'automations':
      return 'Step 2 of 4 · Workflow automations';
    case 'integrations':
      return 'Step 3 of 4 · Integrations';
    case 'labels':
      return 'Step 4 of 4 · Labels';
    case 'confirm':
    case 'finishing':
      return 'Confirm deletion';
    case 'end':
      return d.status === 'COMPLETED' ? `${d.user.name} was deleted` : d.status === 'CANCELLED' ? 'Wizard cancelled' : 'Wizard failed';
  }
}

/** Work is running on the server and the page should keep following it closely. */
function needsPolling(d: Deletion, confirmed: boolean): boolean {
  if (d.leads.state === 'MOVING') return true;
  if (d.status !== 'IN_PROGRESS') return false;
  return (d.step === 'LEADS' && d.leads.state === 'DONE') || d.step === 'DONE' || (d.step === 'CONFIRM' && confirmed);
}

/**
 * The page follows an open wizard at every step, forms included: another tab,
 * another admin or HR may move it on or cancel it while this admin reads.
 * It is not free: the server reads a watched wizard every 300 ms while it
 * changes and once a second while it waits at a form (one read shared by every
 * tab watching it), and each stream holds one of the browser's 6 HTTP/1.1
 * connections to the API, so a hidden tab lets go of its stream (and polls
 * nothing). Polled (stream down), it is slow while nothing runs.
 */
function follows(d: Deletion, confirmed: boolean): boolean {
  return d.status === 'IN_PROGRESS' || needsPolling(d, confirmed);
}

/** The screens where the page waits for the admin. */
const FORMS: ReadonlySet<Screen> = new Set(['leads', 'automations', 'integrations', 'labels', 'confirm']);

/** Where the wizard is, in words. */
function whereText(s: Screen): string {
  switch (s) {
    case 'leads':
      return 'step 1 of 4, Leads';
    case 'moving':
      return 'step 1 of 4, Leads, with the lead move running';
    case 'automations':
      return 'step 2 of 4, Automations';
    case 'integrations':
      return 'step 3 of 4, Integrations';
    case 'labels':
      return 'step 4 of 4, Labels';
    case 'confirm':
      return 'Confirm';
    case 'finishing':
      return 'the final removal';
    case 'end':
      return 'its end';
  }
}

/** What changed from `prev` to `next` that the admin did not do here; null when nothing they need to know. */
function changeText(prev: Deletion, next: Deletion, conflict: boolean): string | null {
  const lead = conflict ? 'What you just did was not applied: ' : '';
  const say = (text: string) => (lead ? lead + text : text.charAt(0).toUpperCase() + text.slice(1));
  if (next.status !== prev.status) {
    switch (next.status) {
      case 'CANCELLED':
        return say(`this wizard was cancelled elsewhere (by another admin, in another tab, or by HR). ${next.user.name} is active again.`);
      case 'COMPLETED':
        return say(`this wizard was confirmed elsewhere (by another admin or in another tab): ${next.user.name} was deleted.`);
      case 'FAILED':
        return say('this wizard failed meanwhile; the audit trail below says what was done.');
      default:
        return null;
    }
  }
  const before = screenOf(prev, false);
  const now = screenOf(next, false);
  if (before === now) return null;
  if (before === 'leads' && now === 'moving') return say('the lead move was started elsewhere (by another admin or in another tab). Its choice applies; the progress is below.');
  return say(`this wizard was moved on elsewhere (by another admin or in another tab): it is now at ${whereText(now)}. What was chosen there applies.`);
}

/** How often the page reads the wizard while it waits at a form with the stream down. */
const FORM_POLL_MS = 5_000;
/** User lists are read again on focus at most this often. */
const USERS_FRESH_MS = 2_000;

export function wizardView(ctx: RouteContext): HTMLElement {
  const id = ctx.params.id ?? '';
  const loadErrors = errorSlot();
  const title = h('h1', { 'data-testid': 'page-title', tabindex: -1 }, 'Delete user');
  const meta = h('div', { class: 'head-meta' });
  const actions = h('div', { class: 'head-actions' });
  const cancelArea = h('div');
  const attentionArea = h('div');
  // What changed here that this admin did not do (another tab, another admin, HR).
  const notice = h('div', { 'aria-live': 'polite' });
  const stepper = h('ol', { class: 'stepper', 'data-testid': 'stepper', 'aria-label': 'Wizard steps' });
  const stepTitle = h('h2', { class: 'step-title', 'data-testid': 'step-title', tabindex: -1 });
  const pollErrors = errorSlot('poll-error');
  const panelHost = h('div', { class: 'step-body', 'aria-busy': 'true' }, loading('Loading the wizard…'));
  const auditLink = h('a', { href: link(`/deletions/${encodeURIComponent(id)}/audit`), 'data-testid': 'audit-link' }, 'View the audit trail');

  const page = h(
    'section',
    // data-updates: how the page follows the wizard now (stream, poll, hidden: the tab is, or idle: nothing runs).
    { class: 'page wizard', 'data-testid': 'wizard', 'data-updates': 'idle' },
    h(
      'header',
      { class: 'page-head' },
      h('div', null, h('p', { class: 'crumbs' }, h('a', { href: link('/deletions') }, 'Deletion wizards'), ' › '), title, meta),
      actions,
    ),
    loadErrors.element,
    notice,
    attentionArea,
    cancelArea,
    h('nav', { 'aria-label': 'Progress through the wizard' }, stepper),
    h('div', { class: 'card step-card' }, h('div', { class: 'step-head' }, stepTitle), pollErrors.element, panelHost),
    h('p', { class: 'page-foot' }, auditLink),
  );

  let deletion: Deletion | null = null;
  let names = new Map<string, string>();
  let candidates: User[] = [];
  let screen: Screen | null = null;
  let screenKey = '';
  let panel: Panel | null = null;
  let confirmed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Stops the event stream while one is open. */
  let stopStream: (() => void) | null = null;
  let streamRetryAt = 0;
  let streamBackoff = STREAM_RETRY_MS;
  /** This page is posting: a change seen meanwhile is its own, not news. */
  let submitting = 0;
  /** Panels' user lists, told when the users are read again. */
  let candidateListeners: ((users: User[]) => void)[] = [];
  let usersReadAt = 0;
  let usersReading: Promise<void> | null = null;

  /** Hidden: close the stream and stop polling; shown again: read the wizard once, then follow it again. */
  const onVisibility = () => {
    if (document.hidden) {
      stopStream?.();
      stopStream = null;
      clearTimeout(timer);
      timer = undefined;
      keepUp();
      return;
    }
    void (async () => {
      try {
        const d = await api.getDeletion(id, ctx.signal);
        if (!document.hidden) show(d, true);
      } catch {
        keepUp();
      }
    })();
  };
  document.addEventListener('visibilitychange', onVisibility);

  ctx.signal.addEventListener('abort', () => {
    document.removeEventListener('visibilitychange', onVisibility);
    clearTimeout(timer);
    stopStream?.();
    stopStream = null;
  });

  /** Reads the users again (on a select's focus, after a 422), so nobody who can no longer be picked is offered. */
  function refreshCandidates(force = false): Promise<void> {
    if (usersReading) return usersReading;
    if (!force && Date.now() - usersReadAt < USERS_FRESH_MS) return Promise.resolve();
    usersReadAt = Date.now();
    usersReading = (async () => {
      try {
        const users = await api.listUsers(undefined, ctx.signal);
        for (const u of users) names.set(u.id, u.name);
        const leaver = deletion?.user.id;
        candidates = users.filter((u) => u.status === 'ACTIVE' && u.id !== leaver);
        for (const listener of candidateListeners) listener(candidates);
      } catch {
        // Kept as they were; the server refuses a pick that is no longer valid, in words.
      } finally {
        usersReading = null;
      }
    })();
    return usersReading;
  }

  const stepContext = (d: Deletion): StepContext => ({
    deletion: d,
    names,
    candidates,
    signal: ctx.signal,
    submit: (action, button, slot) => submit(action, button, slot),
    refreshCandidates: () => void refreshCandidates(),
    onCandidates: (listener) => {
      candidateListeners.push(listener);
    },
  });

  function showNotice(text: string): void {
    replace(notice, h('div', { class: 'callout callout-info', role: 'status', 'data-testid': 'wizard-notice' }, h('p', null, text)));
  }

  async function submit(action: () => Promise<Deletion>, button: HTMLButtonElement, slot: ErrorSlot): Promise<void> {
    slot.clear();
    notice.replaceChildren();
    const label = [...button.childNodes];
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = 'Saving…';
    const isConfirm = button.dataset.testid === 'confirm-delete';
    const before = deletion;
    submitting += 1;
    try {
      const next = await action();
      if (isConfirm) confirmed = true;
      show(next);
    } catch (err) {
      button.replaceChildren(...label);
      button.disabled = false;
      button.removeAttribute('aria-busy');
      // 409: someone (another tab, another admin, HR) moved the wizard on or cancelled it: show where it is now, and say so.
      if (err instanceof ApiError && err.status === 409 && before && (await caughtUp(before))) return;
      slot.show(err, undefined, itemNames());
      // 422 naming a user who can no longer be picked: the lists drop them.
      if (err instanceof ApiError && err.status === 422) void refreshCandidates(true);
    } finally {
      submitting -= 1;
    }
  }

  /** After a 409: reads the wizard; when it is elsewhere than this page showed, shows it there with a word why. */
  async function caughtUp(before: Deletion): Promise<boolean> {
    try {
      const now = await api.getDeletion(id, ctx.signal);
      const text = changeText(before, now, true);
      if (text === null) return false;
      show(now);
      showNotice(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Users plus this wizard's automations, integrations and labels, for messages that name ids. */
  function itemNames(): Map<string, string> {
    const all = new Map(names);
    if (deletion) for (const item of [...deletion.automations, ...deletion.integrations, ...deletion.labels]) all.set(item.id, item.name);
    return all;
  }

  function renderHead(d: Deletion): void {
    title.textContent = shownText(`Delete ${d.user.name}`);
    document.title = `Delete ${d.user.name} · CRM Admin`;
    replace(
      meta,
      h('span', { class: 'muted', 'data-testid': 'wizard-user-email' }, d.user.email),
      h('span', { class: 'meta-sep', 'aria-hidden': 'true' }, '·'),
      h('span', { class: 'muted' }, 'Started by '),
      sourceBadge(d.source),
      h('span', { class: 'muted' }, ` on ${formatTime(d.startedAt)}`),
      deletionStatusBadge(d.status),
      attentionBadge(d),
      // The reason the wizard was started with (a cancel's own reason is in the audit).
      d.reason ? h('span', { class: 'muted reason', 'data-testid': 'wizard-reason' }, 'Reason given at the start: ', h('bdi', null, d.reason)) : null,
    );
    const canCancel = d.status === 'IN_PROGRESS' && d.step !== 'DONE' && !confirmed;
    replace(
      actions,
      canCancel
        ? h(
            'button',
            // Hidden while its own confirmation panel is open, so there is one "Cancel wizard" at a time.
            { type: 'button', class: 'btn btn-outline-danger', 'data-testid': 'cancel-wizard', hidden: cancelArea.childElementCount > 0, onclick: () => openCancel(d) },
            'Cancel wizard',
          )
        : null,
    );
    if (!canCancel) cancelArea.replaceChildren();
    renderAttention(d, canCancel);
  }

  /** The wizard cannot go on by itself: say why, offer to try again once the cause is fixed, or to cancel. */
  function renderAttention(d: Deletion, canCancel: boolean): void {
    const attention = d.attention;
    if (!attention || d.status !== 'IN_PROGRESS') {
      attentionArea.replaceChildren();
      delete attentionArea.dataset.key;
      return;
    }
    // Drawn once per attention: polling does not wipe a retry in flight or its error.
    const key = `${d.id}|${attention.since}|${attention.reason}|${canCancel}`;
    if (attentionArea.dataset.key === key) return;
    attentionArea.dataset.key = key;
    const slot = errorSlot('attention-error');
    const retry = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'attention-retry' }, 'Try again');
    retry.addEventListener('click', () =>
      void submit(async () => {
        const next = await api.retry(d.id);
        // Tried again: the banner stays until the work goes through or is refused anew.
        delete attentionArea.dataset.key;
        return next;
      }, retry, slot),
    );
    replace(
      attentionArea,
      h(
        'div',
        { class: 'callout callout-danger attention', role: 'alert', 'data-testid': 'attention' },
        h('p', null, h('strong', null, 'This wizard needs attention'), ` since ${formatTime(attention.since)}.`),
        h('p', { 'data-testid': 'attention-reason' }, attention.reason),
        h(
          'p',
          null,
          canCancel
            ? 'Once the cause is fixed, try again. You can also cancel it now: the user becomes active again and what was already reassigned stays where it is.'
            : 'Once the cause is fixed, try again.',
        ),
        slot.element,
        h(
          'div',
          { class: 'button-row' },
          retry,
          canCancel
            ? h('button', { type: 'button', class: 'btn btn-outline-danger', 'data-testid': 'attention-cancel', onclick: () => openCancel(d) }, 'Cancel wizard')
            : null,
        ),
      ),
    );
  }

  function renderStepper(d: Deletion): void {
    const current = d.status === 'COMPLETED' ? STEPS.length : STEP_ORDER.indexOf(d.step);
    const stopped = d.status === 'CANCELLED' || d.status === 'FAILED';
    stepper.classList.toggle('is-stopped', stopped);
    replace(
      stepper,
      STEPS.map((s, i) => {
        const state = i < current ? 'done' : i === current ? 'current' : 'todo';
        return h(
          'li',
          {
            class: `stepper-item is-${state}`,
            'data-testid': `stepper-${s}`,
            'data-state': state,
            'aria-current': state === 'current' && !stopped ? 'step' : null,
          },
          h('span', { class: 'stepper-dot', 'aria-hidden': 'true' }, state === 'done' ? '✓' : String(i + 1)),
          h('span', { class: 'stepper-label' }, STEP_TEXT[s]),
          h('span', { class: 'sr-only' }, state === 'done' ? ' (done)' : state === 'current' ? (stopped ? ' (stopped here)' : ' (current step)') : ''),
        );
      }),
    );
  }

  /** `remote`: from the stream or a poll, not this page's own answer. */
  function show(d: Deletion, remote = false): void {
    const prev = deletion;
    deletion = d;
    names.set(d.user.id, d.user.name);
    const next = screenOf(d, confirmed);
    // The end screen is drawn again once a move stopped by a cancel has settled.
    const key = next === 'end' ? `end:${d.leads.state}` : next;
    if (remote && submitting === 0 && prev && screen !== null && FORMS.has(screen)) {
      const text = changeText(prev, d, false);
      if (text) showNotice(text);
    }
    // A cancel panel belongs to the step it was opened at.
    if (key !== screenKey) closeCancel?.(false);
    renderHead(d);
    renderStepper(d);
    if (key !== screenKey || !panel) {
      const first = screen === null;
      const moved = next !== screen;
      screen = next;
      screenKey = key;
      stepTitle.textContent = shownText(titleOf(next, d));
      panel = buildPanel(next, d);
      panelHost.removeAttribute('aria-busy');
      replace(panelHost, panel.element);
      if (!first && moved) focusHeading(stepTitle);
    } else {
      panel.update?.(d);
    }
    keepUp();
  }

  function buildPanel(s: Screen, d: Deletion): Panel {
    candidateListeners = [];
    const c = stepContext(d);
    switch (s) {
      case 'leads':
        return leadsPanel(c);
      case 'moving':
        return progressPanel(c);
      case 'automations':
        return routingPanel(c, 'automations');
      case 'integrations':
        return routingPanel(c, 'integrations');
      case 'labels':
        return labelsPanel(c);
      case 'confirm':
        return confirmPanel(c, false);
      case 'finishing':
        return confirmPanel(c, true);
      case 'end':
        return endPanel(c);
    }
  }

  /**
   * While work runs on the server, follow it: over the event stream when it is
   * up, else by polling (and the stream is tried again after a while). When
   * nothing runs, neither; nor while the tab is hidden.
   */
  function keepUp(): void {
    if (ctx.signal.aborted || !deletion) return;
    if (!follows(deletion, confirmed)) {
      stopStream?.();
      stopStream = null;
      page.dataset.updates = 'idle';
      return;
    }
    if (document.hidden) {
      page.dataset.updates = 'hidden';
      return;
    }
    if (stopStream) return;
    if (Date.now() >= streamRetryAt) openStream();
    else schedulePoll();
  }

  function openStream(): void {
    clearTimeout(timer);
    timer = undefined;
    page.dataset.updates = 'stream';
    let heard = false;
    stopStream = followDeletion(id, {
      onDeletion: (d) => {
        heard = true;
        streamBackoff = STREAM_RETRY_MS;
        pollErrors.clear();
        show(d, true);
      },
      onClose: () => {
        stopStream = null;
        // A stream that gave nothing is tried again later and later; one that worked, soon.
        streamRetryAt = Date.now() + streamBackoff;
        if (!heard) streamBackoff = Math.min(streamBackoff * 2, STREAM_RETRY_MAX_MS);
        keepUp();
      },
    });
  }

  function schedulePoll(delay?: number): void {
    if (timer !== undefined || ctx.signal.aborted || document.hidden || !deletion || !follows(deletion, confirmed)) return;
    delay ??= needsPolling(deletion, confirmed) ? POLL_MS : FORM_POLL_MS;
    page.dataset.updates = 'poll';
    timer = setTimeout(() => {
      timer = undefined;
      void (async () => {
        try {
          const d = await api.getDeletion(id, ctx.signal);
          if (stopStream) return; // the stream took over meanwhile, and is at least as new
          pollErrors.clear();
          show(d, true);
        } catch (err) {
          if (ctx.signal.aborted || stopStream) return;
          pollErrors.show(err);
          if (err instanceof ApiError && (err.status === 404 || err.status === 401 || err.status === 403)) return;
          schedulePoll(Math.max(POLL_RETRY_MS, needsPolling(deletion!, confirmed) ? 0 : FORM_POLL_MS));
        }
      })();
    }, delay);
  }

  /** Closes the open cancel panel (its typed reason goes with it); `refocus` puts focus back on its opener. */
  let closeCancel: ((refocus: boolean) => void) | null = null;

  function openCancel(d: Deletion): void {
    closeCancel?.(false);
    const slot = errorSlot();
    const reason = h('input', { id: 'cancel-reason', type: 'text', 'data-testid': 'cancel-reason', maxlength: 2000, autocomplete: 'off' });
    const yes = h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'cancel-confirm' }, 'Cancel wizard');
    const heading = h('h2', { id: 'cancel-title', tabindex: -1 }, `Cancel the wizard for ${d.user.name}?`);
    const opener = () => actions.querySelector<HTMLButtonElement>('[data-testid="cancel-wizard"]');
    // Escape closes it wherever focus is (not only inside it).
    const onEscape = (e: KeyboardEvent) => {
      if (e.key === 'Escape') close();
    };
    const close = (refocus = true) => {
      document.removeEventListener('keydown', onEscape);
      closeCancel = null;
      cancelArea.replaceChildren();
      const button = opener();
      if (button) {
        button.hidden = false;
        if (refocus) button.focus();
      }
    };
    document.addEventListener('keydown', onEscape);
    ctx.signal.addEventListener('abort', () => document.removeEventListener('keydown', onEscape));
    closeCancel = close;
    const form = h(
      'form',
      {
        class: 'callout callout-warn cancel-panel',
        'data-testid': 'cancel-panel',
        'aria-labelledby': 'cancel-title',
        novalidate: true,
        onsubmit: (e: Event) => {
          e.preventDefault();
          void (async () => {
            slot.clear();
            yes.disabled = true;
            const before = deletion;
            submitting += 1;
            try {
              const next = await api.cancel(d.id, reason.value.trim() || undefined);
              close(false);
              show(next);
            } catch (err) {
              yes.disabled = false;
              if (err instanceof ApiError && err.status === 409 && before && (await caughtUp(before))) return;
              slot.show(err);
            } finally {
              submitting -= 1;
            }
          })();
        },
      },
      heading,
      h(
        'p',
        null,
        `${d.user.name} becomes active again. Anything already reassigned stays reassigned${d.leads.state === 'MOVING' ? '; the lead move stops after its current batch' : ''}.`,
      ),
      h('div', { class: 'field' }, h('label', { for: 'cancel-reason' }, 'Reason (optional)'), reason),
      slot.element,
      h(
        'div',
        { class: 'button-row' },
        h('button', { type: 'button', class: 'btn btn-ghost', 'data-testid': 'cancel-keep', onclick: () => close() }, 'Keep the wizard open'),
        yes,
      ),
    );
    replace(cancelArea, form);
    const button = opener();
    if (button) button.hidden = true;
    focusHeading(heading);
  }

  void (async () => {
    try {
      const [d, users] = await Promise.all([api.getDeletion(id, ctx.signal), api.listUsers(undefined, ctx.signal)]);
      names = new Map(users.map((u) => [u.id, u.name]));
      candidates = users.filter((u) => u.status === 'ACTIVE' && u.id !== d.user.id);
      show(d);
    } catch (err) {
      panelHost.removeAttribute('aria-busy');
      replace(panelHost);
      stepTitle.textContent = 'Could not open this wizard';
      loadErrors.show(err);
    }
  })();

  return page;
}
