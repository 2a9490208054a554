// npm run scim-token -- --workspace <slug>
// Makes a SCIM token for the workspace's identity provider (Okta, Entra ID,
// ...) and prints it alone on the last line of stdout. It is shown once: only
// its hash is stored. It works on /scim/v2 only.
import { createScimToken } from '../api/scim/auth';
import { argValue, fail, withDatabase } from './db-cli';

async function main(): Promise<void> {
  const token = await withDatabase(async (prisma) => {
    const slug = argValue('workspace');
    if (!slug) fail('Usage: npm run scim-token -- --workspace <slug>');
    const ws = await prisma.workspace.findUnique({ where: { slug }, select: { id: true } });
    if (!ws) fail(`No workspace with slug "${slug}"; check the slug (npm run seed creates "demo" and "other").`);
    return createScimToken(prisma, ws.id, 'cli');
  });
  process.stdout.write(`${token}\n`);
}

void main();
