// Every setting the service reads, in one typed place. Defaults give the
// embedded mode: PGlite under DATA_DIR and a Temporal dev server we start.
import path from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);

export const ConfigSchema = z.object({
  /** Real PostgreSQL. Unset: embedded PGlite served on PGLITE_PORT from DATA_DIR/pglite. */
  DATABASE_URL: z.string().url().optional(),
  /** Where embedded data lives (PGlite files, the Temporal SQLite file). */
  DATA_DIR: z.string().default(path.resolve(__dirname, '..', '.data')),
  /** Port the embedded PGlite is served on (PostgreSQL wire protocol, loopback only). */
  PGLITE_PORT: port.default(54329),
  /**
   * A client of the embedded PGlite idle inside a transaction longer than
   * this (ms) is rolled back and disconnected: it would block every other
   * client (the embedded server runs one backend). 0 = never.
   */
  PGLITE_IDLE_IN_TRANSACTION_MS: z.coerce.number().int().min(0).default(30_000),
  /** An existing Temporal frontend (host:port). Unset: a dev server is started on TEMPORAL_PORT. */
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('crm-offboarding'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('offboarding'),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  /** Path of a `temporal` CLI binary to use instead of searching PATH or building one. */
  TEMPORAL_CLI: z.string().optional(),
  // Reaching a secured Temporal (Temporal Cloud, a TLS cluster): the names and
  // meanings of Temporal's own environment configuration (@temporalio/envconfig),
  // read by infra/temporal-connection.ts.
  /** Temporal Cloud API key (sent as `authorization: Bearer …`; turns TLS on). */
  TEMPORAL_API_KEY: z.string().optional(),
  /** `true` forces TLS on (server certificates from the system store), `false` off. */
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  /** mTLS client certificate and its key (PEM files, or the PEM itself in the *_DATA variants). */
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().optional(),
  /** CA that signed the server's certificate, when not a public one. */
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().optional(),
  /** Name to verify the server's certificate against, when it differs from the address's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /**
   * Payload encryption keys, `id=base64,id=base64` (32 bytes each; the first
   * encrypts, all decrypt). Required with TEMPORAL_ADDRESS; embedded mode
   * keeps a generated one in DATA_DIR.
   */
  PAYLOAD_ENCRYPTION_KEYS: z.string().optional(),
  /**
   * Seal each payload for its wizard's workspace (infra/codec.ts WORKSPACE), so /codec shows it to that
   * workspace's admins only. Releases before 2026-12-03 cannot read such payloads: upgrading with old
   * replicas still running, set it false until none is left (README "Rolling out").
   */
  PAYLOAD_SEAL_WORKSPACE: z.enum(['true', 'false']).default('true'),
  /** Origins (comma-separated) allowed to call /codec from a browser: the Temporal Web UI. */
  CODEC_CORS_ORIGINS: z.string().default('http://127.0.0.1:8233,http://localhost:8233'),
  /** A Temporal client TOML file (read only when set) and its profile. */
  TEMPORAL_CONFIG_FILE: z.string().optional(),
  TEMPORAL_PROFILE: z.string().optional(),
  HOST: z.string().default('127.0.0.1'),
  /** How long the HR hook keeps its answer to a Standard Webhooks `webhook-id` (a retried delivery gets it again), in days. */
  WEBHOOK_ID_RETENTION_DAYS: z.coerce.number().int().min(3, 'WEBHOOK_ID_RETENTION_DAYS must be at least 3: senders retry for a day or two.').max(3650).default(30),
  /** When set, the API's GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (unset: open, for in-cluster scrapes). */
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters (e.g. `openssl rand -hex 32`).').optional(),
  /** Where the worker serves Prometheus metrics (its own and the Temporal SDK's): HOST:WORKER_METRICS_PORT/metrics; 0 turns it off. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  PORT: port.default(3000),
  /** OTLP/HTTP collector for traces (e.g. http://otel-collector:4318); unset: no traces are exported. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** The service name traces carry. */
  OTEL_SERVICE_NAME: z.string().min(1).default('crm-offboarding'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Most leads handed over per transaction in a bulk move. */
  LEAD_MOVE_BATCH_SIZE: z.coerce.number().int().min(100).max(50_000).default(10_000),
  /**
   * Batches adapt their size so each holds its row locks about this long
   * (ms); 0 keeps every batch at LEAD_MOVE_BATCH_SIZE.
   */
  LEAD_MOVE_BATCH_TARGET_MS: z.coerce.number().int().min(0).max(10_000).default(20),
  /**
   * Concurrent streams a bulk move runs in (consecutive id ranges of the
   * book, each with its own batches): 2 lets PostgreSQL use two cores.
   */
  LEAD_MOVE_STREAMS: z.coerce.number().int().min(1).max(8).default(2),
  /**
   * Batch statements one worker runs at once over all its moves; batches past
   * it wait, and each free turn goes to the move with the fewest leads left
   * (see MoveTuning.statements).
   */
  LEAD_MOVE_WORKER_STATEMENTS: z.coerce.number().int().min(1).max(64).default(2),
  /**
   * How long one turn of a stream runs batches in the database, one after
   * another, before it hands the turn back (ms); 0 runs one batch a turn.
   * Unset: 200, or 0 on the embedded database (worker/index.ts).
   */
  LEAD_MOVE_TURN_MS: z.coerce.number().int().min(0).max(5_000).optional(),
  /**
   * Workflow tasks one worker works on at once. A wizard's short
   * transactions run inside its workflow task (local activities), so a task
   * lasts as long as they do: a layoff's hundred wizards each hold one.
   */
  WORKER_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(1_000).default(200),
  /** Short transactions (local activities) one worker runs at once; past it they wait in the worker. */
  WORKER_LOCAL_ACTIVITIES: z.coerce.number().int().min(1).max(1_000).default(200),
  /** Move slices (activities) one worker runs at once; a slice waiting for its batch's turn holds one. */
  WORKER_ACTIVITIES: z.coerce.number().int().min(1).max(1_000).default(200),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    const what = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`Invalid configuration (${what}). Fix these environment variables and start again.`);
  }
  return parsed.data;
}

export function temporalAddress(config: Config): string {
  return config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
}
