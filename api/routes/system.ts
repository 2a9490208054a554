// Health and the OpenAPI document.
import { Health } from '../../domain/schemas';
import type { ApiDeps } from '../server';
import type { Api } from './common';

export function systemRoutes(app: Api, deps: ApiDeps): void {
  app.get('/v1/health', {
    schema: {
      tags: ['system'],
      summary: 'Is the service able to work? (no token needed)',
      response: { 200: Health, 503: Health },
    },
    handler: async (req, reply) => {
      let database = false;
      let temporal = false;
      try {
        ({ database, temporal } = await deps.health());
      } catch (err) {
        req.log.warn({ err }, 'health check failed');
      }
      const body: Health = {
        status: database && temporal ? 'ok' : 'unavailable',
        database: database ? 'ok' : 'down',
        temporal: temporal ? 'ok' : 'down',
      };
      return reply.code(body.status === 'ok' ? 200 : 503).send(body);
    },
  });

  app.get('/openapi.json', {
    schema: { hide: true },
    handler: async () => app.swagger(),
  });
}
