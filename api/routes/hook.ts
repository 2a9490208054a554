// api.md "HR offboarding hook": an HR system offboards an employee.
//
// Two signature schemes: X-Signature (ours) and Standard Webhooks
// (`webhook-id`, `webhook-timestamp`, `webhook-signature`, `whsec_…` key).
// Refusal order: the signature is checked over the RAW bytes first (401); an
// unknown workspace slug goes through the same checks with a secret nobody
// has, so its answer is exactly a bad signature's and the hook tells an
// unsigned caller nothing, not even which workspaces exist. Only then is the
// body looked at (400), then the email (404). The offboarding joins the
// user's open wizard or starts a new one (client/offboarding.ts). A
// Standard Webhooks `webhook-id` seen before gets its first answer again.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { offboardUser } from '../../client/offboarding';
import { BadInput, NotFound, Unavailable } from '../../domain/errors';
import { HookAccepted, HookBody, HookParams } from '../../domain/schemas';
import { newStandardSecret, signatureProblem, standardSignatureProblem, usesStandardWebhooks } from '../hook-signature';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../problems';
import type { ApiDeps } from '../deps';
import { BODY_LIMIT } from '../deps';
import { problems, type Api } from './common';
import { plausibleId } from '../directory/common';
import { bodyText, jsonRefusal } from '../body-text';

const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;

/** Secrets nobody has: an unknown workspace (or one with no Standard secret yet) is checked against these. */
const NOBODYS_SECRET = randomBytes(32).toString('hex');
const NOBODYS_STANDARD_SECRET = newStandardSecret();

const HookHeaders = z.object({
  'x-signature': z.string().optional().describe('t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">'),
  'webhook-id': z.string().optional().describe('Standard Webhooks: the delivery id (the same id gets the same answer)'),
  'webhook-timestamp': z.string().optional().describe('Standard Webhooks: unix seconds'),
  'webhook-signature': z.string().optional().describe('Standard Webhooks: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<raw body>">'),
});

/**
 * Answers kept for a repeated webhook-id: what the client caused, not our own
 * trouble, nor a body not taken as it was sent (413, 415: the message was
 * never read, and its retry sent as asked must be read).
 */
function replayable(status: number): boolean {
  return status < 500 && status !== 401 && status !== 413 && status !== 415 && status !== 429;
}

