// Finds (or, with Go, builds) the official Temporal CLI whose `server
// start-dev` gives us a real Temporal server with no Docker and no download
// host: no npm package ships it and the SDK's own download cannot reach its
// host here (see shared/design/platform.md).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Config, ConfigError } from './config';
import type { Log } from './logger';

/** The newest CLI tag `go install pkg@version` accepts (v1.6.0+ carry `replace` directives it refuses). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const TEMPORAL_CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';

const REPO_ROOT = path.resolve(__dirname, '..');

export interface FindTemporalCliOptions {
  /** Environment to read TEMPORAL_CLI-independent lookups from (PATH, HOME, GOROOT). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** The repo's git-ignored tools folder. Default: <repo>/.tools/bin. */
  toolsDir?: string;
  /** Machine-level cache shared by every clone. Default: ~/.cache/crm-offboarding/temporal-v1.5.1. */
  cacheDir?: string;
  /** Print a "still building" line this often while Go builds. Default: 15 s. */
  progressEveryMs?: number;
}

/**
 * Path of a runnable `temporal` CLI, looked for in this order: the
 * TEMPORAL_CLI setting (which must exist), `temporal` on PATH, the repo's
 * `.tools/bin/temporal`, the machine-level cache; failing all of those, it is
 * built with `go install` into the machine cache (minutes, the first time on a
 * machine) and linked into `.tools/bin`.
 */
export async function findTemporalCli(
  config: Pick<Config, 'TEMPORAL_CLI'>,
  log: Log,
  options: FindTemporalCliOptions = {},
): Promise<string> {
  const env = options.env ?? process.env;
  const toolsDir = options.toolsDir ?? path.join(REPO_ROOT, '.tools', 'bin');
  const cacheDir = options.cacheDir ?? defaultCacheDir(env);
  const toolsBinary = path.join(toolsDir, 'temporal');
  const cachedBinary = path.join(cacheDir, 'temporal');

  if (config.TEMPORAL_CLI) {
    const given = path.resolve(config.TEMPORAL_CLI);
    if (!isExecutable(given)) {
      throw new ConfigError(
        `TEMPORAL_CLI is set to ${config.TEMPORAL_CLI}, but no executable file is there: point it at a Temporal CLI binary or unset it.`,
      );
    }
    return given;
  }

  const onPath = which('temporal', env);
  if (onPath) return onPath;

  if (isExecutable(toolsBinary)) return toolsBinary;

  if (isExecutable(cachedBinary)) {
    linkInto(toolsBinary, cachedBinary);
    return isExecutable(toolsBinary) ? toolsBinary : cachedBinary;
  }

  const go = which('go', env) ?? (env.GOROOT && isExecutable(path.join(env.GOROOT, 'bin', 'go')) ? path.join(env.GOROOT, 'bin', 'go') : null);
  if (!go) {
    throw new ConfigError(
      'No Temporal CLI found: set TEMPORAL_CLI to a temporal binary, put `temporal` on PATH, install Go (the CLI is then built once, automatically), or set TEMPORAL_ADDRESS to an existing Temporal server.',
    );
  }

  await buildWithGo(go, cacheDir, env, log, options.progressEveryMs ?? 15_000);
  linkInto(toolsBinary, cachedBinary);
  return isExecutable(toolsBinary) ? toolsBinary : cachedBinary;
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'crm-offboarding', `temporal-${TEMPORAL_CLI_VERSION}`);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function which(command: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

/** Points `link` at `target` (a symlink: the binary is ~250 MB), copying where links are not allowed. */
function linkInto(link: string, target: string): void {
  try {
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.rmSync(link, { force: true });
    try {
      fs.symlinkSync(target, link);
    } catch {
      fs.copyFileSync(target, link);
      fs.chmodSync(link, 0o755);
    }
  } catch {
    // The machine cache still works; .tools/bin is only a shortcut.
  }
}

async function buildWithGo(
  go: string,
  cacheDir: string,
  env: NodeJS.ProcessEnv,
  log: Log,
  progressEveryMs: number,
): Promise<void> {
  fs.mkdirSync(cacheDir, { recursive: true });
  // Build into a private folder and rename, so a second process looking at
  // the cache (jest and npm start at once) never sees a half-written binary.
  const stagingDir = fs.mkdtempSync(path.join(cacheDir, '.build-'));
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;
  log(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (once per machine; several minutes the first time) into ${cacheDir}…`,
  );

  const child = spawn(go, ['install', `${TEMPORAL_CLI_PACKAGE}@${TEMPORAL_CLI_VERSION}`], {
    env: { ...env, GOBIN: stagingDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  let downloads = 0;
  const onOutput = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (line.startsWith('go: downloading')) {
        downloads += 1;
        // Hundreds of modules: show the first few and then one in 25.
        if (downloads <= 5 || downloads % 25 === 0) log(`  ${line.trim()} (${downloads} modules, ${elapsed()})`);
      } else {
        log(`  ${line.trim()}`);
      }
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const ticker = setInterval(() => log(`  still building the Temporal CLI (${elapsed()})…`), progressEveryMs);
  ticker.unref();

  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => resolve(exitCode));
  }).finally(() => clearInterval(ticker));

  const built = path.join(stagingDir, 'temporal');
  if (code !== 0 || !isExecutable(built)) {
    fs.rmSync(stagingDir, { recursive: true, force: true });
    throw new ConfigError(
      `Building the Temporal CLI with Go failed (exit ${code}): ${tail.slice(-8).join(' | ')}. Set TEMPORAL_CLI to a temporal binary or TEMPORAL_ADDRESS to an existing server instead.`,
    );
  }
  fs.renameSync(built, path.join(cacheDir, 'temporal'));
  fs.rmSync(stagingDir, { recursive: true, force: true });
  const version = spawnSync(path.join(cacheDir, 'temporal'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  log(`Built ${version || 'the Temporal CLI'} in ${elapsed()}.`);
}
