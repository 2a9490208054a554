// Child process for the fault suite: jest's module sandbox cannot load PGlite,
// so a test that restarts the embedded database runs it here.
//   fault-db.ts serve --data-dir D --port P [--migrate]   startEmbeddedPostgres, migrated on request
//   fault-db.ts migrate --url U                            apply prisma/migrations to U
// Prints one JSON line {url} (serve: once listening; migrate: once done), then
// serve runs until killed or until stdin closes.
import { startEmbeddedPostgres } from '../../infra/database';
import { migrate } from '../../infra/migrate';

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  const arg = (name: string) => {
    const i = rest.indexOf(`--${name}`);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const log = (m: string) => process.stderr.write(`${m}\n`);
  if (mode === 'migrate') {
    await migrate(arg('url')!, () => undefined);
    process.stdout.write(`${JSON.stringify({ url: arg('url') })}\n`);
    process.exit(0);
  }
  if (mode !== 'serve') throw new Error(`unknown mode ${mode}`);
  const server = await startEmbeddedPostgres({ dataDir: arg('data-dir'), port: Number(arg('port')), log });
  if (rest.includes('--migrate')) await migrate(server.url, () => undefined);
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  const stop = () => void server.stop().then(() => process.exit(0));
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

main().catch((err: Error) => {
  process.stderr.write(`fault-db: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