export function hookRoutes(app: Api, deps: ApiDeps): void {
  const db = deps.prisma;
  const accepted = new WeakMap<FastifyRequest, { workspaceId: string; webhookId: string | null }>();
  /**
   * The webhook-ids this process is answering now: a delivery of one of them
   * (a sender retrying before its first try was answered) waits for that
   * answer and gets it, instead of offboarding a second time. It never
   * offboards itself: should that answer not be kept (a 503, say) or not come
   * within the API's wait, it answers 503, to be sent again. An entry ends
   * once its answer is sent (onSend, else onResponse) or its request aborted.
   */
  const answering = new Map<string, Promise<void>>();
  const answered = new WeakMap<FastifyRequest, () => void>();
  const release = (req: FastifyRequest) => {
    answered.get(req)?.();
    answered.delete(req);
  };

  // Whatever arrives is kept as bytes; parse problems wait until the
  // signature over those bytes has been checked.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (req, body, done) => {
    const raw = body as Buffer;
    req.rawBody = raw;
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      req.deferredBodyError = new HttpProblem(415, 'Send the body as application/json.');
      return done(null, undefined);
    }
    if (raw.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = bodyText(req, raw);
    } catch (err) {
      req.deferredBodyError = err as Error;
      return done(null, undefined);
    }
    parseJson(req, text, (err, value) => {
      if (err) req.deferredBodyError = jsonRefusal(text, new BadInput('The body is not valid JSON.'));
      done(null, err ? undefined : value);
    });
  });

  // A Standard Webhooks delivery's first answer is kept for its webhook-id.
  app.addHook('onSend', async (req, reply, payload) => {
    const kept = accepted.get(req);
    const webhookId = kept?.webhookId;
    if (!kept || !webhookId || !replayable(reply.statusCode) || typeof payload !== 'string') return payload;
    try {
      JSON.parse(payload);
    } catch {
      return payload;
    }
    // Kept as the JSON text that was sent (a jsonb string): a refusal may name
    // a field with a NUL or a lone surrogate, which jsonb cannot hold as an
    // object, and the database must never be the one to refuse a value.
    await db.webhookDelivery
      .createMany({
        data: [{ workspaceId: kept.workspaceId, webhookId, status: reply.statusCode, body: payload }],
        skipDuplicates: true,
      })
      .catch((err: unknown) => req.log.warn({ err }, 'the answer to a webhook-id was not kept'));
    release(req);
    return payload;
  });
  // However the request ended (an answer not kept, the client gone), the next delivery of its id goes on.
  app.addHook('onResponse', async (req) => release(req));
  app.addHook('onRequestAbort', async (req) => release(req));

  // Answers kept longer than WEBHOOK_ID_RETENTION_DAYS go, after the answer is
  // sent: senders retry for a day or two (Svix: about 28 hours), and the table
  // must not grow forever. At most 1,000 a delivery, oldest first, so a
  // backlog drains without holding up any one request.
  app.addHook('onResponse', async (req) => {
    const kept = accepted.get(req);
    if (!kept?.webhookId) return;
    const cutoff = new Date(Date.now() - deps.config.WEBHOOK_ID_RETENTION_DAYS * 86_400_000);
    await db.$executeRaw`
      DELETE FROM webhook_deliveries WHERE ctid IN (
        SELECT ctid FROM webhook_deliveries
        WHERE workspace_id = ${kept.workspaceId} AND created_at < ${cutoff}
        ORDER BY created_at LIMIT 1000)`.catch((err: unknown) => req.log.warn({ err }, 'old webhook answers were not pruned'));
  });

  app.post('/v1/hooks/:workspaceSlug/offboarding', {
    config: { auth: 'hook' },
    schema: {
      tags: ['hooks'],
      summary: 'HR offboarding: start deleting the user with this email',
      description:
        'Signed with `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under the workspace hook ' +
        'secret, or with Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` under ' +
        'the workspace `whsec_` secret; a webhook-id seen before gets the same answer again). A bad or missing ' +
        'signature, a timestamp more than 5 minutes off, or an unknown workspace answers 401, alike. The offboarding ' +
        "joins the user's open wizard, else starts a new one (never a cancelled one, nor one that removed an earlier " +
        'user with the same email). An email matching no user answers 404 and starts nothing. `effectiveAt` in the ' +
        'future keeps the user SUSPENDED until then. A user who holds more than one wizard can carry gets 422 and no ' +
        'wizard; unless `effectiveAt` is in the future, they are SUSPENDED meanwhile (the 422 says so).',
      security: [{ hookSignature: [] as string[] }],
      params: HookParams,
      headers: HookHeaders,
      body: HookBody,
      response: { 202: HookAccepted, ...problems(400, 401, 404, 413, 415, 422, 503) },
    },
    preValidation: async (req, reply) => {
      const { workspaceSlug } = req.params as { workspaceSlug: string };
      const workspace = plausibleId(workspaceSlug)
        ? await db.workspace.findUnique({
            where: { slug: workspaceSlug },
            select: { id: true, hookSecret: true, hookStandardSecret: true },
          })
        : null;
      const raw = req.rawBody ?? Buffer.alloc(0);
      const standard = usesStandardWebhooks(req.headers);
      const why = standard
        ? standardSignatureProblem(workspace?.hookStandardSecret ?? NOBODYS_STANDARD_SECRET, raw, req.headers)
        : signatureProblem(workspace?.hookSecret ?? NOBODYS_SECRET, raw, req.headers['x-signature']);
      if (!workspace || why) throw new HttpProblem(401, why ?? 'The signature does not match the body.');
      const webhookId = standard ? String(req.headers['webhook-id']) : null;
      if (webhookId) {
        const key = `${workspace.id}\u0000${webhookId}`;
        const kept = () => db.webhookDelivery.findUnique({ where: { workspaceId_webhookId: { workspaceId: workspace.id, webhookId } } });
        const first = answering.get(key);
        if (first) {
          const waited = await endsWithin(first, deps.wizard.stateWaitDeadline() - Date.now());
          const answer = waited ? await kept() : null;
          if (answer) return replay(reply, answer.status, answer.body);
          throw new Unavailable('This webhook-id is being answered for an earlier delivery; send it again after Retry-After to get that answer.');
        }
        // Taken before anything is awaited, then the kept answer looked up: a delivery looking it up
        // first could miss both an earlier one's answer (not yet kept as it looked) and that delivery
        // (gone from the map once its answer was kept), and offboard a second time.
        let done!: () => void;
        answering.set(key, new Promise<void>((resolve) => (done = resolve)));
        answered.set(req, () => {
          answering.delete(key);
          done();
        });
        const seen = await kept();
        if (seen) {
          release(req);
          return replay(reply, seen.status, seen.body);
        }
      }
      accepted.set(req, { workspaceId: workspace.id, webhookId });
      if (req.deferredBodyError) throw req.deferredBodyError;
      if (req.body === undefined) throw new BadInput('Send {email, employeeId?, effectiveAt?} as JSON.');
    },
    handler: async (req, reply) => {
      const workspaceId = accepted.get(req)?.workspaceId;
      if (!workspaceId) throw new HttpProblem(401, 'The signature does not match the body.');
      const { email, employeeId, effectiveAt } = req.body;
      const user = await db.user.findFirst({
        where: { workspaceId, email: { equals: email, mode: 'insensitive' } },
        orderBy: { createdAt: 'asc' },
        select: { id: true },
      });
      if (!user) throw new NotFound(`No user with email ${email} in this workspace; nothing was started.`);
      const { deletion } = await offboardUser(deps, {
        workspaceId,
        userId: user.id,
        source: 'HR',
        actor: { type: 'HR', id: employeeId ?? 'hr-hook' },
        ...(effectiveAt !== undefined ? { effectiveAt: new Date(effectiveAt) } : {}),
      });
      return reply.code(202).send({ deletionId: deletion.id });
    },
  });
}

/** Whether `work` ends within `ms` (its outcome aside). */
async function endsWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([work.then(() => true as const, () => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The kept answer again: its JSON text, or (kept before the text was) its JSON value. */
function replay(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .type(status >= 400 ? `${PROBLEM_CONTENT_TYPE}; charset=utf-8` : 'application/json; charset=utf-8')
    .serializer((b: unknown) => (typeof b === 'string' ? b : JSON.stringify(b)))
    .send(body);
}
