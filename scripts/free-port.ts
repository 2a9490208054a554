// A free port on 127.0.0.1, kept from the kernel's own picks until a server
// binds it (infra/ports.ts), written to the file named (else printed).
// .ci/run starts its PostgreSQL on it.
import fs from 'node:fs';
import { freePort } from '../infra/ports';

// freePort's handles are unref'd (it serves long-lived processes): this one
// stays up until the port is written, and an exit before that is a failure.
process.exitCode = 1;
const alive = setInterval(() => undefined, 60_000);
void freePort()
  .then((port) => {
    const out = process.argv[2];
    if (out) fs.writeFileSync(out, `${port}\n`);
    else console.log(port);
    process.exitCode = 0;
  })
  .finally(() => clearInterval(alive));
