// Turning the server's problem+json (and network trouble) into words, placed
// next to the control that caused it. The slot is a live region, so screen
// readers hear the message as soon as it appears.
import { ApiError } from './api';
import { formatTime, h, replace } from './dom';
import { STEP_TEXT } from './view-deletions';

const LEADS: Record<number, string> = {
  0: 'No connection',
  400: 'That request was not accepted',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Not possible at this step',
  413: 'Too much data',
  422: 'Refused',
};

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}

export interface Described {
  heading: string;
  detail: string;
  fields: string[];
  status: number;
}

/** Known ids in a server message, said by name: "User cmx… is suspended" → "ann is suspended". */
export function withNames(text: string, names?: Map<string, string>): string {
  if (!names || !text) return text;
  let out = text;
  for (const [id, name] of names) {
    if (id.length < 6 || !out.includes(id)) continue;
    out = out.split(`User ${id}`).join(name).split(id).join(name);
  }
  return out;
}

const STEP_NAME = /\b(LEADS|AUTOMATIONS|INTEGRATIONS|LABELS|CONFIRM|DONE)\b/;
const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})\b/g;

/** The server's enum names and ISO times in a message, in the words and the one date format the page uses. */
export function plainWords(text: string): string {
  return text
    .replace(new RegExp(`\\bstep ${STEP_NAME.source}, not ${STEP_NAME.source}`, 'g'), (_m, at: string, wanted: string) =>
      `step ${stepWord(at)}, not ${stepWord(wanted)}`,
    )
    .replace(/\balready (CANCELLED|COMPLETED|FAILED)\b/g, (_m, s: string) => `already ${s.toLowerCase()}`)
    .replace(/\bhas FAILED\b/g, 'has failed')
    .replace(/\b(an? )?(OWNER|ADMIN|MEMBER)\b/g, (_m, article: string | undefined, role: string) =>
      `${article ?? ''}${role.toLowerCase()}`,
    )
    .replace(ISO_TIME, (iso) => formatTime(iso));
}

function stepWord(step: string): string {
  return `"${STEP_TEXT[step as keyof typeof STEP_TEXT] ?? step}"`;
}

export function describe(err: unknown, names?: Map<string, string>): Described {
  if (err instanceof ApiError) {
    const p = err.problem;
    const heading = LEADS[p.status] ?? (p.status >= 500 ? 'The server had a problem' : p.title || 'Error');
    const detail = p.status === 403 && !p.detail ? 'Only workspace owners and admins can delete users.' : p.detail;
    return {
      heading,
      detail: plainWords(withNames(detail || p.title, names)),
      fields: (p.errors ?? []).map((e) => withNames(e.path ? `${humanPath(e.path)}: ${e.message}` : e.message, names)),
      status: p.status,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { heading: 'Something went wrong', detail: message, fields: [], status: -1 };
}

/** `overrides.0.distribution.1.weight` → `overrides › 1 › distribution › 2 › weight` (rows counted from 1). */
function humanPath(path: string): string {
  return path
    .replace(/^\//, '')
    .split(/[./]/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? String(Number(part) + 1) : part))
    .join(' › ');
}

export interface ErrorSlot {
  element: HTMLElement;
  /** `names` (id → name) lets the message name the users and items it mentions. */
  show(err: unknown, extra?: HTMLElement, names?: Map<string, string>): void;
  clear(): void;
}

/** A place for one error message; empty (and silent) until `show`. */
export function errorSlot(testid = 'error'): ErrorSlot {
  const element = h('div', { class: 'error-slot', 'aria-live': 'assertive', 'aria-atomic': 'true' });
  return {
    element,
    show(err, extra, names) {
      if (isAbort(err)) return;
      const d = describe(err, names);
      replace(
        element,
        h(
          'div',
          { class: 'problem', role: 'alert', 'data-testid': testid, 'data-status': d.status },
          h('p', { class: 'problem-heading' }, d.heading),
          h('p', { class: 'problem-detail' }, d.detail),
          d.fields.length ? h('ul', { class: 'problem-fields' }, d.fields.map((f) => h('li', null, f))) : null,
          extra ?? null,
        ),
      );
    },
    clear() {
      element.replaceChildren();
    },
  };
}
