// Tests run against real parts: a PostgreSQL (DATABASE_URL's server, or an
// in-memory PGlite) and a real Temporal dev server, both started once per run
// by tests/global-setup.ts and handed to the tests through tests/support/env.ts.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.tsx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
    // ES-module-only dependencies of the API server (@fastify/static and
    // @fastify/swagger-ui require content-disposition 3, which is ESM): jest's
    // CommonJS runtime cannot require them untransformed (node itself can).
    '/node_modules/content-disposition/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  testMatch: ['<rootDir>/tests/**/*.test.ts', '<rootDir>/domain/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/generated/', '/.data/', '/.tools/'],
  modulePathIgnorePatterns: ['<rootDir>/.data/', '<rootDir>/.tools/', '<rootDir>/dist/'],
  globalSetup: '<rootDir>/tests/global-setup.ts',
  globalTeardown: '<rootDir>/tests/global-teardown.ts',
  testTimeout: 120_000,
  maxWorkers: 2,
};
