// The API as a component: `startApi` wires the database, the Temporal client
// and the wizard client to the HTTP server and listens on HOST:PORT.
import { Client, Connection } from '@temporalio/client';
import { createWizardClient } from '../client/wizard-client';
import { temporalAddress, type Config } from '../infra/config';
import { createPrisma } from '../infra/database';
import { makeHealthCheck } from './health';
import { buildServer, type ApiDeps } from './server';

export { buildServer, type ApiDeps } from './server';
export { makeHealthCheck } from './health';
export { issueToken, hashToken } from './auth';
export { signHookBody } from './hook-signature';

export interface RunningApi {
  /** Base URL, e.g. http://127.0.0.1:3000 */
  url: string;
  close(): Promise<void>;
}

export async function startApi(opts: {
  config: Config;
  databaseUrl: string;
  logger?: ApiDeps['logger'];
}): Promise<RunningApi> {
  const { config } = opts;
  const prisma = createPrisma(opts.databaseUrl);
  // Lazy: the API starts (and says so on /v1/health) even while Temporal is away.
  const connection = Connection.lazy({ address: temporalAddress(config) });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const wizard = createWizardClient({ temporal, prisma, config });
  const health = makeHealthCheck({
    prisma,
    temporalAddress: temporalAddress(config),
    namespace: config.TEMPORAL_NAMESPACE,
  });
  const app = buildServer({ prisma, wizard, health, config, ...(opts.logger !== undefined ? { logger: opts.logger } : {}) });
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (err) {
    await app.close().catch(() => {});
    await health.close();
    await connection.close().catch(() => {});
    await prisma.$disconnect().catch(() => {});
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const shownHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await health.close();
        await connection.close().catch(() => {});
        await prisma.$disconnect();
      })()),
  };
}
