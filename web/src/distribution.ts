// The distribution editor used by step 1 (split leads over several users) and
// steps 2–3 (automation and integration routing): rows of (active user, whole
// percentage), with a live total. The owner of the editor enables Next only
// when `problem()` is null: every row filled in, then the server's own rule
// (`distributionProblem`: no user twice, whole shares summing to exactly 100).
import { apportion, distributionProblem, WEIGHT_TOTAL } from '../../domain/distribution';
import { h, replace, shownText, uid } from './dom';
import { withNames } from './problem';
import type { Distribution, User } from '../../domain/schemas';

export interface DistributionEditorOptions {
  /** Who may receive: ACTIVE users, never the user being deleted. */
  candidates: User[];
  /** Starting rows; empty gives one blank row at 100%. */
  initial: Distribution;
  /** Prefix of the data-testids inside the editor. */
  testid: string;
  /** Accessible name of the group (its legend). */
  legend: string;
  /** Visually hide the legend (when a heading right above already says it). */
  hideLegend?: boolean;
  onChange?: () => void;
  /** Every user's name (any status), to name a picked user who can no longer be picked. */
  names?: Map<string, string>;
  /** A user select got focus: the owner may read the users again (then `setCandidates`). */
  onUserFocus?: () => void;
}

export interface DistributionEditor {
  element: HTMLFieldSetElement;
  /** The rows as a distribution (meaningful when `problem()` is null). */
  value(): Distribution;
  /** Why Next must stay disabled, in words; null when the distribution is acceptable. */
  problem(): string | null;
  reset(to: Distribution): void;
  /** The users read again: the rows' lists follow, a pick no longer valid is flagged. */
  setCandidates(users: User[]): void;
}

interface Row {
  key: string;
  userId: string;
  weight: string;
}

export function userLabel(user: Pick<User, 'name' | 'email'>): string {
  return user.email ? `${user.name} (${user.email})` : user.name;
}

/**
 * Fills a user select with the candidates, keeping its value; a picked user
 * who can no longer be picked stays shown, disabled and said so, so the admin
 * sees which choice to change.
 */
export function userOptions(select: HTMLSelectElement, candidates: User[], names: Map<string, string> | undefined, placeholder: string): void {
  const value = select.value;
  const wanted = [{ value: '', label: placeholder, disabled: false }, ...candidates.map((u) => ({ value: u.id, label: userLabel(u), disabled: false }))];
  if (value && !candidates.some((u) => u.id === value)) {
    wanted.push({ value, label: `${names?.get(value) ?? 'A deleted user'} (can no longer be picked)`, disabled: true });
  }
  // Lists are read again on focus: rebuilding the options of a select being opened can close or reset its dropdown mid-click.
  const have = select.options;
  if (have.length === wanted.length && wanted.every((o, i) => have[i]!.value === o.value && have[i]!.textContent === o.label && have[i]!.disabled === o.disabled)) return;
  select.replaceChildren(...wanted.map((o) => h('option', { value: o.value, disabled: o.disabled }, o.label)));
  select.value = value;
}

/** "Ana 60% · Ben 40%"; a user no longer listed is "a deleted user". */
export function describeDistribution(distribution: Distribution | null | undefined, names: Map<string, string>): string {
  if (!distribution || distribution.length === 0) return 'nobody';
  return distribution.map((m) => `${names.get(m.userId) ?? 'a deleted user'} ${m.weight}%`).join(' · ');
}

/** Same members with the same weights, in any order. */
export function sameDistribution(a: Distribution | null, b: Distribution | null): boolean {
  if (!a || !b || a.length !== b.length) return false;
  const weights = new Map(a.map((m) => [m.userId, m.weight]));
  return b.every((m) => weights.get(m.userId) === m.weight);
}

