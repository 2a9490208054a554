import fc from 'fast-check';
import {
  cancelProblem,
  confirmationProblem,
  labelsStepProblem,
  leadsChoice,
  leadsStepProblem,
  receiverProblem,
  missingReplacementsProblem,
  resolveRouting,
  routingOverridesProblem,
  routingStepProblem,
  startDeletionBlockers,
  startDeletionProblem,
  stepProblem,
  targetProblem,
} from './rules';
import { DELETION_STATUSES, STEPS, type Distribution } from './schemas';

const rule = (message: string) => ({ kind: 'RuleViolation', message });
const conflict = (message: string) => ({ kind: 'StepConflict', message });
const to = (userId: string): Distribution => [{ userId, weight: 100 }];
const half = (a: string, b: string): Distribution => [
  { userId: a, weight: 50 },
  { userId: b, weight: 50 },
];

describe('startDeletionProblem', () => {
  const member = { id: 'u2', role: 'MEMBER', status: 'ACTIVE' } as const;

  it('allows an admin or HR to delete another user', () => {
    expect(startDeletionProblem({ actorUserId: 'u1', target: member, activeOwnerCount: 1 })).toBeNull();
    expect(startDeletionProblem({ actorUserId: null, target: member, activeOwnerCount: 1 })).toBeNull();
  });

  it('refuses deleting yourself', () => {
    expect(startDeletionProblem({ actorUserId: 'u2', target: member, activeOwnerCount: 3 })).toEqual(
      rule('You cannot delete yourself; ask another admin to do it.'),
    );
  });

  it('refuses deleting the last owner, counting the target only while ACTIVE', () => {
    const owner = { id: 'o1', role: 'OWNER', status: 'ACTIVE' } as const;
    const last = rule('User o1 is the last owner of this workspace; make another user an owner before deleting them.');
    expect(startDeletionProblem({ actorUserId: 'u1', target: owner, activeOwnerCount: 1 })).toEqual(last);
    expect(startDeletionProblem({ actorUserId: null, target: owner, activeOwnerCount: 1 })).toEqual(last);
    expect(startDeletionProblem({ actorUserId: 'u1', target: owner, activeOwnerCount: 2 })).toBeNull();
    // SUSPENDED (frozen by HR or the identity provider, client/offboarding.ts): not in the count either.
    const suspended = { ...owner, status: 'SUSPENDED' } as const;
    expect(startDeletionProblem({ actorUserId: null, target: suspended, activeOwnerCount: 1 })).toBeNull();
    expect(startDeletionProblem({ actorUserId: 'u1', target: suspended, activeOwnerCount: 0 })).toEqual(last);
    // Already PENDING_DELETION: not in the count, so one other owner is enough.
    const pending = { ...owner, status: 'PENDING_DELETION' } as const;
    expect(startDeletionProblem({ actorUserId: null, target: pending, activeOwnerCount: 1 })).toBeNull();
    expect(startDeletionProblem({ actorUserId: null, target: pending, activeOwnerCount: 0 })).toEqual(last);
  });
});

describe('targetProblem', () => {
  it('allows an active user other than the deleted one', () => {
    expect(targetProblem('gone', { id: 'u1', status: 'ACTIVE' })).toBeNull();
  });

  it('says why a target is refused', () => {
    expect(targetProblem('gone', undefined, 'ghost')).toEqual(rule('User ghost is not in this workspace.'));
    expect(targetProblem('gone', undefined)).toEqual(rule('The chosen user is not in this workspace.'));
    expect(targetProblem('gone', { id: 'gone', status: 'PENDING_DELETION' })).toEqual(
      rule('User gone is the user being deleted; choose someone else.'),
    );
    expect(targetProblem('gone', { id: 'u1', status: 'PENDING_DELETION' })).toEqual(
      rule('User u1 is being deleted; choose an active user.'),
    );
    expect(targetProblem('gone', { id: 'u1', status: 'SUSPENDED' })).toEqual(
      rule('User u1 is suspended; choose an active user.'),
    );
  });
});

