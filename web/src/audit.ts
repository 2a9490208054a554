// The audit trail as a readable list: who did what, when, and what moved where.
import type { AuditEvent } from './types';
import { formatCount, formatTime, h } from './dom';

const ACTION_TEXT: Record<string, string> = {
  DELETION_STARTED: 'Wizard started',
  USER_SUSPENDED: 'User suspended',
  USER_PENDING_DELETION: 'User marked pending deletion',
  LEADS_MOVE_STARTED: 'Lead move started',
  LEADS_MOVED: 'Leads moved',
  AUTOMATIONS_APPLIED: 'Automations updated',
  INTEGRATIONS_APPLIED: 'Integrations updated',
  LABELS_APPLIED: 'Labels updated',
  LEADS_SWEPT: 'Final sweep of leads',
  USER_DELETED: 'User deleted',
  DELETION_CANCELLED: 'Wizard cancelled',
  DELETION_FAILED: 'Wizard failed',
};

export function actionText(action: string): string {
  return ACTION_TEXT[action] ?? action.charAt(0) + action.slice(1).toLowerCase().replace(/_/g, ' ');
}

function keyText(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function valueText(value: unknown, names: Map<string, string>): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return formatCount(value);
  if (typeof value === 'string') return names.has(value) ? `${names.get(value)} (${value})` : value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
    return value.length ? value.map((v) => valueText(v, names)).join(', ') : 'none';
  }
  if (Array.isArray(value) && value.every((v) => v && typeof v === 'object' && 'userId' in v && 'weight' in v)) {
    return (value as { userId: string; weight: number }[]).map((m) => `${names.get(m.userId) ?? m.userId} ${m.weight}%`).join(' · ');
  }
  const text = JSON.stringify(value, (_, v: unknown) => (typeof v === 'string' && names.has(v) ? names.get(v) : v));
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

export function actorText(actor: AuditEvent['actor'], names: Map<string, string>): string {
  if (actor.type === 'HR') return actor.id ? `HR system (${actor.id})` : 'HR system';
  if (actor.type === 'SYSTEM') return 'System';
  return names.get(actor.id) ?? `User ${actor.id}`;
}

export function auditList(events: AuditEvent[], names: Map<string, string>): HTMLElement {
  return h(
    'ol',
    { class: 'audit', 'data-testid': 'audit-list' },
    events.map((e) =>
      h(
        'li',
        { class: 'audit-item', 'data-testid': `audit-${e.action}`, 'data-action': e.action },
        h('span', { class: 'audit-dot', 'aria-hidden': 'true' }),
        h(
          'div',
          { class: 'audit-main' },
          h(
            'p',
            { class: 'audit-line' },
            h('strong', null, actionText(e.action)),
            h('span', { class: 'muted' }, ` by ${actorText(e.actor, names)} · `),
            h('time', { datetime: e.at, class: 'muted' }, formatTime(e.at)),
          ),
          Object.keys(e.detail ?? {}).length
            ? h(
                'dl',
                { class: 'audit-detail' },
                Object.entries(e.detail).map(([k, v]) => h('div', null, h('dt', null, keyText(k)), h('dd', null, valueText(v, names)))),
              )
            : null,
        ),
      ),
    ),
  );
}
