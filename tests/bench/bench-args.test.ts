// The bench's own arithmetic and command line (the measurements themselves are
// never part of npm test): a wrong percentile or a misread flag would publish
// wrong figures without any error.
import fc from 'fast-check';
import { ArgError, parseBenchArgs } from '../../scripts/bench/args';
import { parseBatchTimes } from '../../scripts/bench/batch-times';
import { percentile, percentOf, ratio } from '../../scripts/bench/stats';

describe('percentile (nearest rank)', () => {
  test('p50 and p99 of 1..100 are 50 and 99; p100 is the largest', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
  });

  test('one slow batch in ten is the p99, not averaged away', () => {
    expect(percentile([10, 10, 10, 10, 10, 10, 10, 10, 10, 250], 99)).toBe(250);
    expect(percentile([10, 10, 10, 10, 10, 10, 10, 10, 10, 250], 50)).toBe(10);
  });

  test('no values: null; a percentile outside (0, 100] is refused', () => {
    expect(percentile([], 99)).toBeNull();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  test('always one of the values, at least as many at or below it as p% of them, monotone in p', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 100 }), (values, p) => {
        const v = percentile(values, p)!;
        expect(values).toContain(v);
        expect(values.filter((x) => x <= v).length).toBeGreaterThanOrEqual((p / 100) * values.length);
        expect(values.filter((x) => x < v).length).toBeLessThan((p / 100) * values.length);
        expect(percentile(values, Math.min(100, p + 1))!).toBeGreaterThanOrEqual(v);
      }),
    );
  });

  test('ratios to two decimals, percentages to one; nothing divided by zero', () => {
    expect(ratio(12296, 18291)).toBe(0.67);
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(null, 3)).toBeNull();
    expect(percentOf(166, 7000)).toBe(2.4);
    expect(percentOf(1, 0)).toBeNull();
  });
});

describe('batch times recorded by the worker probe', () => {
  test('reads "<epoch ms> <lock ms>" lines and skips a torn last line', () => {
    expect(parseBatchTimes('1700000000000 27.5\n1700000000100 3e1\n1700000000200 4')).toEqual([
      { at: 1700000000000, ms: 27.5 },
      { at: 1700000000100, ms: 30 },
      { at: 1700000000200, ms: 4 },
    ]);
    expect(parseBatchTimes('1700000000000 27.5\n17000000')).toEqual([{ at: 1700000000000, ms: 27.5 }]);
  });
});

describe('npm run bench arguments', () => {
  test('no arguments: one book of 1,000,000 leads, as before', () => {
    expect(parseBenchArgs([])).toEqual(expect.objectContaining({ scenario: 'leads', leads: 1_000_000, interleave: 1, batch: null }));
    expect(parseBenchArgs(['--leads', '20000', '--interleave', '4', '--batch', '5000'])).toEqual(
      expect.objectContaining({ scenario: 'leads', leads: 20_000, interleave: 4, batch: 5_000 }),
    );
  });

  test('--layoff alone takes the defaults U=100, K=5,000; both can be given', () => {
    expect(parseBenchArgs(['--layoff'])).toEqual(expect.objectContaining({ scenario: 'layoff', users: 100, leadsPerUser: 5_000 }));
    expect(parseBenchArgs(['--layoff', '5', '--leads-per-user', '500'])).toEqual(
      expect.objectContaining({ scenario: 'layoff', users: 5, leadsPerUser: 500 }),
    );
    expect(parseBenchArgs(['--leads-per-user', '500', '--layoff'])).toEqual(expect.objectContaining({ users: 100, leadsPerUser: 500 }));
  });

  test('--api and --reads default to 50 clients and a 1M-lead move', () => {
    expect(parseBenchArgs(['--api'])).toEqual(expect.objectContaining({ scenario: 'api', clients: 50, leads: 1_000_000, durationS: 5 }));
    expect(parseBenchArgs(['--reads', '8', '--leads', '1000', '--duration', '3'])).toEqual(
      expect.objectContaining({ scenario: 'reads', clients: 8, leads: 1_000, durationS: 3 }),
    );
    expect(parseBenchArgs(['--reads'])).toEqual(expect.objectContaining({ clients: 50, durationS: 10 }));
  });

  test.each([
    [['--leads'], /--leads needs a positive whole number/],
    [['--leads', '0'], /positive whole number/],
    [['--leads', '1e6'], /positive whole number, not "1e6"/],
    [['--leads', '-5'], /positive whole number/],
    [['--lead', '5'], /Unknown argument "--lead"/],
    [['5000'], /Unknown argument "5000"/],
    [['--layoff', '--api'], /Choose one scenario: --layoff or --api/],
    [['--leads', '1', '--leads', '2'], /given twice/],
    [['--api', '--leads-per-user', '10'], /--leads-per-user does not apply to the api scenario/],
    [['--layoff', '--leads', '10'], /--leads does not apply to the layoff scenario/],
    [['--interleave', '2'], /--interleave needs 1/],
  ])('%j is refused: %s', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(ArgError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});
