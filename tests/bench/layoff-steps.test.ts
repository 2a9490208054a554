// The layoff bench follows api.md after a 503 or a 409: it reads the wizard
// and counts the step done only when the read shows it applied.
import { stepApplied } from '../../scripts/bench/layoff';

const wizard = (step: string, status = 'IN_PROGRESS', leads = 'DONE') => ({ step, status, leads: { state: leads } });

test('a step is applied once the wizard has moved past it', () => {
  expect(stepApplied(wizard('AUTOMATIONS'), 'automations')).toBe(false);
  expect(stepApplied(wizard('INTEGRATIONS'), 'automations')).toBe(true);
  expect(stepApplied(wizard('LABELS'), 'integrations')).toBe(true);
  expect(stepApplied(wizard('LABELS'), 'labels')).toBe(false);
  expect(stepApplied(wizard('CONFIRM'), 'labels')).toBe(true);
});

test('the lead step is applied once the move has begun; confirm once the wizard completed', () => {
  expect(stepApplied(wizard('LEADS', 'IN_PROGRESS', 'PENDING'), 'leads')).toBe(false);
  expect(stepApplied(wizard('LEADS', 'IN_PROGRESS', 'MOVING'), 'leads')).toBe(true);
  expect(stepApplied(wizard('CONFIRM'), 'confirm')).toBe(false);
  expect(stepApplied(wizard('DONE', 'COMPLETED'), 'confirm')).toBe(true);
  expect(stepApplied(wizard('CONFIRM', 'CANCELLED'), 'confirm')).toBe(false);
  expect(stepApplied(wizard('AUTOMATIONS', 'CANCELLED'), 'automations')).toBe(true);
});