describe('receiverProblem', () => {
  it('by default takes only an ACTIVE user of the workspace, in the same words as targetProblem', () => {
    expect(receiverProblem('u1', 'ACTIVE')).toBeNull();
    expect(receiverProblem('ghost', undefined)).toEqual(targetProblem('gone', undefined, 'ghost'));
    for (const status of ['PENDING_DELETION', 'SUSPENDED'] as const) {
      expect(receiverProblem('u1', status)).toEqual(targetProblem('gone', { id: 'u1', status }));
    }
  });

  it('refuses only the statuses it is given (a label keeps a SUSPENDED user)', () => {
    expect(receiverProblem('u1', 'SUSPENDED', ['PENDING_DELETION'])).toBeNull();
    expect(receiverProblem('u1', 'PENDING_DELETION', ['PENDING_DELETION'])).toEqual(
      rule('User u1 is being deleted; choose an active user.'),
    );
    expect(receiverProblem('ghost', undefined, [])).toEqual(rule('User ghost is not in this workspace.'));
  });
});

describe('leads step', () => {
  it('normalises a target to a one-member distribution', () => {
    expect(leadsChoice({ targetUserId: 'u1' })).toEqual([{ userId: 'u1', weight: 100 }]);
    expect(leadsChoice({ distribution: half('a', 'b') })).toEqual(half('a', 'b'));
  });

  it('allows a target or a valid distribution without the deleted user', () => {
    expect(leadsStepProblem('gone', { targetUserId: 'u1' })).toBeNull();
    expect(leadsStepProblem('gone', { distribution: half('a', 'b') })).toBeNull();
  });

  it('refuses the deleted user and invalid distributions', () => {
    expect(leadsStepProblem('gone', { targetUserId: 'gone' })).toEqual(
      rule('User gone is the user being deleted; their leads must go to someone else.'),
    );
    expect(leadsStepProblem('gone', { distribution: half('a', 'gone') })).toEqual(
      rule('User gone is the user being deleted; they cannot be in the distribution.'),
    );
    expect(
      leadsStepProblem('gone', {
        distribution: [
          { userId: 'a', weight: 50 },
          { userId: 'b', weight: 40 },
        ],
      }),
    ).toEqual(rule('Weights add up to 90; they must add up to exactly 100.'));
    expect(leadsStepProblem('gone', { distribution: half('a', 'a') })).toEqual(
      rule('User a appears more than once in the distribution; name each user once.'),
    );
  });
});

