// api.md `GET /v1/users/{userId}/deletion-preview`: what the deletion wizard
// would show and why starting it would be refused now, changing nothing.
// A deletion route: OWNER or ADMIN (a MEMBER gets 403).
import { notInWorkspace } from '../../domain/errors';
import { DELETION_ROLES } from '../../domain/rules';
import { DeletionPreview, UserIdParams } from '../../domain/schemas';
import { deletionPreview } from '../../activities/wizard-contents';
import { plausibleId } from '../directory/common';
import type { ApiDeps } from '../deps';
import { authOf, bearer, problems, ROLE_PROBLEMS, TOKEN_PROBLEMS, type Api } from './common';

const admins = { auth: 'token' as const, roles: DELETION_ROLES };

export function previewRoutes(app: Api, deps: ApiDeps): void {
  app.get('/v1/users/:userId/deletion-preview', {
    config: admins,
    schema: {
      tags: ['deletions'],
      summary: 'Preview deleting a user: what the wizard would show, and any reason it would be refused (changes nothing)',
      security: bearer,
      params: UserIdParams,
      response: { 200: DeletionPreview, ...problems(...TOKEN_PROBLEMS, ...ROLE_PROBLEMS, 404) },
    },
    handler: async (req) => {
      const auth = authOf(req);
      const userId = req.params.userId;
      if (!plausibleId(userId)) throw notInWorkspace('User', userId);
      return deletionPreview(deps.prisma, {
        workspaceId: auth.workspaceId,
        userId,
        actor: { userId: auth.userId, role: auth.role },
      });
    },
  });
}
