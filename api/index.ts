// The API's public surface: `startApi` (the whole component), `buildServer`
// (the Fastify instance over injected parts) and the helpers scripts and
// tests need (tokens, hook signatures, health).
export { buildServer, startApi, type RunningApi } from './server';
export { BODY_LIMIT, type ApiDeps } from './deps';
export { makeHealthCheck, type HealthCheck } from './health';
export { createApiToken, hashToken } from '../infra/tokens';
export { signHookBody } from './hook-signature';
