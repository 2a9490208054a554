// The deletion wizard: a stepper (Leads, Automations, Integrations, Labels,
// Confirm) driven by the Deletion the server answers. The server decides the
// step; the page shows it, posts the admin's choices, and follows the wizard
// while work runs in the background (the lead move, the final removal): the
// server pushes each change over its event stream (live.ts); while the stream
// is down the page polls, and tries the stream again now and then. Reopening
// the page at any time picks the wizard up where it is.
import { api, ApiError } from './api';
import { focusHeading, formatTime, h, loading, replace } from './dom';
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

/** Work is running on the server and the page should keep following it. */
function needsPolling(d: Deletion, confirmed: boolean): boolean {
  if (d.leads.state === 'MOVING') return true;
  if (d.status !== 'IN_PROGRESS') return false;
  return (d.step === 'LEADS' && d.leads.state === 'DONE') || d.step === 'DONE' || (d.step === 'CONFIRM' && confirmed);
}

export function wizardView(ctx: RouteContext): HTMLElement {
  const id = ctx.params.id ?? '';
  const loadErrors = errorSlot();
  const title = h('h1', { 'data-testid': 'page-title', tabindex: -1 }, 'Delete user');
  const meta = h('div', { class: 'head-meta' });
  const actions = h('div', { class: 'head-actions' });
  const cancelArea = h('div');
  const attentionArea = h('div');
  const stepper = h('ol', { class: 'stepper', 'data-testid': 'stepper', 'aria-label': 'Wizard steps' });
  const stepTitle = h('h2', { class: 'step-title', 'data-testid': 'step-title', tabindex: -1 });
  const pollErrors = errorSlot('poll-error');
  const panelHost = h('div', { class: 'step-body', 'aria-busy': 'true' }, loading('Loading the wizard…'));
  const auditLink = h('a', { href: link(`/deletions/${encodeURIComponent(id)}/audit`), 'data-testid': 'audit-link' }, 'View the audit trail');

  const page = h(
    'section',
    // data-updates: how the page follows the wizard now (stream, poll, or idle: nothing runs).
    { class: 'page wizard', 'data-testid': 'wizard', 'data-updates': 'idle' },
    h(
      'header',
      { class: 'page-head' },
      h('div', null, h('p', { class: 'crumbs' }, h('a', { href: link('/deletions') }, 'Deletion wizards'), ' › '), title, meta),
      actions,
    ),
    loadErrors.element,
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

  ctx.signal.addEventListener('abort', () => {
    clearTimeout(timer);
    stopStream?.();
    stopStream = null;
  });

  const stepContext = (d: Deletion): StepContext => ({
    deletion: d,
    names,
    candidates,
    signal: ctx.signal,
    submit: (action, button, slot) => submit(action, button, slot),
  });

  async function submit(action: () => Promise<Deletion>, button: HTMLButtonElement, slot: ErrorSlot): Promise<void> {
    slot.clear();
    const label = [...button.childNodes];
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    button.textContent = 'Saving…';
    const isConfirm = button.dataset.testid === 'confirm-delete';
    try {
      const next = await action();
      if (isConfirm) confirmed = true;
      show(next);
    } catch (err) {
      button.replaceChildren(...label);
      button.disabled = false;
      button.removeAttribute('aria-busy');
      // 409: someone (another tab, a script, HR) moved the wizard on; offer to catch up.
      const stale = err instanceof ApiError && err.status === 409;
      slot.show(
        err,
        stale ? h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': 'reload', onclick: () => void reload() }, 'Show the current step') : undefined,
        itemNames(),
      );
    }
  }

  /** Users plus this wizard's automations, integrations and labels, for messages that name ids. */
  function itemNames(): Map<string, string> {
    const all = new Map(names);
    if (deletion) for (const item of [...deletion.automations, ...deletion.integrations, ...deletion.labels]) all.set(item.id, item.name);
    return all;
  }

  async function reload(): Promise<void> {
    try {
      show(await api.getDeletion(id, ctx.signal));
    } catch (err) {
      pollErrors.show(err);
    }
  }

  function renderHead(d: Deletion): void {
    title.textContent = `Delete ${d.user.name}`;
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
      d.reason ? h('span', { class: 'muted reason', 'data-testid': 'wizard-reason' }, `Reason: ${d.reason}`) : null,
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

  function show(d: Deletion): void {
    deletion = d;
    names.set(d.user.id, d.user.name);
    renderHead(d);
    renderStepper(d);
    const next = screenOf(d, confirmed);
    // The end screen is drawn again once a move stopped by a cancel has settled.
    const key = next === 'end' ? `end:${d.leads.state}` : next;
    if (key !== screenKey || !panel) {
      const first = screen === null;
      const moved = next !== screen;
      screen = next;
      screenKey = key;
      stepTitle.textContent = titleOf(next, d);
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
   * nothing runs, neither.
   */
  function keepUp(): void {
    if (ctx.signal.aborted || !deletion) return;
    if (!needsPolling(deletion, confirmed)) {
      stopStream?.();
      stopStream = null;
      page.dataset.updates = 'idle';
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
        show(d);
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

  function schedulePoll(delay = POLL_MS): void {
    if (timer !== undefined || ctx.signal.aborted || !deletion || !needsPolling(deletion, confirmed)) return;
    page.dataset.updates = 'poll';
    timer = setTimeout(() => {
      timer = undefined;
      void (async () => {
        try {
          const d = await api.getDeletion(id, ctx.signal);
          if (stopStream) return; // the stream took over meanwhile, and is at least as new
          pollErrors.clear();
          show(d);
        } catch (err) {
          if (ctx.signal.aborted || stopStream) return;
          pollErrors.show(err);
          if (err instanceof ApiError && (err.status === 404 || err.status === 401 || err.status === 403)) return;
          schedulePoll(POLL_RETRY_MS);
        }
      })();
    }, delay);
  }

  function openCancel(d: Deletion): void {
    const slot = errorSlot();
    const reason = h('input', { id: 'cancel-reason', type: 'text', 'data-testid': 'cancel-reason', maxlength: 2000, autocomplete: 'off' });
    const yes = h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'cancel-confirm' }, 'Cancel wizard');
    const heading = h('h2', { id: 'cancel-title', tabindex: -1 }, `Cancel the wizard for ${d.user.name}?`);
    const opener = () => actions.querySelector<HTMLButtonElement>('[data-testid="cancel-wizard"]');
    const close = () => {
      cancelArea.replaceChildren();
      const button = opener();
      if (button) {
        button.hidden = false;
        button.focus();
      }
    };
    const form = h(
      'form',
      {
        class: 'callout callout-warn cancel-panel',
        'data-testid': 'cancel-panel',
        role: 'region',
        'aria-labelledby': 'cancel-title',
        novalidate: true,
        onkeydown: (e: Event) => {
          if ((e as KeyboardEvent).key === 'Escape') close();
        },
        onsubmit: (e: Event) => {
          e.preventDefault();
          void (async () => {
            slot.clear();
            yes.disabled = true;
            try {
              const next = await api.cancel(d.id, reason.value.trim() || undefined);
              cancelArea.replaceChildren();
              show(next);
            } catch (err) {
              yes.disabled = false;
              slot.show(err);
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
        h('button', { type: 'button', class: 'btn btn-ghost', 'data-testid': 'cancel-keep', onclick: close }, 'Keep the wizard open'),
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
