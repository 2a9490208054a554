// A refusal crosses Temporal and comes back as the same refusal.
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { RuleViolation, StepConflict } from './errors';
import { FAILURE_TYPES, refusalAsError, refusalError, refusalFailure, refusalOf, type Refusal } from './refusal';

const refusals: Refusal[] = [
  { kind: 'StepConflict', message: 'This wizard is at step LABELS, not LEADS.' },
  { kind: 'StepConflict', message: 'This wizard is being cancelled.', code: 'CANCELLING' },
  { kind: 'RuleViolation', message: 'Too big.', code: 'TOO_BIG' },
  { kind: 'RuleViolation', message: 'The shares must add up to 100.' },
  { kind: FAILURE_TYPES.DatabaseRefused, message: 'The database refused a value it cannot store.' },
];

test.each(refusals)('$kind goes out as a non-retryable failure and comes back the same, also wrapped by an activity', (refusal) => {
  const failure = refusalFailure(refusal);
  expect(failure).toMatchObject({ type: refusal.kind, message: refusal.message, nonRetryable: true });
  expect(refusalOf(failure)).toEqual(refusal);
  const wrapped = new ActivityFailure('activity failed', 'applyLabels', '7', RetryState.NON_RETRYABLE_FAILURE, undefined, failure);
  expect(refusalOf(wrapped)).toEqual(refusal);
});

test('any other failure carries no refusal', () => {
  expect(refusalOf(new Error('boom'))).toBeNull();
  expect(refusalOf(ApplicationFailure.create({ type: 'TypeError', message: 'x' }))).toBeNull();
  expect(refusalOf(undefined)).toBeNull();
  expect(refusalError(refusalFailure({ kind: FAILURE_TYPES.DatabaseRefused, message: 'no' }))).toBeNull();
});

test('an update refusal becomes the named error the API maps', () => {
  expect(refusalError(refusalFailure({ kind: 'StepConflict', message: 'later' }))).toEqual(new StepConflict('later'));
  const violation = refusalError(refusalFailure({ kind: 'RuleViolation', message: 'no' }));
  expect(violation).toBeInstanceOf(RuleViolation);
  expect(violation?.message).toBe('no');
});

test('a start refusal that names its code keeps it as the named error (on this side of Temporal)', () => {
  const tooBig = refusalAsError({ kind: 'RuleViolation', code: 'TOO_BIG', message: 'too big' });
  expect(tooBig).toBeInstanceOf(RuleViolation);
  expect(tooBig).toMatchObject({ message: 'too big', code: 'TOO_BIG' });
  expect(refusalAsError({ kind: 'RuleViolation', message: 'no' })).toMatchObject({ code: undefined });
});

test("a start refusal's code crosses Temporal in the failure's details and comes back out; others carry none", () => {
  const failure = refusalFailure({ kind: 'RuleViolation', code: 'TOO_BIG', message: 'too big' });
  expect(refusalOf(failure)).toEqual({ kind: 'RuleViolation', code: 'TOO_BIG', message: 'too big' });
  expect(refusalError(failure)).toMatchObject({ name: 'RuleViolation', code: 'TOO_BIG' });
  expect(refusalOf(refusalFailure({ kind: 'RuleViolation', message: 'no' }))).toEqual({ kind: 'RuleViolation', message: 'no' });
  // A code nobody defined is not read as one.
  const odd = ApplicationFailure.create({ type: 'RuleViolation', message: 'odd', details: [{ code: 'NOPE' }] });
  expect(refusalOf(odd)).toEqual({ kind: 'RuleViolation', message: 'odd' });
});

test("a conflict's code comes back with it, and only a code its kind knows", () => {
  const cancelling = refusalError(refusalFailure({ kind: 'StepConflict', message: 'being cancelled', code: 'CANCELLING' }));
  expect(cancelling).toBeInstanceOf(StepConflict);
  expect(cancelling).toMatchObject({ message: 'being cancelled', code: 'CANCELLING' });
  // A start's code on a conflict, or a conflict's on a rule, is not read as one.
  const crossed = ApplicationFailure.create({ type: 'StepConflict', message: 'x', nonRetryable: true, details: [{ code: 'TOO_BIG' }] });
  expect(refusalOf(crossed)).toEqual({ kind: 'StepConflict', message: 'x' });
  const other = ApplicationFailure.create({ type: 'RuleViolation', message: 'y', nonRetryable: true, details: [{ code: 'CANCELLING' }] });
  expect(refusalOf(other)).toEqual({ kind: 'RuleViolation', message: 'y' });
});
