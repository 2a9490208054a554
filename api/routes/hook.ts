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
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { offboardUser } from '../../client/offboarding';
import { BadInput, NotFound, Unavailable } from '../../domain/errors';
import { HookAccepted, HookBody, HookParams, Problem } from '../../domain/schemas';
import { newStandardSecret, signatureProblem, standardSignatureProblem, usesStandardWebhooks } from '../hook-signature';
import { HttpProblem, PROBLEM_CONTENT_TYPE } from '../problems';
import type { ApiDeps } from '../deps';
import { BODY_LIMIT } from '../deps';
import { problems, type Api } from './common';
import { emailIs, plausibleId } from '../directory/common';
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
  /**
   * Deliveries holding their webhook-id's row as a claim (status null): how
   * another API process learns that the id is being answered. The claim
   * becomes the kept answer, or goes when the answer is not kept.
   */
  const claims = new WeakMap<FastifyRequest, Claim>();
  const release = (req: FastifyRequest) => {
    answered.get(req)?.();
    answered.delete(req);
  };
  /**
   * Lets go of a claim whose answer was not kept (a 503, a 401): a retry is
   * then read anew. Only this delivery's own claim (fenced by its id): one
   * that lapsed and was taken over is the other's.
   */
  const dropClaim = async (req: FastifyRequest) => {
    const claim = claims.get(req);
    if (!claim) return;
    claims.delete(req);
    await db.$executeRaw`
      DELETE FROM webhook_deliveries
      WHERE workspace_id = ${claim.workspaceId} AND webhook_id = ${claim.webhookId} AND status IS NULL AND body = to_jsonb(${claim.id}::text)`.catch(
      (err: unknown) => req.log.warn({ err }, 'the claim on a webhook-id was not let go; it lapses by itself'),
    );
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
    const claim = claims.get(req);
    // The claim ends with the answer, however the client fares: it becomes the answer, or goes.
    if (claim && replayable(reply.statusCode) && typeof payload === 'string' && isJson(payload)) {
      // Kept as the JSON text that was sent (a jsonb string): a refusal may name
      // a field with a NUL or a lone surrogate, which jsonb cannot hold as an
      // object, and the database must never be the one to refuse a value.
      // Only into this delivery's own claim (a claim lapsed and taken over meanwhile is the other's).
      await db.$executeRaw`
        UPDATE webhook_deliveries SET status = ${reply.statusCode}, body = to_jsonb(${payload}::text)
        WHERE workspace_id = ${claim.workspaceId} AND webhook_id = ${claim.webhookId} AND status IS NULL AND body = to_jsonb(${claim.id}::text)`.then(
        () => claims.delete(req),
        (err: unknown) => req.log.warn({ err }, 'the answer to a webhook-id was not kept'),
      );
    }
    await dropClaim(req);
    release(req);
    return payload;
  });
  // A request that ended without an answer sent: the next delivery of its id goes on.
  app.addHook('onResponse', async (req) => {
    await dropClaim(req);
    release(req);
  });
  // The client gone before its request was whole: it never reached its claim. (One gone later is
  // answered all the same, and onSend ends its claim.)
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
        'the workspace `whsec_` secret; a webhook-id seen before gets the same answer again). The body is JSON, sent as ' +
        'application/json or any application/<name>+json. A bad or missing ' +
        'signature, a timestamp more than 5 minutes off, or an unknown workspace answers 401, alike. The offboarding ' +
        "joins the user's open wizard, else starts a new one (never a cancelled one, nor one that removed an earlier " +
        'user with the same email). An email matching no user answers 404 and starts nothing. `effectiveAt` in the ' +
        'future keeps the user SUSPENDED until then. A user who holds more than one wizard can carry gets 422 and no ' +
        'wizard; unless `effectiveAt` is in the future, they are SUSPENDED meanwhile (the 422 says so).',
      // Either scheme (api.md): X-Signature, or Standard Webhooks.
      security: [{ hookSignature: [] as string[] }, { standardWebhooks: [] as string[] }],
      // What JSON_TYPE reads as JSON (a charset other than UTF-8 is 415).
      consumes: ['application/json', 'application/*+json'],
      params: HookParams,
      headers: HookHeaders,
      body: HookBody,
      response: {
        202: HookAccepted,
        ...problems(400, 401, 404, 413, 415, 422, 503),
        // A refused signature, not a bearer challenge: no WWW-Authenticate.
        401: {
          description: 'A bad or missing signature, a timestamp more than 5 minutes off, or an unknown workspace (alike).',
          content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
        },
      },
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
        const at = { workspaceId: workspace.id, webhookId };
        const kept = async () => {
          const row = await db.webhookDelivery.findUnique({ where: { workspaceId_webhookId: at } });
          return row && row.status !== null ? { status: row.status, body: row.body } : null;
        };
        const busy = 'This webhook-id is being answered for an earlier delivery; send it again after Retry-After to get that answer.';
        const first = answering.get(key);
        if (first) {
          const waited = await endsWithin(first, deps.wizard.stateWaitDeadline() - Date.now());
          const answer = waited ? await kept() : null;
          if (answer) return replay(reply, answer.status, answer.body);
          throw new Unavailable(busy);
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
        // The same across API processes: the id's row, claimed (status null) in one statement, or found.
        const claimed = await claimWebhookId(db, at);
        if (claimed === null) {
          const answer = await keptElsewhere(kept, () => claimLapsed(db, at), deps.wizard.stateWaitDeadline());
          release(req);
          if (answer) return replay(reply, answer.status, answer.body);
          throw new Unavailable(busy);
        }
        claims.set(req, { ...at, id: claimed });
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
        where: { workspaceId, email: emailIs(email) },
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

/** A claim older than this was left by a process that died while answering (a request lives ~10 s): it is taken over. */
const CLAIM_LAPSES_MS = 60_000;
/** How often a delivery waiting on another process's answer looks for it. */
const KEPT_POLL_MS = 100;

/** A delivery's claim on its webhook-id's row: the row's key, and the claim's own id (its fence, held in `body` meanwhile). */
interface Claim {
  workspaceId: string;
  webhookId: string;
  id: string;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Claims the webhook-id's row for this delivery: the claim's id when it
 * inserted the claim, or took over one that lapsed; null when the row is
 * another delivery's claim or its kept answer.
 */
async function claimWebhookId(db: ApiDeps['prisma'], at: { workspaceId: string; webhookId: string }): Promise<string | null> {
  const id = randomUUID();
  const rows = await db.$queryRaw<unknown[]>`
    INSERT INTO webhook_deliveries (workspace_id, webhook_id, status, body, created_at)
    VALUES (${at.workspaceId}, ${at.webhookId}, NULL, to_jsonb(${id}::text), now())
    ON CONFLICT (workspace_id, webhook_id) DO UPDATE SET created_at = now(), body = EXCLUDED.body
      WHERE webhook_deliveries.status IS NULL
        AND webhook_deliveries.created_at < now() - make_interval(secs => ${CLAIM_LAPSES_MS / 1000})
    RETURNING 1`;
  return rows.length === 1 ? id : null;
}

/** Whether the webhook-id's row is gone, or is a claim that lapsed: its delivery's answer will never come. */
async function claimLapsed(db: ApiDeps['prisma'], at: { workspaceId: string; webhookId: string }): Promise<boolean> {
  const rows = await db.$queryRaw<unknown[]>`
    SELECT 1 FROM webhook_deliveries
    WHERE workspace_id = ${at.workspaceId} AND webhook_id = ${at.webhookId}
      AND (status IS NOT NULL OR created_at >= now() - make_interval(secs => ${CLAIM_LAPSES_MS / 1000}))`;
  return rows.length === 0;
}

/**
 * The answer another delivery of the id (another API process) keeps, looked
 * for until `deadline`; null when it is not kept by then, or never will be
 * (its claim let go or lapsed): the caller answers 503, to be sent again.
 */
async function keptElsewhere<T>(kept: () => Promise<T | null>, lapsed: () => Promise<boolean>, deadline: number): Promise<T | null> {
  for (;;) {
    const answer = await kept();
    if (answer) return answer;
    if (Date.now() + KEPT_POLL_MS > deadline || (await lapsed())) return null;
    await new Promise((resolve) => setTimeout(resolve, KEPT_POLL_MS));
  }
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
