// Health and the OpenAPI document.
import { z } from 'zod';
import { Health, Problem } from '../../domain/schemas';
import { PROBLEM_CONTENT_TYPE } from '../problems';
import type { ApiDeps } from '../deps';
import type { Api } from './common';

export function systemRoutes(app: Api, deps: ApiDeps): void {
  app.get('/v1/health', {
    schema: {
      tags: ['system'],
      summary: 'Is the service able to work? (no token needed)',
      response: {
        200: Health,
        503: Health,
        // Whatever query a prober adds is answered, but one that is not well-formed percent-encoded UTF-8 is 400 (server.ts queryIssues).
        400: {
          description: 'A query parameter whose name or value is not well-formed percent-encoded UTF-8.',
          content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } },
        },
      },
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
    schema: {
      tags: ['system'],
      summary: 'This OpenAPI document (no token needed)',
      response: {
        200: {
          description: 'The OpenAPI 3.0.3 document of this server, the same bytes for its whole life.',
          content: {
            'application/json': {
              // Sent as the JSON text made once (below), which no serializer touches: typed `unknown` so that text passes.
              schema: z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.looseObject({})) }) as z.ZodType<unknown>,
            },
          },
        },
        // No query: any parameter is 400 (server.ts).
        400: { description: 'A query parameter: this route takes none.', content: { [PROBLEM_CONTENT_TYPE]: { schema: Problem } } },
      },
    },
    handler: async (_req, reply) => {
      openapi ??= JSON.stringify(app.swagger());
      return reply.type('application/json; charset=utf-8').send(openapi);
    },
  });
}
