// Ports for the servers this project starts itself (the Temporal dev server,
// the embedded database, the bench's processes, CI's PostgreSQL).
import net from 'node:net';

/**
 * A port free on 127.0.0.1, and kept from the kernel's own picks for about a
 * minute, until the server we start binds it. A port that was merely free
 * when picked could be handed out again before that (to another process's
 * listen(0) or outgoing connection: a dev server started alongside picks its
 * internal ports that way) and the server would die at start. So, as the
 * Temporal CLI guards its own ports: connect to the port once and close the
 * accepted side first. Its end of that connection (local port = the port)
 * waits in TIME_WAIT, and while it does the kernel skips the port when it
 * picks one for a bind to port 0 or a connect, whereas an explicit bind with
 * SO_REUSEADDR (Go's and Node's listeners set it) still gets it.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  // The guard is best effort: without it the port is still free, as ports were picked before.
  await closeFromAcceptedSide(server, port).catch(() => undefined);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One connection to `server`, closed by the accepted side first (that end then waits in TIME_WAIT). */
function closeFromAcceptedSide(server: net.Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let accepted: net.Socket | undefined;
    const client = net.connect(port, '127.0.0.1');
    client.unref();
    const end = (err?: Error) => {
      clearTimeout(timer);
      if (!err) return resolve();
      // Nothing left open: server.close() waits for every accepted connection.
      client.destroy();
      accepted?.destroy();
      reject(err);
    };
    const timer = setTimeout(() => end(new Error(`port ${port}: the connection did not close within 2 s`)), 2_000);
    timer.unref();
    server.once('connection', (socket) => {
      accepted = socket;
      socket.on('error', () => undefined);
      // Its FIN goes first; the client answers with its own when it sees the end (allowHalfOpen is off).
      socket.end();
    });
    client.once('error', end);
    client.once('close', () => end());
  });
}
