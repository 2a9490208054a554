// Who inherits: the same answer for the sweep, the removal and the labels.
import fc from 'fast-check';
import { heirOf, preferredHeirs, sweepDistribution } from './heirs';

const admin = { type: 'USER' as const, id: 'admin' };

test('the first active preferred user inherits, else the first active owner or admin, else nobody', () => {
  const preferred = preferredHeirs([{ userId: 'ann', weight: 50 }, { userId: 'bob', weight: 50 }], admin);
  expect(preferred).toEqual(['ann', 'bob', 'admin']);
  expect(heirOf({ preferred, active: new Set(['bob', 'admin']), admins: ['owner'] })).toBe('bob');
  expect(heirOf({ preferred, active: new Set(['admin']), admins: ['owner'] })).toBe('admin');
  expect(heirOf({ preferred, active: new Set(), admins: ['owner', 'other'] })).toBe('owner');
  expect(heirOf({ preferred, active: new Set(), admins: [] })).toBeNull();
  expect(preferredHeirs(null, { type: 'HR', id: 'E-1' })).toEqual([]);
});

test('the sweep keeps the active members of the step-1 choice, and otherwise gives everything to the heir', () => {
  const choice = [{ userId: 'ann', weight: 30 }, { userId: 'bob', weight: 70 }];
  const preferred = preferredHeirs(choice, admin);
  expect(sweepDistribution(choice, { preferred, active: new Set(['bob', 'admin']), admins: [] })).toEqual([{ userId: 'bob', weight: 70 }]);
  expect(sweepDistribution(choice, { preferred, active: new Set(['admin']), admins: ['owner'] })).toEqual([{ userId: 'admin', weight: 100 }]);
  expect(sweepDistribution(null, { preferred: [], active: new Set(), admins: [] })).toBeNull();
});

test('whoever inherits is active or an admin, and a preferred active user always wins over the admins', () => {
  const users = fc.constantFrom('ann', 'bob', 'cy', 'dee');
  fc.assert(
    fc.property(fc.array(users), fc.uniqueArray(users), fc.array(users), (preferred, active, admins) => {
      const heir = heirOf({ preferred, active: new Set(active), admins });
      const activePreferred = preferred.filter((id) => active.includes(id));
      if (activePreferred.length > 0) expect(heir).toBe(activePreferred[0]);
      else expect(heir).toBe(admins[0] ?? null);
    }),
  );
});
