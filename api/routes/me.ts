// api.md `GET /v1/me`: who the token acts as (any role), so a client can show
// only what this role may do.
import { NotFound } from '../../domain/errors';
import { Me } from '../../domain/schemas';
import type { ApiDeps } from '../deps';
import { authOf, bearer, problems, TOKEN_PROBLEMS, type Api } from './common';

export function meRoutes(app: Api, deps: ApiDeps): void {
  const db = deps.prisma;

  app.get('/v1/me', {
    config: { auth: 'token' },
    schema: {
      tags: ['directory'],
      summary: 'Who the token acts as: the user and the workspace',
      security: bearer,
      response: { 200: Me, ...problems(...TOKEN_PROBLEMS) },
    },
    handler: async (req) => {
      const auth = authOf(req);
      const user = await db.user.findFirst({
        where: { id: auth.userId, workspaceId: auth.workspaceId },
        select: { id: true, name: true, email: true, role: true, status: true, workspace: { select: { id: true, slug: true, name: true } } },
      });
      // Authentication has just read this user; gone since means the token no longer acts as anyone.
      if (!user) throw new NotFound('The user this token acts as no longer exists.');
      const { workspace, ...me } = user;
      return { user: me, workspace };
    },
  });
}
