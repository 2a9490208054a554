// The audit trail as a readable list: who did what, when, and what moved where.
import type { AuditAction } from '../../domain/audit';
import type { AuditEvent } from '../../domain/schemas';
import { formatCount, formatTime, h } from './dom';
import { nameOf } from './lead-outcome';

/** Words for every action the service writes (domain/audit.ts): one missing, or one it no longer writes, fails the build. */
const ACTION_TEXT: Record<AuditAction, string> = {
  DELETION_STARTED: 'Wizard started',
  LEADS_MOVED: 'Leads moved',
  AUTOMATIONS_APPLIED: 'Automations updated',
  INTEGRATIONS_APPLIED: 'Integrations updated',
  LABELS_APPLIED: 'Labels updated',
  LEADS_SWEPT: 'Final sweep of leads',
  USER_DELETED: 'User deleted',
  DELETION_CANCELLED: 'Wizard cancelled',
  USER_PENDING_DELETION: 'User marked pending deletion',
  EFFECTIVE_AT_BROUGHT_FORWARD: 'Leaving date brought forward',
  LEAD_TARGET_LEFT: 'A lead target left; their share was handed over',
  IDP_DEACTIVATED: 'Deactivated by the identity provider',
  USER_FROZEN: 'User frozen',
  USER_UNFROZEN: 'User unfrozen',
};

export function actionText(action: string): string {
  // An action this page does not know (a newer service's): its name, in words.
  return (ACTION_TEXT as Record<string, string>)[action] ?? action.charAt(0) + action.slice(1).toLowerCase().replace(/_/g, ' ');
}

function keyText(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function isMembers(value: unknown[]): value is { userId: string; weight: number }[] {
  return value.every((v) => v !== null && typeof v === 'object' && 'userId' in v && 'weight' in v);
}
function isCounts(value: unknown[]): value is { userId: string; count: number }[] {
  return value.every((v) => v !== null && typeof v === 'object' && 'userId' in v && 'count' in v);
}

/** A record id as the service makes them (cuid): never shown to the admin as such. */
const looksLikeId = (s: string) => /^[a-z][a-z0-9]{19,31}$/.test(s);
/** Keys whose value is a user's id (`userId`, `leftUserId`, `fromUserId`, `to`...). */
const isUserKey = (key: string) => /user|^to$|^from$|heir|replacement/i.test(key);

/** A detail value in words: ids become names where known ("a deleted user" for a user no longer listed), lists and records read as text, not JSON. */
function valueText(value: unknown, names: Map<string, string>, key = ''): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') return formatCount(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') {
    const name = names.get(value);
    if (name !== undefined) return name;
    return looksLikeId(value) && isUserKey(key) ? 'a deleted user' : value;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return 'none';
    if (isMembers(value)) return value.map((m) => `${nameOf(m.userId, names)} ${m.weight}%`).join(' · ');
    if (isCounts(value)) return value.map((m) => `${nameOf(m.userId, names)}: ${formatCount(m.count)}`).join(' · ');
    // Ids of things gone with the user (private labels deleted): how many, not which ids.
    const gone = value.filter((v) => typeof v === 'string' && !names.has(v) && looksLikeId(v)).length;
    if (gone === value.length && !isUserKey(key)) return formatCount(gone);
    return value.map((v) => valueText(v, names, key)).join(typeof value[0] === 'object' ? '; ' : ', ');
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const ownId = [record.id, record.labelId, record.automationId, record.integrationId].find((v) => typeof v === 'string');
    const rest = Object.entries(record).filter(([k]) => !['id', 'labelId', 'automationId', 'integrationId'].includes(k));
    const body =
      rest.length === 1 && rest[0]?.[0] === 'distribution'
        ? valueText(rest[0][1], names, 'distribution')
        : rest.map(([k, v]) => `${keyText(k).toLowerCase()} ${valueText(v, names, k)}`).join(', ');
    return ownId ? `${names.get(ownId) ?? (looksLikeId(ownId) ? 'an item since deleted' : ownId)} → ${body}` : body;
  }
  return String(value);
}

/** Names for every id a wizard's audit may mention: users, and the wizard's automations, integrations, labels. */
export function auditNames(
  users: { id: string; name: string }[],
  deletion?: { user: { id: string; name: string }; automations: { id: string; name: string }[]; integrations: { id: string; name: string }[]; labels: { id: string; name: string }[] },
): Map<string, string> {
  const names = new Map(users.map((u) => [u.id, u.name]));
  if (deletion) {
    names.set(deletion.user.id, deletion.user.name);
    for (const item of [...deletion.automations, ...deletion.integrations, ...deletion.labels]) names.set(item.id, item.name);
  }
  return names;
}

export function actorText(actor: AuditEvent['actor'], names: Map<string, string>): string {
  if (actor.type === 'HR') return actor.id ? `HR system (${actor.id})` : 'HR system';
  if (actor.type === 'SYSTEM') return 'System';
  if (actor.type === 'IDP') return actor.id ? `Identity provider (${actor.id})` : 'Identity provider';
  return names.get(actor.id) ?? 'a deleted user';
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
                Object.entries(e.detail).map(([k, v]) => h('div', null, h('dt', null, keyText(k)), h('dd', null, valueText(v, names, k)))),
              )
            : null,
        ),
      ),
    ),
  );
}
