// npm run token -- --workspace <slug> --email <email>
// Creates an API token for that user and prints it alone on the last line of
// stdout. Works whether or not the service is running (ensureDatabase reuses
// its embedded database server).
import { createApiToken } from '../infra/tokens';
import { argValue, fail, withDatabase } from './db-cli';

async function main(): Promise<void> {
  const token = await withDatabase(async (prisma) => {
    const slug = argValue('workspace');
    const email = argValue('email');
    if (!slug || !email) fail('Usage: npm run token -- --workspace <slug> --email <email>');
    const ws = await prisma.workspace.findUnique({ where: { slug } });
    if (!ws) fail(`No workspace with slug "${slug}"; check the slug (npm run seed creates "demo" and "other").`);
    const user = await prisma.user.findUnique({ where: { workspaceId_email: { workspaceId: ws.id, email } } });
    if (!user) fail(`No user with email "${email}" in workspace "${slug}"; check the email.`);
    return createApiToken(prisma, { workspaceId: ws.id, userId: user.id, label: 'cli' });
  });
  process.stdout.write(`${token}\n`);
}

void main();
