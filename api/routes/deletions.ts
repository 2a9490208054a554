// api.md "The deletion wizard": thin HTTP over the WizardApi (client/types.ts).
// Every route needs role OWNER or ADMIN; a MEMBER gets 403. Starting,
// stepping, confirming or retrying the deletion of an OWNER needs an OWNER: that 403
// is decided before the body is read (`preParsing`; see requireOwnerFor).
// A call that waits on the wizard answers 503 (Retry-After) after 10 s.
import type { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { WizardApi } from '../../client/types';
import { DELETION_ROLES, mayActOnRole, stepBodyProblem } from '../../domain/rules';
import {
  AuditEvent,
  AutomationsStepBody,
  CancelBody,
  ConfirmBody,
  Deletion,
  DeletionsQuery,
  IdParams,
  IntegrationsStepBody,
  LabelsStepBody,
  LeadsStepBody,
  ListQuery,
  listOf,
  RetryBody,
  StartDeletionBody,
  UserIdParams,
  type Actor,
} from '../../domain/schemas';
import { notInWorkspace } from '../../domain/errors';
import { refusalAsError } from '../../domain/refusal';
import { plausibleId, roleOf } from '../directory/common';
import { requireOwnerFor } from '../auth';
import type { ApiDeps } from '../deps';
import { authOf, bearer, BODY_PROBLEMS, problems, ROLE_PROBLEMS, TOKEN_PROBLEMS, type Api } from './common';
import { jsonBytes, STEP_BODY_MAX_BYTES, stepBodySizeProblem } from '../../domain/wizard-size';

/** Problems of a route that waits on the wizard: 503 when it does not answer in time. */
const WAITS = 503;

const admins = { auth: 'token' as const, roles: DELETION_ROLES };

function actorOf(req: FastifyRequest): Actor {
  return { type: 'USER', id: authOf(req).userId };
}

/** A path id that cannot exist never reaches the wizard. */
function deletionId(id: string): string {
  if (!plausibleId(id)) throw notInWorkspace('Deletion', id);
  return id;
}

type PreParsing = (req: FastifyRequest, reply: unknown, payload: unknown) => Promise<unknown>;

/**
 * A wizard step's route (`POST /v1/deletions/{id}/<path>`): the steps differ
 * only in what is below; auth, roles, the OWNER-only check, params and
 * problems are the same for all.
 */
interface StepRoute<Body extends z.ZodType> {
  path: string;
  summary: string;
  description?: string;
  body: Body;
  /** 202 where the step starts work that goes on after the answer (the lead move; the removal). */
  status: 200 | 202;
  /** The body may be left out (read as `{}`). */
  optionalBody?: boolean;
  /** Problems besides the token's and 503; default a step's: 404, 409, 422. */
  refusals?: readonly number[];
  /** Steps whose body may be too big to hand to the wizard (lists of overrides or replacements). */
  listStep?: 'AUTOMATIONS' | 'INTEGRATIONS' | 'LABELS';
  /** The WizardApi call that applies the step. */
  submit(
    wizard: WizardApi,
    ...args: [workspaceId: string, deletionId: string, actor: Actor, body: z.output<Body>]
  ): Promise<Deletion>;
}

/**
 * A step body too big to hand to the wizard gets the answer the wizard would
 * give, decided from its view by the same rules (domain `stepBodyProblem`):
 * 409 at another step (or finished), 422 for an item not in the step, named
 * twice, or a distribution the rules refuse; a body they all accept is 422
 * all the same, as more than one wizard can carry (`stepBodySizeProblem`).
 */
async function refuseUnsendable(
  wizard: WizardApi,
  workspaceId: string,
  id: string,
  step: 'AUTOMATIONS' | 'INTEGRATIONS' | 'LABELS',
  body: AutomationsStepBody | IntegrationsStepBody | LabelsStepBody,
  bytes: number,
): Promise<never> {
  const problem = stepBodyProblem(await wizard.get(workspaceId, id), step, body) ?? stepBodySizeProblem(bytes);
  // (Only a body over the limit comes here, so a problem there is.)
  throw refusalAsError(problem ?? { kind: 'RuleViolation', message: 'The body is more than one wizard can carry.' });
}

/** What registers a step's route on `app`. */
function stepRoute<Body extends z.ZodType>(route: StepRoute<Body>) {
  return (app: Api, wizard: WizardApi, ownerOnlyStep: PreParsing): void => {
    app.post(`/v1/deletions/:id/${route.path}`, {
      config: route.optionalBody ? { ...admins, optionalBody: true } : admins,
      schema: {
        tags: ['deletions'],
        summary: route.summary,
        ...(route.description !== undefined ? { description: route.description } : {}),
        security: bearer,
        params: IdParams,
        body: route.optionalBody ? route.body.optional() : route.body,
        response: { [route.status]: Deletion, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, ...BODY_PROBLEMS, ...(route.refusals ?? [404, 409, 422]), WAITS) },
      },
      preParsing: ownerOnlyStep,
      handler: async (req, reply) => {
        // Validated against `route.body`; the type provider cannot resolve a generic schema's type.
        const body = req.body as z.output<Body>;
        const { workspaceId } = authOf(req);
        const id = deletionId(req.params.id);
        const bytes = route.listStep ? jsonBytes(body) : 0;
        if (route.listStep && bytes > STEP_BODY_MAX_BYTES) {
          await refuseUnsendable(wizard, workspaceId, id, route.listStep, body as AutomationsStepBody | IntegrationsStepBody | LabelsStepBody, bytes);
        }
        const deletion = await route.submit(wizard, workspaceId, id, actorOf(req), body);
        return reply.code(route.status).send(deletion);
      },
    });
  };
}

