import { jsonBytes, openingSizeProblem, STEP_VIEW_MAX_BYTES, stepSizeProblem, WIZARD_VIEW_MAX_BYTES } from './wizard-size';
import type { Deletion } from './schemas';

describe('jsonBytes', () => {
  it("is the UTF-8 length of the value's JSON, for every width of character", () => {
    for (const value of [{ a: 'plain' }, 'é ü', '€ 漢字', '😀 and 👍🏽', ['\u0000', '\n'], null, 12.5]) {
      expect(jsonBytes(value)).toBe(Buffer.byteLength(JSON.stringify(value), 'utf8'));
    }
  });
});

describe('what one wizard can carry', () => {
  const view = (labels: number, nameLength: number): Deletion =>
    ({
      id: 'd',
      workflowId: 'w',
      status: 'IN_PROGRESS',
      step: 'LEADS',
      user: { id: 'c'.repeat(25), name: 'Ann', email: 'ann@x.test' },
      source: 'ADMIN',
      reason: null,
      effectiveAt: null,
      startedAt: '2026-12-01T00:00:00.000Z',
      updatedAt: '2026-12-01T00:00:00.000Z',
      attention: null,
      leads: { total: 0, moved: 0, swept: 0, state: 'PENDING', distribution: null },
      automations: [],
      integrations: [],
      labels: Array.from({ length: labels }, (_, i) => ({
        id: `l${String(i).padStart(7, '0')}`,
        name: 'x'.repeat(nameLength),
        visibility: 'SHARED' as const,
        replacementUserId: null,
        applied: false,
      })),
    }) as Deletion;

  it('opens a view that fits with its steps taken, and refuses one that does not, counting what it lists', () => {
    expect(openingSizeProblem(view(100, 100))).toBeNull();
    const big = view(6_000, 190);
    expect(openingSizeProblem(big)).toEqual({
      kind: 'RuleViolation',
      code: 'TOO_BIG',
      message: expect.stringMatching(/^This user's wizard would list 0 automations, 0 integrations and 6000 labels: more than one wizard can carry \(1\.\d\d MB/),
    });
  });

  it('counts the replacements the label step will add: a view that fits as it opens may not fit once taken', () => {
    const base = jsonBytes(view(0, 300));
    const perLabel = jsonBytes(view(2, 300)) - jsonBytes(view(1, 300));
    const fits = Math.floor((WIZARD_VIEW_MAX_BYTES - base) / perLabel);
    expect(jsonBytes(view(fits, 300))).toBeLessThanOrEqual(WIZARD_VIEW_MAX_BYTES);
    expect(openingSizeProblem(view(fits, 300))).not.toBeNull();
  });

  it('refuses a step that would leave more than its limit and more than before, naming the weight', () => {
    const small = view(100, 100);
    const big = view(6_000, 300);
    expect(jsonBytes(big)).toBeGreaterThan(STEP_VIEW_MAX_BYTES);
    expect(stepSizeProblem(small, small)).toBeNull();
    expect(stepSizeProblem(big, small)?.message).toMatch(/^These choices would make the wizard weigh \d\.\d\d MB: more than one wizard can carry \(at most 1\.50 MB\)/);
  });

  it('lets a wizard opened before these limits take its suggestions, up to 1.9 MB, and nothing heavier', () => {
    const old = view(4_500, 300);
    const taken = (v: Deletion, replacement: string): Deletion => ({ ...v, labels: v.labels.map((l) => ({ ...l, replacementUserId: replacement, applied: true })) });
    const suggested = taken(old, 'r'.repeat(25));
    expect(jsonBytes(suggested)).toBeGreaterThan(STEP_VIEW_MAX_BYTES);
    expect(jsonBytes(suggested)).toBeLessThan(1_900_000);
    expect(stepSizeProblem(suggested, old)).toBeNull();
    // Replacements heavier than the suggestion's are refused.
    expect(stepSizeProblem(taken(old, 'r'.repeat(40)), old)).not.toBeNull();
    // And past 1.9 MB nothing is taken, suggested or not.
    const older = view(5_000, 300);
    expect(stepSizeProblem(taken(older, 'r'.repeat(25)), older)).not.toBeNull();
  });

});
