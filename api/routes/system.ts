// Health and the OpenAPI document.
import { Health } from '../../domain/schemas';
import type { ApiDeps } from '../deps';
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

  // The document is the same for the server's whole life: built once, when the
  // server is ready (every route registered), and served as those bytes.
  let openapi: string | undefined;
  app.addHook('onReady', async () => {
    openapi = JSON.stringify(app.swagger());
  });
  app.get('/openapi.json', {
    schema: { hide: true },
    handler: async (_req, reply) => {
      openapi ??= JSON.stringify(app.swagger());
      return reply.type('application/json; charset=utf-8').send(openapi);
    },
  });
}
