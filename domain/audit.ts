// The audit trail's actions: one list for every side. The activities and the
// offboarding write them, the once-per-deletion keys are made from them, and
// the page has words for each (web/src/audit.ts). api.md names the wizard's
// eight ("include at least"); the rest are this service's own.
export const AUDIT_ACTIONS = [
  // The wizard (api.md).
  'DELETION_STARTED',
  'LEADS_MOVED',
  'AUTOMATIONS_APPLIED',
  'INTEGRATIONS_APPLIED',
  'LABELS_APPLIED',
  'LEADS_SWEPT',
  'USER_DELETED',
  'DELETION_CANCELLED',
  // HR's date reached (the user leaves now), or brought forward by a later offboarding.
  'USER_PENDING_DELETION',
  'EFFECTIVE_AT_BROUGHT_FORWARD',
  // A target of the lead move left during it: their share went to the others.
  'LEAD_TARGET_LEFT',
  // The identity provider deactivated the user of a wizard it joined; a leaver frozen, or unfrozen.
  'IDP_DEACTIVATED',
  'USER_FROZEN',
  'USER_UNFROZEN',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The key of one change to one deletion: an audit action's (`onceKey`), or a lock of its own (`PLAN_MOVE`). */
export function changeKey(deletionId: string, change: string): string {
  return `${deletionId}:${change}`;
}

/** The key that makes `action` happen once per deletion, however often what writes it runs. */
export function onceKey(deletionId: string, action: AuditAction): string {
  return changeKey(deletionId, action);
}
