// Prisma CLI configuration (Prisma 7 reads the datasource URL from here).
// Only `prisma generate` is run through the CLI: migrations are applied by
// scripts/db-migrate.ts with the wasm schema engine (see README, "Database").
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
