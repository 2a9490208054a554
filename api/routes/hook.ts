// api.md "HR offboarding hook": an HR system offboards an employee.
//
// Refusal order: the signature is checked over the RAW bytes first (401, also
// for an unknown workspace slug, so the hook tells an unsigned caller nothing,
// not even which workspaces exist); only then is the body looked at (400),
// then the email (404). Idempotent per employee (HrOffboarding): the same
// employee again gets the same deletion back, even after it finished.
import type { FastifyRequest } from 'fastify';
import { BadInput, NotFound } from '../../domain/errors';
import { HookAccepted, HookBody, HookParams } from '../../domain/schemas';
import { refuseNul } from '../body';
import { signatureProblem } from '../hook-signature';
import { HttpProblem } from '../problems';
import type { ApiDeps } from '../server';
import { BODY_LIMIT } from '../server';
import { problems, type Api } from './common';
import { plausibleId } from '../directory/common';

const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\s*(?:;|$)/i;

export function hookRoutes(app: Api, deps: ApiDeps): void {
  const db = deps.prisma;
  const workspaceOf = new WeakMap<FastifyRequest, string>();

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
    parseJson(req, raw.toString('utf8'), (err, value) => {
      if (err) req.deferredBodyError = new BadInput('The body is not valid JSON.');
      done(null, err ? undefined : value);
    });
  });

  app.post('/v1/hooks/:workspaceSlug/offboarding', {
    config: { auth: 'hook' },
    schema: {
      tags: ['hooks'],
      summary: 'HR offboarding: start deleting the user with this email',
      description:
        'Signed with `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under the workspace hook ' +
        'secret; a bad or missing signature, a `t` more than 5 minutes off, or an unknown workspace answers 401. ' +
        'The same employee (employeeId, else the email) twice gives the same deletion. An email matching no user ' +
        'answers 404 and starts nothing. `effectiveAt` in the future keeps the user SUSPENDED until then.',
      security: [{ hookSignature: [] as string[] }],
      params: HookParams,
      body: HookBody,
      response: { 202: HookAccepted, ...problems(400, 401, 404, 413, 415, 422) },
    },
    preValidation: async (req) => {
      const { workspaceSlug } = req.params as { workspaceSlug: string };
      const workspace = plausibleId(workspaceSlug)
        ? await db.workspace.findUnique({ where: { slug: workspaceSlug }, select: { id: true, hookSecret: true } })
        : null;
      // An unknown workspace is refused exactly like a bad signature.
      const why = workspace
        ? signatureProblem(workspace.hookSecret, req.rawBody ?? Buffer.alloc(0), req.headers['x-signature'])
        : 'The signature does not match the body.';
      if (!workspace || why) throw new HttpProblem(401, why ?? 'The signature does not match the body.');
      workspaceOf.set(req, workspace.id);
      if (req.deferredBodyError) throw req.deferredBodyError;
      if (req.body === undefined) throw new BadInput('Send {email, employeeId?, effectiveAt?} as JSON.');
      refuseNul(req.body);
    },
    handler: async (req, reply) => {
      const workspaceId = workspaceOf.get(req);
      if (!workspaceId) throw new HttpProblem(401, 'The signature does not match the body.');
      const { email, employeeId, effectiveAt } = req.body;
      const employeeKey = employeeId ?? `email:${email}`;

      const before = await db.hrOffboarding.findUnique({
        where: { workspaceId_employeeKey: { workspaceId, employeeKey } },
        select: { deletionId: true },
      });
      if (before) return reply.code(202).send({ deletionId: before.deletionId });

      const user = await db.user.findFirst({
        where: { workspaceId, email: { equals: email, mode: 'insensitive' } },
        orderBy: { createdAt: 'asc' },
        select: { id: true },
      });
      if (!user) throw new NotFound(`No user with email ${email} in this workspace; nothing was started.`);

      const { deletion } = await deps.wizard.start({
        workspaceId,
        userId: user.id,
        actor: { type: 'HR', id: employeeId ?? 'hr-hook' },
        source: 'HR',
        ...(effectiveAt !== undefined ? { effectiveAt: new Date(effectiveAt) } : {}),
      });
      // Two deliveries of the same request at once: both got the same open
      // wizard from `start`; whichever row lands first is the answer.
      await db.hrOffboarding.createMany({
        data: [{ workspaceId, employeeKey, deletionId: deletion.id }],
        skipDuplicates: true,
      });
      const row = await db.hrOffboarding.findUniqueOrThrow({
        where: { workspaceId_employeeKey: { workspaceId, employeeKey } },
        select: { deletionId: true },
      });
      return reply.code(202).send({ deletionId: row.deletionId });
    },
  });
}