export function distributionEditor(options: DistributionEditorOptions): DistributionEditor {
  const { testid } = options;
  let candidates = options.candidates;
  let names = new Map(candidates.map((u) => [u.id, u.name]));
  let rows: Row[] = [];
  let ready = false;
  const legendId = uid('legend');

  const rowsEl = h('div', { class: 'dist-rows', role: 'list' });
  const sumEl = h('output', { class: 'dist-sum', 'data-testid': `${testid}-sum`, 'aria-live': 'polite' });
  const problemEl = h('p', { class: 'dist-problem', id: uid('dist-problem'), 'data-testid': `${testid}-problem` });
  const addButton = h(
    'button',
    { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': `${testid}-add`, onclick: () => addRow() },
    '+ Add user',
  );
  const evenButton = h(
    'button',
    { type: 'button', class: 'btn btn-ghost btn-sm', 'data-testid': `${testid}-even`, onclick: () => splitEvenly() },
    'Split evenly',
  );

  const element = h(
    'fieldset',
    { class: 'dist-editor', 'data-testid': testid, 'aria-describedby': problemEl.id },
    h('legend', { id: legendId, class: options.hideLegend ? 'sr-only' : 'dist-legend' }, options.legend),
    h('div', { class: 'dist-head', 'aria-hidden': 'true' }, h('span', null, 'User'), h('span', null, 'Share')),
    rowsEl,
    h('div', { class: 'dist-foot' }, h('div', { class: 'dist-actions' }, addButton, evenButton), sumEl),
    problemEl,
  );

  function newKey(): string {
    return uid('row');
  }

  function load(distribution: Distribution): void {
    rows = distribution.length
      ? distribution.map((m) => ({ key: newKey(), userId: m.userId, weight: String(m.weight) }))
      : [{ key: newKey(), userId: '', weight: String(WEIGHT_TOTAL) }];
  }

  function renderRows(focusIndex?: number): void {
    replace(rowsEl, rows.map((row, i) => renderRow(row, i)));
    if (focusIndex !== undefined) {
      rowsEl.querySelectorAll<HTMLSelectElement>('select')[focusIndex]?.focus();
    }
    update();
  }

  function renderRow(row: Row, i: number): HTMLElement {
    const n = i + 1;
    const selectId = uid('dist-user');
    const weightId = uid('dist-weight');
    const select = h('select', {
      id: selectId,
      'data-testid': `${testid}-user-${i}`,
      onchange: (e: Event) => {
        row.userId = (e.target as HTMLSelectElement).value;
        update();
      },
      onfocus: () => options.onUserFocus?.(),
    });
    // A user picked in this row stays listed even if no longer a candidate (disabled, flagged by `problem`).
    select.append(h('option', { value: row.userId }));
    select.value = row.userId;
    userOptions(select, candidates, options.names, 'Choose a user…');
    const weight = h('input', {
      id: weightId,
      type: 'number',
      inputmode: 'numeric',
      min: 1,
      max: WEIGHT_TOTAL,
      step: 1,
      required: true,
      class: 'weight-input',
      'data-testid': `${testid}-weight-${i}`,
      value: row.weight,
      oninput: (e: Event) => {
        row.weight = (e.target as HTMLInputElement).value;
        update();
      },
    });
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'btn btn-icon',
        'data-testid': `${testid}-remove-${i}`,
        'aria-label': `Remove row ${n}`,
        title: `Remove row ${n}`,
        disabled: rows.length <= 1,
        onclick: () => removeRow(i),
      },
      '×',
    );
    return h(
      'div',
      { class: 'dist-row', role: 'listitem', 'data-row': i },
      h('label', { for: selectId, class: 'sr-only' }, `User for row ${n}`),
      select,
      h(
        'span',
        { class: 'weight-wrap' },
        h('label', { for: weightId, class: 'sr-only' }, `Share for row ${n}, in percent`),
        weight,
        h('span', { class: 'weight-unit', 'aria-hidden': 'true' }, '%'),
      ),
      remove,
    );
  }

  function addRow(): void {
    if (rows.length >= candidates.length) return;
    const used = rows.reduce((sum, r) => sum + (Number(r.weight) || 0), 0);
    rows.push({ key: newKey(), userId: '', weight: String(Math.max(0, WEIGHT_TOTAL - used) || '') });
    renderRows(rows.length - 1);
  }

  function removeRow(i: number): void {
    if (rows.length <= 1) return;
    rows.splice(i, 1);
    renderRows(Math.min(i, rows.length - 1));
  }

  function splitEvenly(): void {
    // 100 over the rows as evenly as whole numbers allow: the server's largest remainder.
    const shares = apportion(WEIGHT_TOTAL, rows.map(() => 1));
    rows.forEach((row, i) => {
      row.weight = String(shares[i]);
    });
    renderRows();
  }

  function sum(): number {
    return rows.reduce((total, r) => total + (Number(r.weight) || 0), 0);
  }

  function problem(): string | null {
    // What only a form can get wrong (an empty row); the rest is the server's rule, word for word.
    for (const [i, row] of rows.entries()) {
      if (!row.userId) return `Choose a user for row ${i + 1}.`;
    }
    for (const [i, row] of rows.entries()) {
      if (!names.has(row.userId)) {
        return `Row ${i + 1}: ${options.names?.get(row.userId) ?? 'a deleted user'} can no longer be picked; choose another user.`;
      }
    }
    for (const [i, row] of rows.entries()) {
      const w = Number(row.weight);
      if (row.weight.trim() === '' || !Number.isInteger(w) || w < 1 || w > WEIGHT_TOTAL) {
        return `Row ${i + 1}: the share must be a whole number from 1 to ${WEIGHT_TOTAL}.`;
      }
    }
    const rule = distributionProblem(value());
    return rule === null ? null : withNames(rule, names);
  }

  function value(): Distribution {
    return rows.map((r) => ({ userId: r.userId, weight: Number(r.weight) }));
  }

  function update(): void {
    const total = sum();
    const p = problem();
    const diff = WEIGHT_TOTAL - total;
    sumEl.textContent =
      diff === 0 ? 'Total 100%' : diff > 0 ? `Total ${total}% · ${diff}% left to assign` : `Total ${total}% · ${-diff}% too much`;
    sumEl.className = `dist-sum ${total === WEIGHT_TOTAL ? 'is-ok' : 'is-bad'}`;
    problemEl.textContent = shownText(p ?? '');
    problemEl.hidden = p === null;
    // Mark the rows that are wrong, for sighted and screen-reader users alike.
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.userId, (counts.get(r.userId) ?? 0) + 1);
    rowsEl.querySelectorAll<HTMLElement>('.dist-row').forEach((el, i) => {
      const row = rows[i];
      if (!row) return;
      const dup = row.userId !== '' && (counts.get(row.userId) ?? 0) > 1;
      const w = Number(row.weight);
      const badWeight = row.weight !== '' && (!Number.isInteger(w) || w < 1 || w > WEIGHT_TOTAL);
      el.querySelector('select')?.setAttribute('aria-invalid', String(dup));
      el.querySelector('input')?.setAttribute('aria-invalid', String(badWeight));
      const removeBtn = el.querySelector<HTMLButtonElement>('button');
      if (removeBtn) removeBtn.disabled = rows.length <= 1;
    });
    addButton.disabled = rows.length >= candidates.length;
    evenButton.disabled = rows.length < 2;
    if (ready) options.onChange?.();
  }

  load(options.initial);
  renderRows();
  ready = true;

  return {
    element,
    value,
    problem,
    reset(to) {
      load(to);
      renderRows();
    },
    setCandidates(users) {
      candidates = users;
      names = new Map(candidates.map((u) => [u.id, u.name]));
      rowsEl.querySelectorAll<HTMLSelectElement>('select').forEach((select) => userOptions(select, candidates, options.names, 'Choose a user…'));
      update();
    },
  };
}