describe('routingStepProblem', () => {
  const items = [
    { id: 'a1', requiresReplacement: false },
    { id: 'a2', requiresReplacement: true },
    { id: 'a3', requiresReplacement: true },
  ];
  const base = { deletedUserId: 'gone', items, what: 'automation' as const };

  it('allows overriding every item that requires a replacement, and any other', () => {
    expect(
      routingStepProblem({
        ...base,
        overrides: [
          { id: 'a3', distribution: to('u1') },
          { id: 'a2', distribution: half('u1', 'u2') },
        ],
      }),
    ).toBeNull();
    expect(
      routingStepProblem({
        ...base,
        overrides: [
          { id: 'a1', distribution: to('u3') },
          { id: 'a2', distribution: to('u1') },
          { id: 'a3', distribution: to('u1') },
        ],
      }),
    ).toBeNull();
    expect(
      routingStepProblem({ deletedUserId: 'gone', items: [], overrides: [], what: 'integration' }),
    ).toBeNull();
  });

  it('refuses an id that is not in the step', () => {
    expect(
      routingStepProblem({ ...base, overrides: [{ id: 'zz', distribution: to('u1') }] }),
    ).toEqual(rule('Automation zz is not in this step; only the automations listed can be overridden.'));
    expect(
      routingStepProblem({
        deletedUserId: 'gone',
        items: [],
        overrides: [{ id: 'i9', distribution: to('u1') }],
        what: 'integration',
      }),
    ).toEqual(rule('Integration i9 is not in this step; only the integrations listed can be overridden.'));
  });

  it('refuses an id named twice', () => {
    expect(
      routingStepProblem({
        ...base,
        overrides: [
          { id: 'a2', distribution: to('u1') },
          { id: 'a2', distribution: to('u2') },
          { id: 'a3', distribution: to('u1') },
        ],
      }),
    ).toEqual(rule('Automation a2 is named more than once; name each automation once.'));
  });

  it('refuses an invalid distribution or one with the deleted user', () => {
    expect(
      routingStepProblem({
        ...base,
        overrides: [
          { id: 'a2', distribution: [{ userId: 'u1', weight: 90 }] },
          { id: 'a3', distribution: to('u1') },
        ],
      }),
    ).toEqual(rule('Automation a2: Weights add up to 90; they must add up to exactly 100.'));
    expect(
      routingStepProblem({
        ...base,
        overrides: [
          { id: 'a2', distribution: to('u1') },
          { id: 'a3', distribution: half('u1', 'gone') },
        ],
      }),
    ).toEqual(rule('Automation a3: user gone is the user being deleted; they cannot be in the distribution.'));
  });

  it('refuses leaving out an item that requires a replacement, naming them', () => {
    expect(routingStepProblem({ ...base, overrides: [] })).toEqual(
      rule('Automations a2, a3 have nobody left to route to without the user being deleted (any other member is being deleted or suspended); name a distribution for each.'),
    );
    expect(routingStepProblem({ ...base, overrides: [{ id: 'a2', distribution: to('u1') }] })).toEqual(
      rule('Automation a3 has nobody left to route to without the user being deleted (any other member is being deleted or suspended); name a distribution for it.'),
    );
    expect(
      routingStepProblem({
        deletedUserId: 'gone',
        items: [{ id: 'i1', requiresReplacement: true }],
        overrides: [],
        what: 'integration',
      }),
    ).toEqual(rule('Integration i1 has nobody left to route to without the user being deleted (any other member is being deleted or suspended); name a distribution for it.'));
  });

  it('accepts exactly the override sets that name known ids once, validly, covering every required item', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const distributions = [to('u1'), half('u1', 'u2'), to('gone'), [{ userId: 'u1', weight: 10 }]];
    const arb = fc.record({
      required: fc.subarray(ids),
      inStep: fc.subarray(ids, { minLength: 0 }),
      overrides: fc.array(
        fc.record({ id: fc.constantFrom(...ids, 'zz'), distribution: fc.constantFrom(...distributions) }),
        { maxLength: 5 },
      ),
    });
    fc.assert(
      fc.property(arb, ({ required, inStep, overrides }) => {
        const stepItems = inStep.map((id) => ({ id, requiresReplacement: required.includes(id) }));
        const named = overrides.map((o) => o.id);
        const ok =
          named.every((id) => inStep.includes(id)) &&
          new Set(named).size === named.length &&
          overrides.every((o) => o.distribution === distributions[0] || o.distribution === distributions[1]) &&
          stepItems.every((item) => !item.requiresReplacement || named.includes(item.id));
        const problem = routingStepProblem({ deletedUserId: 'gone', items: stepItems, overrides, what: 'automation' });
        expect(problem === null).toBe(ok);
        if (problem !== null) expect(problem.kind).toBe('RuleViolation');
      }),
    );
  });
});

describe('resolveRouting', () => {
  it('applies the override, else the suggestion, in the items order', () => {
    expect(
      resolveRouting(
        [
          { id: 'a1', current: half('gone', 'u1'), suggested: to('u1') },
          { id: 'a2', current: to('gone'), suggested: null },
          { id: 'a3', current: half('u1', 'u2'), suggested: half('u1', 'u2') },
        ],
        [
          { id: 'a2', distribution: to('u3') },
          { id: 'a3', distribution: to('u4') },
        ],
      ),
    ).toEqual([
      { id: 'a1', distribution: to('u1') },
      { id: 'a2', distribution: to('u3') },
      { id: 'a3', distribution: to('u4') },
    ]);
  });

  it('an item with neither (refused when the step applies) is estimated as it routes now', () => {
    expect(resolveRouting([{ id: 'a2', current: to('gone'), suggested: null }], [])).toEqual([{ id: 'a2', distribution: to('gone') }]);
  });
});

describe('routingOverridesProblem', () => {
  it('checks the overrides as routingStepProblem does, not which items require a replacement', () => {
    const items = [{ id: 'a1', requiresReplacement: true }];
    expect(routingOverridesProblem({ deletedUserId: 'gone', items, overrides: [], what: 'automation' })).toBeNull();
    expect(routingStepProblem({ deletedUserId: 'gone', items, overrides: [], what: 'automation' })).toEqual(
      missingReplacementsProblem('automation', ['a1']),
    );
    expect(
      routingOverridesProblem({ deletedUserId: 'gone', items, overrides: [{ id: 'zz', distribution: to('u1') }], what: 'automation' }),
    ).toEqual(routingStepProblem({ deletedUserId: 'gone', items, overrides: [{ id: 'zz', distribution: to('u1') }], what: 'automation' }));
    expect(missingReplacementsProblem('integration', [])).toBeNull();
  });
});

