// The wizard's transitions without Temporal: what the admin sees after each.
import * as W from './wizard-state';

const input: W.WizardInput = {
  deletionId: 'del_1',
  workspaceId: 'ws',
  userId: 'leaver',
  source: 'ADMIN',
  actor: { type: 'USER', id: 'admin' },
  reason: 'left the company',
  effectiveAt: null,
};
const T0 = '2026-11-01T00:00:00.000Z';
const T1 = '2026-11-02T00:00:00.000Z';

function openedSnapshot(): W.WizardSnapshot {
  const view = W.openedView(
    input,
    {
      user: { id: 'leaver', name: 'Lee', email: 'lee@x.test' },
      leadsTotal: 10,
      automations: [
        { id: 'a1', name: 'Shared', current: [{ userId: 'leaver', weight: 50 }, { userId: 'ann', weight: 25 }, { userId: 'bob', weight: 25 }] },
        { id: 'a2', name: 'Sole', current: [{ userId: 'leaver', weight: 100 }] },
      ],
      integrations: [],
      labels: [{ id: 'l1', name: 'Hot', visibility: 'SHARED' }],
      startedAt: T0,
    },
    T0,
  );
  return W.opened(W.initialSnapshot(input, T0), view);
}

test('opening shows suggestions, and sole-member items require a replacement', () => {
  const s = openedSnapshot();
  expect(s.phase).toBe('WAITING');
  expect(s.view).toMatchObject({ status: 'IN_PROGRESS', step: 'LEADS', workflowId: 'deletion-ws-leaver' });
  expect(s.view.automations[0]).toMatchObject({
    suggested: [{ userId: 'ann', weight: 50 }, { userId: 'bob', weight: 50 }],
    requiresReplacement: false,
    applied: null,
  });
  expect(s.view.automations[1]).toMatchObject({ suggested: null, requiresReplacement: true });
  expect(s.view.labels[0]).toEqual({ id: 'l1', name: 'Hot', visibility: 'SHARED', replacementUserId: null, applied: false });
});

test('the move keeps the wizard at LEADS until it is done, then goes to AUTOMATIONS', () => {
  let s = W.moveStarted(openedSnapshot(), [{ userId: 'ann', weight: 100 }], 10, T1);
  expect(s.phase).toBe('MOVING');
  expect(s.view.step).toBe('LEADS');
  expect(s.view.leads).toEqual({ total: 10, moved: 0, swept: 0, state: 'MOVING', distribution: [{ userId: 'ann', weight: 100 }] });
  s = W.moveProgressed(s, 4, T1);
  expect(s.view.leads.moved).toBe(4);
  s = W.moveFinished(s, 10, T1);
  expect(s).toMatchObject({ phase: 'WAITING', view: { step: 'AUTOMATIONS', leads: { moved: 10, state: 'DONE' } } });
  expect(s.view.updatedAt).toBe(T1);
});

test('a cancel during the move keeps it cancelling, then marks the move DONE', () => {
  let s = W.moveStarted(openedSnapshot(), [{ userId: 'ann', weight: 100 }], 10, T1);
  s = W.cancelRequested(s, T1);
  s = W.moveFinished(s, 6, T1);
  expect(s.phase).toBe('CANCELLING');
  expect(s.view.step).toBe('LEADS');
  s = W.cancelled(s, T1);
  expect(s).toMatchObject({ phase: 'FINISHED', view: { status: 'CANCELLED', leads: { moved: 6, state: 'DONE' } } });
});

test('steps advance in order and record what was applied', () => {
  let s = W.moveFinished(W.moveStarted(openedSnapshot(), [{ userId: 'ann', weight: 100 }], 10, T1), 10, T1);
  s = W.routingApplied(s, 'automations', [{ id: 'a2', distribution: [{ userId: 'bob', weight: 100 }] }], T1);
  expect(s.view.step).toBe('INTEGRATIONS');
  expect(s.view.automations.map((a) => a.applied)).toEqual([null, [{ userId: 'bob', weight: 100 }]]);
  s = W.routingApplied(s, 'integrations', [], T1);
  expect(s.view.step).toBe('LABELS');
  s = W.labelsApplied(s, [{ labelId: 'l1', replacementUserId: 'ann' }], ['l1'], T1);
  expect(s.view.step).toBe('CONFIRM');
  expect(s.view.labels[0]).toMatchObject({ replacementUserId: 'ann', applied: true });
  s = W.completed(W.confirmAccepted(s, T1), 3, T1);
  expect(s).toMatchObject({ phase: 'FINISHED', view: { status: 'COMPLETED', step: 'DONE', leads: { swept: 3 } } });
});

