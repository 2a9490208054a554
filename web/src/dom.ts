// A tiny element builder: enough to write views as plain functions without a
// framework. Text is always set as text (never parsed as HTML).

export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

/** Properties that must be set after the children exist (a select's value needs its options). */
const LATE_PROPS = new Set(['value', 'checked', 'selected', 'indeterminate']);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  const late: [string, unknown][] = [];
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, '').toLowerCase(), value);
    } else if (LATE_PROPS.has(key)) {
      late.push([key, value]);
    } else if (key === 'class') {
      el.className = String(value);
    } else if (key === 'disabled' || key === 'hidden' || key === 'required') {
      (el as unknown as Record<string, boolean>)[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  for (const [key, value] of late) (el as unknown as Record<string, unknown>)[key] = value;
  return el;
}

/** Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069). */
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/**
 * Text as shown: a bidi control someone typed (a name, a reason) is shown as
 * its code point instead of reordering what follows ("evil" is not shown as
 * "live"); the elements holding such text are isolated too (styles.css).
 */
export function shownText(text: string): string {
  return text.replace(BIDI_CONTROLS, (c) => `[U+${c.charCodeAt(0).toString(16).toUpperCase()}]`);
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(shownText(String(child))));
  }
}

/** Replace everything inside `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let nextId = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = 'f'): string {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** Text that only screen readers read. */
export function srOnly(text: string): HTMLSpanElement {
  return h('span', { class: 'sr-only' }, text);
}

const numberFormat = new Intl.NumberFormat('en');
export function formatCount(n: number): string {
  return numberFormat.format(n);
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString('en', { dateStyle: 'medium', timeStyle: 'short' });
}

/** Move focus to a heading (or any element) so keyboard and screen-reader users land on the new content. */
export function focusHeading(el: HTMLElement | null): void {
  if (!el) return;
  if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: false });
}

/** A labelled, loading placeholder (also marks its region busy). */
export function loading(text: string): HTMLElement {
  return h('div', { class: 'loading', role: 'status', 'data-testid': 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function emptyState(title: string, body?: string, testid = 'empty'): HTMLElement {
  return h('div', { class: 'empty', 'data-testid': testid }, h('p', { class: 'empty-title' }, title), body ? h('p', null, body) : null);
}

export function badge(text: string, tone: 'neutral' | 'good' | 'warn' | 'bad' | 'info' = 'neutral', testid?: string): HTMLSpanElement {
  return h('span', { class: `badge badge-${tone}`, 'data-testid': testid }, text);
}
