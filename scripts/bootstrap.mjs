// The two top-level commands, runnable on a fresh clone before `npm install`:
//
//   node scripts/bootstrap.mjs start            install what is missing, then run the service
//   node scripts/bootstrap.mjs test [jest args] install, typecheck, then jest
//   node scripts/bootstrap.mjs <file.ts> [args] install, then run that TypeScript file
//
// Plain Node ESM with no dependencies: nothing here may import from
// node_modules, since its job is to create node_modules.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const inRoot = (...parts) => path.join(root, ...parts);
const say = (message) => console.log(`[bootstrap] ${message}`);

function fail(message) {
  console.error(`[bootstrap] ${message}`);
  process.exit(1);
}

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function readStamp(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function runStep(title, command, args, env = {}) {
  say(title);
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error) fail(`${title} could not run: ${result.error.message}`);
  if (result.status !== 0) fail(`${title} failed (exit ${result.status ?? result.signal}).`);
  say(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** `npm ci` when node_modules is missing or was installed from another package-lock.json. */
function ensureDependencies() {
  const lock = inRoot('package-lock.json');
  const stamp = inRoot('node_modules', '.crm-offboarding-lock.sha256');
  const want = sha256(lock);
  const have = readStamp(stamp);
  if (have === want) return;
  if (have === null && fs.existsSync(inRoot('node_modules'))) {
    // Installed by hand (npm install/ci) before this script existed: trust npm's
    // own record when it is at least as new as the lock file.
    const hidden = mtimeMs(inRoot('node_modules', '.package-lock.json'));
    const lockTime = mtimeMs(lock);
    if (hidden !== null && lockTime !== null && hidden + 2_000 >= lockTime) {
      fs.writeFileSync(stamp, `${want}\n`);
      return;
    }
  }
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  say(
    fs.existsSync(inRoot('node_modules'))
      ? 'package-lock.json changed since the last install: reinstalling dependencies (npm ci)…'
      : 'Installing dependencies (npm ci, a minute or two the first time)…',
  );
  const started = Date.now();
  const ci = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
  });
  if (ci.status !== 0) {
    // Its first lines say why; the rest is npm's usage text.
    const why = (ci.stderr ?? '').split('\n').filter((line) => line.replace(/^npm error\s*/, '').trim());
    for (const line of why.slice(0, 3)) console.error(line);
    // npm ci refuses a lock file that lists an optional dependency the
    // registry cannot serve (vite 8.4 added a Windows-only one that some
    // mirrors lack; vite is pinned below it): install the same locked
    // versions without rewriting package-lock.json instead.
    runStep(
      'npm ci refused (see above); installing the locked versions with npm install --no-save instead…',
      npm,
      ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error'],
    );
  } else {
    say(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  fs.writeFileSync(stamp, `${want}\n`);
}

/** `prisma generate` when the client is missing or was generated from another schema. */
function ensurePrismaClient() {
  const schema = inRoot('prisma', 'schema.prisma');
  const stamp = inRoot('generated', 'prisma', '.schema.sha256');
  const want = sha256(schema);
  if (fs.existsSync(inRoot('generated', 'prisma', 'client.ts')) && readStamp(stamp) === want) return;
  // The Prisma CLI insists on a native schema engine it cannot download here;
  // generation itself is wasm and only checks that this path exists.
  runStep(
    'Generating the Prisma client (prisma/schema.prisma → generated/prisma)…',
    process.execPath,
    [inRoot('node_modules', 'prisma', 'build', 'index.js'), 'generate'],
    { PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || '/dev/null', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
  );
  fs.writeFileSync(stamp, `${want}\n`);
}

/** Hash of everything the admin page is built from: web/ (but its output and caches) and the locked dependencies. */
function webSourceHash() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'dist' && entry.name !== 'node_modules') walk(full);
      } else if (entry.isFile()) {
        hash.update(`${path.relative(root, full)}\0`).update(fs.readFileSync(full)).update('\0');
      }
    }
  };
  walk(inRoot('web'));
  hash.update(fs.readFileSync(inRoot('package-lock.json')));
  return hash.digest('hex');
}

/** `vite build` of the admin page (served by the API at /) when web/dist is missing or was built from other sources. */
function ensureWebBuild() {
  const stamp = inRoot('web', 'dist', '.source.sha256');
  const want = webSourceHash();
  if (fs.existsSync(inRoot('web', 'dist', 'index.html')) && readStamp(stamp) === want) return;
  runStep(
    fs.existsSync(inRoot('web', 'dist', 'index.html'))
      ? 'Rebuilding the admin page (web/ changed since web/dist was built: vite build)…'
      : 'Building the admin page (web/ → web/dist, vite build)…',
    process.execPath,
    [inRoot('node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
  );
  fs.writeFileSync(stamp, `${want}\n`);
}

/** Runs a child in the foreground, passing our signals on, and exits with its code. */
function runForeground(command, args) {
  const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
  // A terminal's Ctrl-C reaches the child directly as well; the child treats a
  // repeated signal as the same request (see scripts/start.ts).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null) child.kill(signal);
    });
  }
  child.on('error', (err) => fail(`${command} could not start: ${err.message}`));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal === 'SIGINT' ? 130 : 1);
  });
}

const [command, ...rest] = process.argv.slice(2);
if (!command) {
  fail('usage: node scripts/bootstrap.mjs start | test [jest args] | <file.ts> [args]');
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 6)) {
  fail(`Node ${process.versions.node} is too old: this project needs Node 20.6 or newer.`);
}

ensureDependencies();
ensurePrismaClient();

if (command === 'start' || command === 'test') ensureWebBuild();

if (command === 'start') {
  runForeground(process.execPath, ['--import', 'tsx', inRoot('scripts', 'start.ts'), ...rest]);
} else if (command === 'test') {
  runStep('Typechecking (tsc --noEmit -p .)…', process.execPath, [inRoot('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']);
  // The page too: it shares domain/'s types (an audit action without its words fails here).
  runStep('Typechecking the page (tsc --noEmit -p web)…', process.execPath, [inRoot('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', 'web']);
  say(`Running the tests (jest${rest.length ? ` ${rest.join(' ')}` : ''})…`);
  runForeground(process.execPath, [inRoot('node_modules', 'jest', 'bin', 'jest.js'), ...rest]);
} else if (/\.[cm]?ts$/.test(command)) {
  const file = path.resolve(command);
  if (!fs.existsSync(file)) fail(`${command}: no such file.`);
  runForeground(process.execPath, ['--import', 'tsx', file, ...rest]);
} else {
  fail(`unknown command "${command}": use start, test, or a path to a .ts file.`);
}