test('an effectiveAt in the future is not effective yet; one in the past is', () => {
  expect(W.initialSnapshot({ ...input, effectiveAt: '2026-12-01T00:00:00Z' }, T0).effective).toBe(false);
  expect(W.initialSnapshot({ ...input, effectiveAt: '2026-10-01T00:00:00Z' }, T0).effective).toBe(true);
  expect(W.initialSnapshot(input, T0).effective).toBe(true);
});

test('nextStep walks LEADS → … → DONE and stays at DONE', () => {
  expect(W.STEP_ORDER.slice(0, -1).map(W.nextStep)).toEqual(W.STEP_ORDER.slice(1));
  expect(W.nextStep('DONE')).toBe('DONE');
});

test('attention: set with the reason where the wizard is, the first `since` kept, cleared when it goes on and when it ends', () => {
  const moving = W.moveStarted(openedSnapshot(), [{ userId: 'ann', weight: 100 }], 10, T0);
  expect(moving.view.attention).toBeNull();
  const stuck = W.attentionNeeded(moving, 'Moving the leads: refused', T0);
  expect(stuck.phase).toBe('MOVING');
  expect(stuck.view).toMatchObject({ step: 'LEADS', status: 'IN_PROGRESS', attention: { reason: 'Moving the leads: refused', since: T0 } });
  expect(W.attentionNeeded(stuck, 'again', T1).view.attention).toEqual({ reason: 'again', since: T0 });
  expect(W.attentionCleared(stuck, T1).view.attention).toBeNull();
  expect(W.cancelled(W.cancelRequested(stuck, T1), T1).view).toMatchObject({ status: 'CANCELLED', attention: null });
});

test('storableText writes out lone surrogates and NUL, and keeps everything else (emoji included)', () => {
  expect(W.storableText('a\ud800b\u0000c😀\udc00')).toBe('a\\ud800b\\u0000c😀\\udc00');
  expect(W.storableText('plain')).toBe('plain');
  expect(W.storableText(null)).toBeNull();
});

test('a snapshot carried by older code resumes with the defaults it ran with, and a carried state keeps who acted', () => {
  const old = openedSnapshot();
  const resumed = W.resumedState(input, old, T1);
  expect(resumed).toMatchObject({ leadsActor: input.actor, confirmedBy: null, applying: false, cancelWaiting: false, retryRequested: false, openRefusal: null });
  expect(resumed.view).toEqual(old.view);

  const ann = { type: 'USER' as const, id: 'ann' };
  const carried = { ...resumed, leadsActor: ann, applying: true, cancelWaiting: true };
  expect(W.resumedState(input, JSON.parse(JSON.stringify(carried)), T1)).toMatchObject({ leadsActor: ann, applying: false, cancelWaiting: false });
});

test('one guard refuses every change while the wizard opens or another change is applied, saying which', () => {
  const fresh = W.resumedState(input, undefined, T0);
  expect(W.changeInProgressProblem(fresh)).toEqual({ kind: 'StepConflict', message: expect.stringContaining('still opening') });
  const waiting = W.resumedState(input, openedSnapshot(), T0);
  expect(W.changeInProgressProblem(waiting)).toBeNull();
  // A step being applied: try again (a step or a confirm; a cancel waits instead, see below).
  const applying = W.changeInProgressProblem({ ...waiting, applying: true });
  expect(applying).toEqual({ kind: 'StepConflict', message: expect.stringMatching(/being applied.*try again/) });
  expect(applying!.message).not.toMatch(/cancel|confirm/i);
  expect(W.changeInProgressProblem(W.cancelRequested(waiting, T1))).toEqual({ kind: 'StepConflict', message: 'This wizard is being cancelled.', code: 'CANCELLING' });
  expect(W.changeInProgressProblem({ ...W.cancelRequested(waiting, T1), applying: true })!.message).toBe('This wizard is being cancelled.');
  expect(W.changeInProgressProblem(W.confirmAccepted(waiting, T1))).toEqual({ kind: 'StepConflict', message: expect.stringMatching(/being confirmed.*no longer/) });
});