/** The wizard's steps in order, then retry (also their order in the OpenAPI document). */
const STEP_ROUTES = [
  stepRoute({
    path: 'leads',
    summary: 'Step 1: move the user’s leads to one user or a distribution (the move starts)',
    body: LeadsStepBody,
    status: 202,
    submit: (wizard, ...args) => wizard.submitLeads(...args),
  }),
  stepRoute({
    path: 'automations',
    summary: 'Step 2: workflow automations (unnamed ones keep their suggestion)',
    body: AutomationsStepBody,
    status: 200,
    listStep: 'AUTOMATIONS',
    submit: (wizard, ...args) => wizard.submitAutomations(...args),
  }),
  stepRoute({
    path: 'integrations',
    summary: 'Step 3: integrations (unnamed ones keep their suggestion)',
    body: IntegrationsStepBody,
    status: 200,
    listStep: 'INTEGRATIONS',
    submit: (wizard, ...args) => wizard.submitIntegrations(...args),
  }),
  stepRoute({
    path: 'labels',
    summary: 'Step 4: labels (unnamed ones lose the user with no replacement)',
    body: LabelsStepBody,
    status: 200,
    listStep: 'LABELS',
    submit: (wizard, ...args) => wizard.submitLabels(...args),
  }),
  stepRoute({
    path: 'confirm',
    summary: 'Confirm with exactly "CONFIRM": final sweep, then the user is removed',
    body: ConfirmBody,
    status: 202,
    submit: (wizard, ...args) => wizard.confirm(...args),
  }),
  stepRoute({
    path: 'retry',
    summary: 'Try again the background work the database refused (the wizard shows `attention`)',
    description: '409 when nothing waits to be tried again (`attention` is null). The work goes on in the background; `attention` is cleared once it goes through.',
    body: RetryBody,
    optionalBody: true,
    status: 200,
    refusals: [404, 409],
    submit: (wizard, workspaceId, deletionId) => wizard.retry(workspaceId, deletionId),
  }),
];

