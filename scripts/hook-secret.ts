// npm run hook-secret -- --workspace <slug>
// Prints the workspace's HR-hook signing secret alone on the last line of stdout.
import { argValue, fail, withDatabase } from './db-cli';

async function main(): Promise<void> {
  const secret = await withDatabase(async (prisma) => {
    const slug = argValue('workspace');
    if (!slug) fail('Usage: npm run hook-secret -- --workspace <slug>');
    const ws = await prisma.workspace.findUnique({ where: { slug }, select: { hookSecret: true } });
    if (!ws) fail(`No workspace with slug "${slug}"; check the slug (npm run seed creates "demo" and "other").`);
    return ws.hookSecret;
  });
  process.stdout.write(`${secret}\n`);
}

void main();