describe('labelsStepProblem', () => {
  const items = [{ id: 'l1' }, { id: 'l2' }];

  it('allows replacements, none, or removal without a replacement', () => {
    expect(labelsStepProblem({ deletedUserId: 'gone', items, replacements: [] })).toBeNull();
    expect(
      labelsStepProblem({
        deletedUserId: 'gone',
        items,
        replacements: [
          { labelId: 'l1', replacementUserId: 'u1' },
          { labelId: 'l2', replacementUserId: null },
        ],
      }),
    ).toBeNull();
  });

  it('says why a replacement list is refused', () => {
    expect(
      labelsStepProblem({ deletedUserId: 'gone', items, replacements: [{ labelId: 'l9', replacementUserId: 'u1' }] }),
    ).toEqual(rule('Label l9 is not in this step; only the labels listed can be given a replacement.'));
    expect(
      labelsStepProblem({
        deletedUserId: 'gone',
        items,
        replacements: [
          { labelId: 'l1', replacementUserId: 'u1' },
          { labelId: 'l1', replacementUserId: null },
        ],
      }),
    ).toEqual(rule('Label l1 is named more than once; name each label once.'));
    expect(
      labelsStepProblem({ deletedUserId: 'gone', items, replacements: [{ labelId: 'l2', replacementUserId: 'gone' }] }),
    ).toEqual(rule('Label l2: user gone is the user being deleted; choose someone else.'));
  });
});

describe('confirmationProblem', () => {
  const refusal = rule('Type CONFIRM exactly (capital letters) to delete the user.');

  it('accepts exactly CONFIRM', () => {
    expect(confirmationProblem('CONFIRM')).toBeNull();
    for (const text of ['confirm', 'Confirm', ' CONFIRM', 'CONFIRM ', 'CONFIRM\n', '', 'CONFIRMED', 'CONF IRM']) {
      expect(confirmationProblem(text)).toEqual(refusal);
    }
  });

  it('refuses every other string', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(confirmationProblem(text) === null).toBe(text === 'CONFIRM');
      }),
    );
  });
});

describe('stepProblem', () => {
  const open = { status: 'IN_PROGRESS', step: 'AUTOMATIONS', leadsMoving: false } as const;

  it('allows the step the wizard is at', () => {
    expect(stepProblem(open, 'AUTOMATIONS')).toBeNull();
    expect(stepProblem({ ...open, step: 'CONFIRM' }, 'CONFIRM')).toBeNull();
  });

  it('refuses a closed wizard, a running move, or another step', () => {
    expect(stepProblem({ ...open, status: 'COMPLETED' }, 'AUTOMATIONS')).toEqual(
      conflict('This deletion is already COMPLETED.'),
    );
    expect(stepProblem({ ...open, status: 'CANCELLED' }, 'AUTOMATIONS')).toEqual(
      conflict('This deletion is already CANCELLED.'),
    );
    expect(stepProblem({ ...open, status: 'FAILED' }, 'AUTOMATIONS')).toEqual(
      conflict('This deletion has FAILED; start a new one.'),
    );
    expect(stepProblem({ status: 'IN_PROGRESS', step: 'LEADS', leadsMoving: true }, 'AUTOMATIONS')).toEqual(
      conflict('Leads are still moving; wait until the move is done before the next step.'),
    );
    expect(stepProblem({ status: 'IN_PROGRESS', step: 'LEADS', leadsMoving: true }, 'LEADS')).toEqual(
      conflict('Leads are still moving; wait until the move is done before the next step.'),
    );
    expect(stepProblem({ ...open, step: 'AUTOMATIONS' }, 'LEADS')).toEqual(
      conflict('This wizard is at step AUTOMATIONS, not LEADS.'),
    );
  });

  it('allows exactly an open, idle wizard at the wanted step', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DELETION_STATUSES),
        fc.constantFrom(...STEPS),
        fc.boolean(),
        fc.constantFrom(...STEPS),
        (status, step, leadsMoving, wanted) => {
          const problem = stepProblem({ status, step, leadsMoving }, wanted);
          expect(problem === null).toBe(status === 'IN_PROGRESS' && !leadsMoving && step === wanted);
          if (problem !== null) expect(problem.kind).toBe('StepConflict');
        },
      ),
    );
  });
});

