// The bench's command line: which scenario, and its sizes. Pure, so tests can
// check it without running anything.
//   npm run bench -- --leads N [--batch B] [--interleave K]      one book (default)
//   npm run bench -- --layoff [U] [--leads-per-user K]           the layoff day
//   npm run bench -- --api [C] [--leads N] [--duration S]        the API while a move runs
//   npm run bench -- --reads [C] [--leads N] [--duration S]      reads, idle and mid-move

export type Scenario = 'leads' | 'layoff' | 'api' | 'reads';

export interface BenchArgs {
  scenario: Scenario;
  /** Leads per book (leads), or of the move that runs meanwhile (api, reads). */
  leads: number;
  /** Optional: the size of the lead batches (default: LEAD_MOVE_BATCH_SIZE). */
  batch: number | null;
  interleave: number;
  /** Layoff: leavers (and as many colleagues, and a second set for the bare UPDATE). */
  users: number;
  leadsPerUser: number;
  /** Concurrent HTTP clients (api, reads). */
  clients: number;
  /** Seconds of load per measured route (api, reads). */
  durationS: number;
}

export class ArgError extends Error {
  override name = 'ArgError';
}

const SCENARIO_FLAGS = ['layoff', 'api', 'reads'] as const;
const NUMBER_FLAGS = ['leads', 'batch', 'interleave', 'leads-per-user', 'duration', ...SCENARIO_FLAGS] as const;
type Flag = (typeof NUMBER_FLAGS)[number];

/** `argv` as after `npm run bench --` (no node, no script path). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const given = new Map<Flag, number | null>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    const name = token.startsWith('--') ? token.slice(2) : null;
    if (!name || !(NUMBER_FLAGS as readonly string[]).includes(name)) {
      throw new ArgError(`Unknown argument ${JSON.stringify(token)}; use ${NUMBER_FLAGS.map((f) => `--${f}`).join(', ')}.`);
    }
    const flag = name as Flag;
    if (given.has(flag)) throw new ArgError(`--${flag} is given twice.`);
    const next = argv[i + 1];
    // A scenario flag may stand alone (its default count); every other flag needs a number.
    if (next === undefined || next.startsWith('--')) {
      if (!(SCENARIO_FLAGS as readonly string[]).includes(flag)) throw new ArgError(`--${flag} needs a positive whole number.`);
      given.set(flag, null);
      continue;
    }
    const n = Number(next);
    if (!/^\d+$/.test(next) || !Number.isSafeInteger(n) || n <= 0) throw new ArgError(`--${flag} needs a positive whole number, not ${JSON.stringify(next)}.`);
    given.set(flag, n);
    i++;
  }
  const scenarios = SCENARIO_FLAGS.filter((f) => given.has(f));
  if (scenarios.length > 1) throw new ArgError(`Choose one scenario: ${scenarios.map((f) => `--${f}`).join(' or ')}.`);
  const scenario: Scenario = scenarios[0] ?? 'leads';
  const only = (flag: Flag, where: Scenario[]) => {
    if (given.has(flag) && !where.includes(scenario)) throw new ArgError(`--${flag} does not apply to the ${scenario} scenario.`);
  };
  only('batch', ['leads']);
  only('interleave', ['leads']);
  only('leads-per-user', ['layoff']);
  only('leads', ['leads', 'api', 'reads']);
  only('duration', ['api', 'reads']);
  const interleave = given.get('interleave') ?? 1;
  if (interleave === 2 || interleave > 1_000) throw new ArgError('--interleave needs 1 (books one after the other) or 3 to 1,000.');
  return {
    scenario,
    leads: given.get('leads') ?? 1_000_000,
    batch: given.get('batch') ?? null,
    interleave,
    users: given.get('layoff') ?? 100,
    leadsPerUser: given.get('leads-per-user') ?? 5_000,
    clients: (scenario === 'api' ? given.get('api') : given.get('reads')) ?? 50,
    durationS: given.get('duration') ?? (scenario === 'api' ? 5 : 10),
  };
}
