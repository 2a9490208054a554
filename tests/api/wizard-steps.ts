// Drives a wizard to the end through the v1 API, as an admin on the page would.
import { eventually } from '../support/wizard';
import type { Call } from './support';

export async function finishThroughApi(admin: Call, deletionId: string, heirId: string): Promise<any> {
  const leads = await admin('POST', `/v1/deletions/${deletionId}/leads`, { targetUserId: heirId });
  if (leads.status !== 202) throw new Error(`leads step: ${leads.status} ${leads.text}`);
  await eventually(async () => {
    const d = await admin('GET', `/v1/deletions/${deletionId}`);
    return d.body.step !== 'LEADS' ? d.body : undefined;
  }, 60_000, 'the lead move');
  for (const [step, body] of [
    ['automations', { overrides: [] }],
    ['integrations', { overrides: [] }],
    ['labels', { replacements: [] }],
  ] as const) {
    const r = await admin('POST', `/v1/deletions/${deletionId}/${step}`, body);
    if (r.status !== 200) throw new Error(`${step} step: ${r.status} ${r.text}`);
  }
  const confirmed = await admin('POST', `/v1/deletions/${deletionId}/confirm`, { confirmation: 'CONFIRM' });
  if (confirmed.status !== 202) throw new Error(`confirm: ${confirmed.status} ${confirmed.text}`);
  return eventually(async () => {
    const d = await admin('GET', `/v1/deletions/${deletionId}`);
    return d.body.status === 'IN_PROGRESS' ? undefined : d.body;
  }, 60_000, 'the wizard to finish');
}