export function deletionRoutes(app: Api, deps: ApiDeps): void {
  const { wizard, prisma } = deps;

  /** 403 for a non-OWNER starting the deletion of the OWNER in `:userId`; any body passes through unread. */
  const ownerOnlyStart: PreParsing = async (req, _reply, payload) => {
    const auth = authOf(req);
    if (!mayActOnRole(auth.role, 'OWNER')) {
      const { userId } = req.params as { userId: string };
      requireOwnerFor(auth, await roleOf(prisma, auth.workspaceId, userId), 'start deleting an OWNER');
    }
    return payload;
  };
  /** 403 for a non-OWNER stepping or confirming the wizard (`:id`) of an OWNER. */
  const ownerOnlyStep: PreParsing = async (req, _reply, payload) => {
    const auth = authOf(req);
    if (!mayActOnRole(auth.role, 'OWNER')) {
      const { id } = req.params as { id: string };
      const deletion = plausibleId(id)
        ? await prisma.deletion.findFirst({ where: { id, workspaceId: auth.workspaceId }, select: { userId: true } })
        : null;
      const role = deletion ? await roleOf(prisma, auth.workspaceId, deletion.userId) : null;
      requireOwnerFor(auth, role, "step, confirm or retry an OWNER's deletion");
    }
    return payload;
  };

  app.post('/v1/users/:userId/deletion', {
    config: { ...admins, optionalBody: true },
    schema: {
      tags: ['deletions'],
      summary: 'Start deleting a user (opens the wizard)',
      description: '201 with a new wizard; 200 with the open one if the user already has one, whatever the (valid) body.',
      security: bearer,
      params: UserIdParams,
      body: StartDeletionBody.optional(),
      response: { 200: Deletion, 201: Deletion, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, ...BODY_PROBLEMS, 404, 422, WAITS) },
    },
    preParsing: ownerOnlyStart,
    handler: async (req, reply) => {
      const auth = authOf(req);
      const userId = req.params.userId;
      if (!plausibleId(userId)) throw notInWorkspace('User', userId);
      const { deletion, created } = await wizard.start({
        workspaceId: auth.workspaceId,
        userId,
        actor: actorOf(req),
        source: 'ADMIN',
        ...(req.body?.reason !== undefined ? { reason: req.body.reason } : {}),
      });
      return reply.code(created ? 201 : 200).send(deletion);
    },
  });

  app.get('/v1/deletions', {
    config: admins,
    schema: {
      tags: ['deletions'],
      summary: 'List deletions, newest first',
      security: bearer,
      querystring: DeletionsQuery,
      response: { 200: listOf(Deletion), ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS) },
    },
    handler: async (req) => {
      const { status, limit, cursor } = req.query;
      return wizard.list(authOf(req).workspaceId, {
        limit,
        ...(status !== undefined ? { status } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      });
    },
  });

  app.get('/v1/deletions/:id', {
    config: { ...admins, read: 'deletion' },
    schema: {
      tags: ['deletions'],
      summary: 'Read a deletion wizard',
      security: bearer,
      params: IdParams,
      response: { 200: Deletion, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, 404) },
    },
    handler: async (req) => {
      const id = deletionId(req.params.id);
      // Read with the token, in one statement (onRequest, `read: 'deletion'`).
      if (req.deletionRead === undefined) return wizard.get(authOf(req).workspaceId, id);
      if (req.deletionRead === null) throw notInWorkspace('Deletion', id);
      return req.deletionRead();
    },
  });

  for (const registerStep of STEP_ROUTES) registerStep(app, wizard, ownerOnlyStep);

  app.post('/v1/deletions/:id/cancel', {
    config: { ...admins, optionalBody: true },
    schema: {
      tags: ['deletions'],
      summary: 'Cancel the wizard (what moved stays moved; the user is ACTIVE again)',
      description:
        'Sent while a step is being applied or the wizard is still opening, it waits for that, is checked again, ' +
        'and cancels (503 past 10 s: read the wizard to see whether it applied). 409 when the deletion is confirmed ' +
        '(also a confirm applied while the cancel waited), being cancelled, finished, or another cancel already waits.',
      security: bearer,
      params: IdParams,
      body: CancelBody.optional(),
      response: { 200: Deletion, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, ...BODY_PROBLEMS, 404, 409, WAITS) },
    },
    handler: async (req) =>
      wizard.cancel(authOf(req).workspaceId, deletionId(req.params.id), actorOf(req), req.body ?? {}),
  });

  app.get('/v1/deletions/:id/audit', {
    config: admins,
    schema: {
      tags: ['deletions'],
      summary: 'The audit trail of a deletion',
      security: bearer,
      params: IdParams,
      querystring: ListQuery,
      response: { 200: listOf(AuditEvent), ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, 404) },
    },
    handler: async (req) => {
      const { limit, cursor } = req.query;
      return wizard.audit(authOf(req).workspaceId, deletionId(req.params.id), {
        limit,
        ...(cursor !== undefined ? { cursor } : {}),
      });
    },
  });
}
