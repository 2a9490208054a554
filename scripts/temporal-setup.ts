// One-shot: make the Temporal server at TEMPORAL_ADDRESS ready for the service
// (namespace + search attributes). docker compose runs it before api/worker.
import { ConfigError, loadConfig, temporalAddress } from '../infra/config';
import { ensureNamespace } from '../infra/temporal-namespace';

async function main(): Promise<void> {
  const config = loadConfig();
  const address = temporalAddress(config);
  const log = (message: string) => console.log(`[temporal-setup] ${message}`);
  // A fresh Temporal container first creates its schema: give it minutes.
  const result = await ensureNamespace({ address, namespace: config.TEMPORAL_NAMESPACE, log, waitForServerMs: 300_000 });
  if (!result.createdNamespace && result.addedAttributes.length === 0) {
    log(`${address} already has namespace ${config.TEMPORAL_NAMESPACE} with every search attribute.`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
