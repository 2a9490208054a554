// What the HTTP server is built from (ApiDeps), the body limit, and what it
// adds to Fastify's request and route config: the one module every route
// file imports, so that routes never import the server that registers them.
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { AesGcmCodec } from '../infra/codec';
import type { PrismaClient } from '../generated/prisma/client';
import type { WizardApi } from '../client/types';
import type { Deletion, Role } from '../domain/schemas';
import type { Config } from '../infra/config';
import type { AuthContext } from './auth';

/** Bodies over this answer 413 (api.md). */
export const BODY_LIMIT = 10 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'token': Bearer token required (then `roles`, if set). 'hook': the HR hook's signature. */
    auth?: 'token' | 'hook';
    roles?: readonly Role[];
    /** 'deletion': the token and the wizard of `:id` are read in one statement (GET /v1/deletions/{id}). */
    read?: 'deletion';
    /** The body may be left out entirely; it then reads as `{}`. */
    optionalBody?: boolean;
  }
  interface FastifyRequest {
    auth?: AuthContext;
    /** The wizard of `:id` as read with the token (`read: 'deletion'`); null when it is not in the token's workspace. */
    deletionRead?: (() => Promise<Deletion>) | null;
    /** The body exactly as received (the HR hook signs these bytes). */
    rawBody?: Buffer;
    /** A body problem held back until the signature is checked (HR hook: 401 before 400). */
    deferredBodyError?: Error;
  }
}

export interface ApiDeps {
  prisma: PrismaClient;
  wizard: WizardApi;
  health: () => Promise<{ database: boolean; temporal: boolean }>;
  config: Config;
  /** Fastify logger options; `false` for silence. Default: JSON lines at config.LOG_LEVEL. */
  logger?: FastifyServerOptions['logger'];
  /** A pino-compatible logger instance to use instead (wins over `logger`). */
  loggerInstance?: FastifyBaseLogger;
  /** Payload encryption: serves /codec/decode and /codec/encode for the Temporal Web UI when set. */
  codec?: AesGcmCodec | null;
  /** The built admin page; served at `/` when the folder exists. Default: web/dist. */
  webDir?: string;
  /** GET /v1/deletions/{id}/events: how often a watched wizard is read, and a heartbeat sent (api/routes/events.ts). */
  events?: { intervalMs?: number; heartbeatMs?: number };
  /** GET /metrics: oldest wizard count a scrape may show (default WIZARD_GAUGES_MAX_AGE_MS, api/metrics.ts). */
  metricsMaxAgeMs?: number;
}

