// The codec endpoint of the Temporal Web UI and CLI (Temporal's "remote codec"
// protocol): POST /codec/decode and /codec/encode take and give
// `{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`. It decrypts
// what infra/codec.ts encrypted, so it sits behind the API's own auth (a
// Bearer token of an OWNER or ADMIN), decrypts only the payloads sealed for
// that token's workspace (infra/codec.ts WORKSPACE; others come back as they
// went, encrypted), encrypts for that workspace, and answers browsers only from
// CODEC_CORS_ORIGINS (the UI's origin). Point the UI at it with
// TEMPORAL_CODEC_ENDPOINT=https://<api>/codec (and "pass access token"), or
// the CLI with `--codec-endpoint https://<api>/codec --codec-auth 'Bearer <token>'`.
import type { Payload } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ADMIN_ROLES } from '../domain/rules';
import { encrypted, payloadWorkspace, type AesGcmCodec } from '../infra/codec';
import { HttpProblem } from './problems';
import { bearer, BODY_PROBLEMS, problems, ROLE_PROBLEMS, TOKEN_PROBLEMS } from './routes/common';

const Base64 = z.string().max(4 * 1024 * 1024).regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const JsonPayload = z.object({
  metadata: z.record(z.string().max(200), Base64).optional(),
  data: Base64.optional(),
});
// The Temporal CLI sends `{}` for a list with no payloads (protobuf's JSON
// leaves an empty list out): that is the empty list.
const Payloads = z.object({ payloads: z.array(JsonPayload).max(1_000).default([]) });
type JsonPayload = z.infer<typeof JsonPayload>;

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export function parseOrigins(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim().replace(/\/$/, ''))
    .filter(Boolean);
}

export function codecRoutes(scope: FastifyInstance, deps: { codec: AesGcmCodec; origins: readonly string[] }): void {
  const app = scope.withTypeProvider<ZodTypeProvider>();
  const allowed = new Set(deps.origins);

  // On every answer of this scope, refusals included, so the UI can read them.
  app.addHook('onSend', async (request, reply) => {
    // Every answer depends on the Origin, even one without CORS headers: a cache must not give it to another origin.
    const vary = reply.getHeader('vary');
    if (!/(^|,)\s*origin\s*(,|$)/i.test(String(vary ?? ''))) reply.header('vary', vary ? `${String(vary)}, Origin` : 'Origin');
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowed.has(origin)) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
    }
  });

  // The browser's preflight carries no credentials: it is answered without auth.
  app.options('/codec/:operation', { schema: { hide: true } }, async (request, reply) => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowed.has(origin)) {
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', 'authorization, content-type, x-namespace');
      reply.header('access-control-max-age', '600');
    }
    return reply.code(204).send();
  });

  for (const operation of ['decode', 'encode'] as const) {
    app.post(`/codec/${operation}`, {
      config: { auth: 'token', roles: ADMIN_ROLES },
      schema: {
        tags: ['system'],
        summary: `Temporal remote codec: ${operation} payloads (for the Temporal Web UI and CLI)`,
        security: bearer,
        body: Payloads,
        // 422: a payload encrypted with a key this server does not hold, or one that does not decrypt.
        response: { 200: Payloads, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, ...BODY_PROBLEMS, 422) },
      },
      handler: async (request) => {
        const payloads = request.body.payloads.map(fromJson);
        // Everything is scoped to the token's workspace (api.md): a payload sealed for another
        // workspace's wizard, or for none, is given back as it came, still encrypted.
        const workspaceId = request.auth!.workspaceId;
        const ours = (p: Payload) => !encrypted(p) || payloadWorkspace(p) === workspaceId;
        try {
          const out =
            operation === 'decode'
              ? await Promise.all(payloads.map(async (p) => (ours(p) ? (await deps.codec.decode([p]))[0]! : p)))
              : deps.codec.encodeFor(payloads, workspaceId);
          return { payloads: out.map(toJson) };
        } catch (err) {
          // A key not configured here, or a payload that does not decrypt.
          throw new HttpProblem(422, (err as Error).message);
        }
      },
    });
  }
}
