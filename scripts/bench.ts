// npm run bench -- [--leads N] [--batch B] [--interleave K]
//                  | --layoff [U] [--leads-per-user K]
//                  | --api [C] [--leads N] [--duration S]
//                  | --reads [C] [--leads N] [--duration S]
//
// Measurements on this machine, never part of `npm test`. Each scenario lives
// in scripts/bench/: one book's move against its floors (leads.ts), the layoff
// day (layoff.ts), the API while a move runs (api.ts), reads idle and mid-move
// (reads.ts). Progress goes to stderr; the last stdout line is one JSON object.
import { ConfigError } from '../infra/config';
import { ArgError, parseBenchArgs } from './bench/args';
import { apiBench } from './bench/api';
import { layoffBench } from './bench/layoff';
import { leadsBench } from './bench/leads';
import { readsBench } from './bench/reads';

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

async function main() {
  const args = parseBenchArgs(process.argv.slice(2));
  const run = { leads: leadsBench, layoff: layoffBench, api: apiBench, reads: readsBench }[args.scenario];
  const result = await run(args, log);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  // Handles of finished clients (gRPC, sockets) must not keep a finished bench alive.
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err instanceof ConfigError || err instanceof ArgError ? err.message : err.stack}\n`);
    process.exit(1);
  },
);
