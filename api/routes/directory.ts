// api.md "Directory": users, leads, automations, integrations, labels.
// Any role of the workspace may use these (api.md restricts only the deletion routes).
import {
  Automation,
  BulkLeadsBody,
  CreateAutomationBody,
  CreatedCount,
  CreateIntegrationBody,
  CreateLabelBody,
  CreateUserBody,
  DeliveredLeads,
  IdParams,
  Integration,
  Label,
  Lead,
  LeadCount,
  LeadCountQuery,
  LeadsQuery,
  ListQuery,
  listOf,
  SourceLeadsBody,
  User,
  UsersQuery,
} from '../../domain/schemas';
import type { ApiDeps } from '../deps';
import { createUser, getUser, listUsers } from '../directory/users';
import { countLeads, createLeads, deliverLeads, listLeads } from '../directory/leads';
import { createAutomation, createIntegration, listAutomations, listIntegrations } from '../directory/routing';
import { createLabel, listLabels } from '../directory/labels';
import { requireOwnerFor } from '../auth';
import { ADMIN_ROLES } from '../../domain/rules';
import { authOf, bearer, BODY_PROBLEMS, problems, ROLE_PROBLEMS, TOKEN_PROBLEMS, type Api } from './common';

/** Any role of the workspace. */
const anyRole = { auth: 'token' as const };
/** Adding people to the workspace (possibly as OWNER) is an admin's act, not a MEMBER's. */
const admins = { auth: 'token' as const, roles: ADMIN_ROLES };

export function directoryRoutes(app: Api, deps: ApiDeps): void {
  const { prisma } = deps;

  app.get('/v1/users', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'List users in creation order',
      security: bearer,
      querystring: UsersQuery,
      response: { 200: listOf(User), ...problems(...TOKEN_PROBLEMS) },
    },
    handler: async (req) => listUsers(prisma, authOf(req).workspaceId, req.query),
  });

  app.post('/v1/users', {
    config: admins,
    schema: {
      tags: ['directory'],
      summary: 'Create a user (OWNER or ADMIN; only an OWNER creates an OWNER)',
      security: bearer,
      body: CreateUserBody,
      response: { 201: User, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, ...BODY_PROBLEMS, 409) },
    },
    // Before the schema: 403 comes before 400 (see requireOwnerFor).
    preValidation: async (req) => {
      const asked = (req.body as { role?: unknown } | null | undefined)?.role;
      requireOwnerFor(authOf(req), asked === 'OWNER' ? 'OWNER' : null, 'create a user with role OWNER');
    },
    handler: async (req, reply) => reply.code(201).send(await createUser(prisma, authOf(req).workspaceId, req.body)),
  });

  app.get('/v1/users/:id', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Read a user',
      security: bearer,
      params: IdParams,
      response: { 200: User, ...problems(...TOKEN_PROBLEMS, 404) },
    },
    handler: async (req) => getUser(prisma, authOf(req).workspaceId, req.params.id),
  });

  app.post('/v1/leads/bulk', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Create up to 10,000 leads with their owners, all or nothing',
      security: bearer,
      body: BulkLeadsBody,
      response: { 201: CreatedCount, ...problems(...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 422) },
    },
    handler: async (req, reply) => {
      const { workspaceId } = authOf(req);
      const created = await createLeads(prisma, workspaceId, req.body.leads);
      deps.wizard.leadsChanged(workspaceId, req.body.leads.map((lead) => lead.ownerId));
      return reply.code(201).send(created);
    },
  });

  app.get('/v1/leads', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'List leads in creation order, optionally of one owner',
      security: bearer,
      querystring: LeadsQuery,
      response: { 200: listOf(Lead), ...problems(...TOKEN_PROBLEMS, 404) },
    },
    handler: async (req) => listLeads(prisma, authOf(req).workspaceId, req.query),
  });

  app.get('/v1/leads/count', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Count leads, optionally of one owner',
      security: bearer,
      querystring: LeadCountQuery,
      response: { 200: LeadCount, ...problems(...TOKEN_PROBLEMS, 404) },
    },
    handler: async (req) => countLeads(prisma, authOf(req).workspaceId, req.query),
  });

  app.post('/v1/automations', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Create a workflow automation with its distribution',
      security: bearer,
      body: CreateAutomationBody,
      response: { 201: Automation, ...problems(...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await createAutomation(prisma, authOf(req).workspaceId, req.body)),
  });

  app.get('/v1/automations', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'List automations in creation order',
      security: bearer,
      querystring: ListQuery,
      response: { 200: listOf(Automation), ...problems(...TOKEN_PROBLEMS) },
    },
    handler: async (req) => listAutomations(prisma, authOf(req).workspaceId, req.query),
  });

  app.post('/v1/integrations', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Create an integration (a lead source) with its distribution',
      security: bearer,
      body: CreateIntegrationBody,
      response: { 201: Integration, ...problems(...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await createIntegration(prisma, authOf(req).workspaceId, req.body)),
  });

  app.get('/v1/integrations', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'List integrations in creation order',
      security: bearer,
      querystring: ListQuery,
      response: { 200: listOf(Integration), ...problems(...TOKEN_PROBLEMS) },
    },
    handler: async (req) => listIntegrations(prisma, authOf(req).workspaceId, req.query),
  });

  app.post('/v1/integrations/:id/leads', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Deliver new leads through an integration',
      description:
        "Each lead gets an owner from the integration's distribution, shared out by weight per request (largest " +
        'remainder). Members who are PENDING_DELETION or SUSPENDED are skipped while any other member remains.',
      security: bearer,
      params: IdParams,
      body: SourceLeadsBody,
      response: { 201: DeliveredLeads, ...problems(...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 404, 422) },
    },
    handler: async (req, reply) => {
      const { workspaceId } = authOf(req);
      const delivered = await deliverLeads(prisma, workspaceId, req.params.id, req.body.leads);
      deps.wizard.leadsChanged(workspaceId, Object.keys(delivered.owners));
      return reply.code(201).send(delivered);
    },
  });

  app.post('/v1/labels', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'Create a label',
      security: bearer,
      body: CreateLabelBody,
      response: { 201: Label, ...problems(...TOKEN_PROBLEMS, ...BODY_PROBLEMS, 422) },
    },
    handler: async (req, reply) => reply.code(201).send(await createLabel(prisma, authOf(req).workspaceId, req.body)),
  });

  app.get('/v1/labels', {
    config: anyRole,
    schema: {
      tags: ['directory'],
      summary: 'List labels in creation order',
      security: bearer,
      querystring: ListQuery,
      response: { 200: listOf(Label), ...problems(...TOKEN_PROBLEMS) },
    },
    handler: async (req) => listLabels(prisma, authOf(req).workspaceId, req.query),
  });
}
