// The worker thread that owns PGlite and its socket server (see server.ts):
// it opens and serves them, says 'ready' with the port and password, and on
// 'stop' closes every connection and PGlite, then says 'stopped'.
import { parentPort, workerData } from 'node:worker_threads';
import { serveInThisThread, type ThreadMessage, type ThreadOptions } from './server';

const port = parentPort!;
const say = (m: ThreadMessage) => port.postMessage(m);

async function main(): Promise<void> {
  const served = await serveInThisThread({ ...(workerData as ThreadOptions), log: (message, level) => say({ type: 'log', message, level }) });
  port.on('message', (m: unknown) => {
    if (m !== 'stop') return;
    served.close().then(
      () => say({ type: 'stopped' }),
      (err: Error) => {
        say({ type: 'log', message: `embedded database: stopping failed: ${err.message}`, level: 'warn' });
        say({ type: 'stopped' });
      },
    );
  });
  say({ type: 'ready', port: served.port, password: served.password });
}

main().catch((err: NodeJS.ErrnoException) => say({ type: 'failed', message: err.message, code: err.code }));
