// The CLI finder's search order, with fake binaries in scratch folders, and
// its one-sentence refusal when there is nothing to run and no Go to build
// with (checked with an empty PATH, so nothing is ever built here).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../infra/config';
import { findTemporalCli } from '../../infra/temporal-cli';

let scratch: string;
const quiet = () => undefined;

function fakeBinary(dir: string, name = 'temporal'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, '#!/bin/sh\necho fake\n', { mode: 0o755 });
  return file;
}

function dirs() {
  return {
    pathDir: path.join(scratch, 'on-path'),
    toolsDir: path.join(scratch, 'repo', '.tools', 'bin'),
    cacheDir: path.join(scratch, 'machine-cache'),
  };
}

beforeEach(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'crm-cli-'));
});
afterEach(() => fs.rmSync(scratch, { recursive: true, force: true }));

test('TEMPORAL_CLI wins over PATH, the repo tools folder and the machine cache', async () => {
  const { pathDir, toolsDir, cacheDir } = dirs();
  const chosen = fakeBinary(path.join(scratch, 'chosen'), 'my-temporal');
  fakeBinary(pathDir);
  fakeBinary(toolsDir);
  fakeBinary(cacheDir);
  const found = await findTemporalCli({ TEMPORAL_CLI: chosen }, quiet, { env: { PATH: pathDir }, toolsDir, cacheDir });
  expect(found).toBe(chosen);
});

test('then temporal on PATH, then the repo tools folder', async () => {
  const { pathDir, toolsDir, cacheDir } = dirs();
  const onPath = fakeBinary(pathDir);
  const inTools = fakeBinary(toolsDir);
  fakeBinary(cacheDir);
  const options = { toolsDir, cacheDir };
  expect(await findTemporalCli({}, quiet, { ...options, env: { PATH: `/nonexistent:${pathDir}` } })).toBe(onPath);
  expect(await findTemporalCli({}, quiet, { ...options, env: { PATH: '' } })).toBe(inTools);
});

test('a binary in the machine cache is linked into the repo tools folder of a fresh clone', async () => {
  const { toolsDir, cacheDir } = dirs();
  const cached = fakeBinary(cacheDir);
  const found = await findTemporalCli({}, quiet, { env: { PATH: '' }, toolsDir, cacheDir });
  expect(found).toBe(path.join(toolsDir, 'temporal'));
  expect(fs.realpathSync(found)).toBe(fs.realpathSync(cached));
  expect(spawnSync(found, [], { encoding: 'utf8' }).stdout.trim()).toBe('fake');
});

test('a TEMPORAL_CLI that points at nothing is refused, even when another CLI is on PATH', async () => {
  const { pathDir, toolsDir, cacheDir } = dirs();
  fakeBinary(pathDir);
  const bogus = path.join(scratch, 'no-such-temporal');
  const attempt = findTemporalCli({ TEMPORAL_CLI: bogus }, quiet, { env: { PATH: pathDir }, toolsDir, cacheDir });
  await expect(attempt).rejects.toThrow(ConfigError);
  await expect(attempt).rejects.toThrow(`TEMPORAL_CLI is set to ${bogus}`);
});

test('no CLI anywhere and no Go: one sentence naming every way out, and nothing is built', async () => {
  const { toolsDir, cacheDir } = dirs();
  const attempt = findTemporalCli({}, quiet, { env: { PATH: '', HOME: scratch }, toolsDir, cacheDir });
  await expect(attempt).rejects.toThrow(ConfigError);
  const message = await attempt.catch((err: Error) => err.message);
  for (const way of ['TEMPORAL_CLI', 'PATH', 'install Go', 'TEMPORAL_ADDRESS']) expect(message).toContain(way);
  expect(message.split(/(?<=\.)\s/)).toHaveLength(1);
  expect(fs.existsSync(cacheDir)).toBe(false);
  expect(fs.existsSync(toolsDir)).toBe(false);
});

// A stand-in `go` that does what `go install` does: writes the binary into GOBIN.
function fakeGo(dir: string, script: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'go'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
}

test('with Go and nothing found, it runs go install for the pinned tag into the machine cache and links it', async () => {
  const { pathDir, toolsDir, cacheDir } = dirs();
  fakeGo(
    pathDir,
    [
      'echo "$@" > "$GOBIN/../go-args"',
      'echo "go: downloading github.com/temporalio/cli v1.5.1" >&2',
      'printf "#!/bin/sh\\necho built\\n" > "$GOBIN/temporal" && /bin/chmod +x "$GOBIN/temporal"',
    ].join('\n'),
  );
  const lines: string[] = [];
  const found = await findTemporalCli({}, (line) => lines.push(line), { env: { PATH: pathDir }, toolsDir, cacheDir });

  expect(found).toBe(path.join(toolsDir, 'temporal'));
  expect(fs.realpathSync(found)).toBe(path.join(fs.realpathSync(cacheDir), 'temporal'));
  expect(fs.readFileSync(path.join(cacheDir, 'go-args'), 'utf8').trim()).toBe('install github.com/temporalio/cli/cmd/temporal@v1.5.1');
  expect(lines.join('\n')).toContain('go: downloading github.com/temporalio/cli v1.5.1');
  // Only the binary is left in the cache: the staging folder is gone.
  expect(fs.readdirSync(cacheDir).sort()).toEqual(['go-args', 'temporal']);
});

test('a failed go build is a refusal that quotes the build output and leaves no binary behind', async () => {
  const { pathDir, toolsDir, cacheDir } = dirs();
  fakeGo(pathDir, 'echo "go: module lookup disabled by GOPROXY=off" >&2; exit 1');
  const attempt = findTemporalCli({}, quiet, { env: { PATH: pathDir }, toolsDir, cacheDir });
  await expect(attempt).rejects.toThrow(ConfigError);
  await expect(attempt).rejects.toThrow('module lookup disabled by GOPROXY=off');
  expect(fs.readdirSync(cacheDir)).toEqual([]);
  expect(fs.existsSync(path.join(toolsDir, 'temporal'))).toBe(false);
});

test('npm start prints a CLI problem as its one sentence and exits 1, without a stack trace', () => {
  const repo = path.resolve(__dirname, '..', '..');
  const bogus = path.join(scratch, 'no-such-temporal');
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'scripts', 'start.ts')], {
    cwd: repo,
    encoding: 'utf8',
    env: { PATH: '', HOME: scratch, TEMPORAL_CLI: bogus, DATA_DIR: path.join(scratch, 'data') },
    timeout: 60_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr.trim()).toBe(
    `TEMPORAL_CLI is set to ${bogus}, but no executable file is there: point it at a Temporal CLI binary or unset it.`,
  );
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(fs.existsSync(path.join(scratch, 'data'))).toBe(false);
});