describe('cancelProblem', () => {
  it('allows cancelling until confirm', () => {
    expect(cancelProblem({ status: 'IN_PROGRESS', step: 'LEADS' })).toBeNull();
    expect(cancelProblem({ status: 'IN_PROGRESS', step: 'CONFIRM' })).toBeNull();
  });

  it('refuses once confirmed or closed', () => {
    expect(cancelProblem({ status: 'IN_PROGRESS', step: 'DONE' })).toEqual(
      conflict('This deletion was confirmed; it can no longer be cancelled.'),
    );
    expect(cancelProblem({ status: 'CANCELLED', step: 'LABELS' })).toEqual(
      conflict('This deletion is already CANCELLED.'),
    );
  });
});

describe('startDeletionBlockers', () => {
  const owner = { id: 'o1', role: 'OWNER', status: 'ACTIVE' } as const;
  const member = { id: 'u2', role: 'MEMBER', status: 'ACTIVE' } as const;
  const codes = (args: Parameters<typeof startDeletionBlockers>[0]) => startDeletionBlockers(args).map((b) => b.code);

  it('lists every reason the start would be refused, each with a stable code, and none when it would succeed', () => {
    expect(codes({ actorUserId: 'a1', actorRole: 'ADMIN', target: member, activeOwnerCount: 1, openWizard: false, tooBig: null })).toEqual([]);
    expect(codes({ actorUserId: 'u2', actorRole: 'ADMIN', target: member, activeOwnerCount: 1, openWizard: false, tooBig: null })).toEqual(['SELF']);
    expect(codes({ actorUserId: 'o1', actorRole: 'OWNER', target: owner, activeOwnerCount: 1, openWizard: false, tooBig: null })).toEqual([
      'SELF',
      'LAST_OWNER',
    ]);
    expect(codes({ actorUserId: 'a1', actorRole: 'ADMIN', target: owner, activeOwnerCount: 2, openWizard: false, tooBig: null })).toEqual(['ROLE']);
    expect(codes({ actorUserId: 'a1', actorRole: 'OWNER', target: owner, activeOwnerCount: 2, openWizard: false, tooBig: null })).toEqual([]);
    // A wizard already open: the start answers 200 with it (no refusal), whatever else would hold a new one back.
    expect(codes({ actorUserId: 'a1', actorRole: 'ADMIN', target: member, activeOwnerCount: 1, openWizard: true, tooBig: null })).toEqual([]);
    const pending = { ...member, status: 'PENDING_DELETION' } as const;
    expect(codes({ actorUserId: 'a1', actorRole: 'ADMIN', target: pending, activeOwnerCount: 1, openWizard: false, tooBig: null })).toEqual([]);
    const tooBig = { kind: 'RuleViolation', message: 'too big' } as const;
    expect(codes({ actorUserId: 'o1', actorRole: 'ADMIN', target: owner, activeOwnerCount: 1, openWizard: false, tooBig })).toEqual([
      'SELF',
      'ROLE',
      'LAST_OWNER',
      'TOO_BIG',
    ]);
    // Open: only the role (403, decided before the start joins the wizard) refuses it.
    expect(codes({ actorUserId: 'o1', actorRole: 'ADMIN', target: owner, activeOwnerCount: 1, openWizard: true, tooBig })).toEqual(['ROLE']);
  });

  it('start refuses with the first of them, in the same words', () => {
    for (const [actorUserId, actorRole, target, activeOwnerCount] of [
      ['u2', 'ADMIN', member, 3],
      ['o1', 'OWNER', owner, 1],
      ['a1', 'ADMIN', owner, 1],
      ['a1', 'ADMIN', owner, 2],
      [null, null, owner, 1],
      ['a1', 'ADMIN', member, 1],
    ] as const) {
      const first = startDeletionBlockers({ actorUserId, actorRole, target, activeOwnerCount, openWizard: false, tooBig: null })[0];
      expect(startDeletionProblem({ actorUserId, actorRole, target, activeOwnerCount })).toEqual(first ? rule(first.message) : null);
    }
  });

  it('HR and identity providers (no actor role) are never refused for ROLE', () => {
    expect(codes({ actorUserId: null, target: owner, activeOwnerCount: 2, openWizard: false, tooBig: null })).toEqual([]);
  });
});
