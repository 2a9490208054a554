// Ports for the servers this project starts itself (the Temporal dev server,
// the embedded database, the bench's processes).
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
  try {
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect(port, '127.0.0.1');
    client.unref();
    const clientClosed = new Promise<void>((resolve, reject) => {
      client.once('error', reject);
      client.once('close', () => resolve());
    });
    const socket = await accepted;
    // The accepted side sends its FIN first, so its end is the one left in TIME_WAIT;
    // the client answers with its own when it sees the end (allowHalfOpen is off).
    socket.end();
    await clientClosed;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return port;
}