test('a cancel waits while the wizard opens or a step is applied, and is refused once cancelling, confirming or finished', () => {
  const fresh = W.resumedState(input, undefined, T0);
  const waiting = W.resumedState(input, openedSnapshot(), T0);
  // Opening, or a step being applied (a move it began included): the cancel waits, not refused.
  expect(W.cancelWaits(fresh)).toBe(true);
  expect(W.cancelRefusal(fresh)).toBeNull();
  expect(W.cancelWaits({ ...waiting, applying: true })).toBe(true);
  expect(W.cancelRefusal({ ...waiting, applying: true })).toBeNull();
  // One cancel waits at a time: a second is told at once.
  expect(W.cancelRefusal({ ...waiting, applying: true, cancelWaiting: true })).toEqual({
    kind: 'StepConflict',
    message: expect.stringMatching(/Another cancel is already waiting/),
    code: 'CANCELLING',
  });
  const moving = { ...W.moveStarted(waiting, [{ userId: 'ann', weight: 100 }], 10, T1), applying: true };
  expect(moving.phase).toBe('MOVING');
  expect(W.cancelWaits(moving)).toBe(true);
  // Nothing in the way: it goes ahead.
  expect(W.cancelWaits(waiting)).toBe(false);
  expect(W.cancelRefusal(waiting)).toBeNull();
  expect(W.cancelRefusal({ ...moving, applying: false })).toBeNull();
  // A confirm being applied wins (CONFIRMING), as does another cancel; a finished wizard is done.
  const confirming = { ...W.confirmAccepted(waiting, T1), applying: true };
  expect(W.cancelWaits(confirming)).toBe(false);
  expect(W.cancelRefusal(confirming)).toEqual({ kind: 'StepConflict', message: expect.stringMatching(/being confirmed.*no longer/) });
  expect(W.cancelWaits({ ...W.cancelRequested(waiting, T1), applying: true })).toBe(false);
  expect(W.cancelRefusal(W.cancelRequested(waiting, T1))).toEqual({ kind: 'StepConflict', message: 'This wizard is being cancelled.', code: 'CANCELLING' });
  const done = W.cancelled(W.cancelRequested(waiting, T1), T1);
  expect(W.cancelRefusal(done)).toEqual({ kind: 'StepConflict', message: expect.stringMatching(/already CANCELLED/) });
  expect(W.cancelRefusal(W.failed(fresh, T1))).toEqual({ kind: 'StepConflict', message: expect.stringMatching(/FAILED/) });
});

describe('routingNow: an item of a routing step as it is now', () => {
  const [shared, sole] = openedSnapshot().view.automations as [W.WizardSnapshot['view']['automations'][number], W.WizardSnapshot['view']['automations'][number]];

  test('unchanged, it reads as listed', () => {
    expect(W.routingNow(shared, { id: 'a1', name: 'Shared', current: shared.current, unavailable: [] }, 'leaver')).toEqual(shared);
  });

  test('a member who may no longer be picked leaves the suggestion; with nobody left, a replacement is required', () => {
    const now = { id: 'a1', name: 'Shared', current: shared.current, unavailable: ['bob'] };
    expect(W.routingNow(shared, now, 'leaver')).toMatchObject({ suggested: [{ userId: 'ann', weight: 100 }], requiresReplacement: false });
    expect(W.routingNow(shared, { ...now, unavailable: ['ann', 'bob'] }, 'leaver')).toMatchObject({ suggested: null, requiresReplacement: true });
  });

  test('one no longer naming the user reads as it is, its suggestion what it routes to; one deleted needs nothing', () => {
    const taken = [{ userId: 'cy', weight: 100 }];
    expect(W.routingNow(sole, { id: 'a2', name: 'Sole', current: taken }, 'leaver')).toEqual({ ...sole, current: taken, suggested: taken, requiresReplacement: false });
    expect(W.routingNow(sole, undefined, 'leaver')).toEqual({ ...sole, suggested: null, requiresReplacement: false });
  });

  test('routingApplied keeps the items the step found changed as it found them', () => {
    const s = W.moveFinished(W.moveStarted(openedSnapshot(), [{ userId: 'ann', weight: 100 }], 10, T1), 10, T1);
    const found = W.routingNow(sole, { id: 'a2', name: 'Sole', current: [{ userId: 'cy', weight: 100 }] }, 'leaver');
    const after = W.routingApplied(s, 'automations', [{ id: 'a2', distribution: found.current }], T1, [found]);
    expect(after.view.automations[1]).toEqual({ ...found, applied: found.current });
    expect(after.view.automations[0]).toEqual({ ...shared, applied: null });
  });
});
