// One-shot: make the Temporal server at TEMPORAL_ADDRESS ready for the service
// (namespace + search attributes). docker compose runs it before api/worker.
import { ConfigError, loadConfig } from '../infra/config';
import { temporalConnectOptions } from '../infra/temporal-connection';
import { ensureNamespace } from '../infra/temporal-namespace';

async function main(): Promise<void> {
  const config = loadConfig();
  const connection = temporalConnectOptions(config);
  const { address } = connection;
  const log = (message: string) => console.log(`[temporal-setup] ${message}`);
  // A fresh Temporal container first creates its schema: give it minutes.
  const result = await ensureNamespace({ address, namespace: connection.namespace, connection, log, waitForServerMs: 300_000 });
  if (!result.createdNamespace && result.addedAttributes.length === 0) {
    log(`${address} already has namespace ${config.TEMPORAL_NAMESPACE} with every search attribute.`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
