// npm run hook-secret -- --workspace <slug> [--standard]
// Prints the workspace's HR-hook signing secret alone on the last line of
// stdout: the X-Signature secret, or with --standard the Standard Webhooks
// `whsec_…` secret (made on first use, then the same every time).
import { newStandardSecret } from '../api/hook-signature';
import { argValue, fail, withDatabase } from './db-cli';

async function main(): Promise<void> {
  const standard = process.argv.includes('--standard');
  const secret = await withDatabase(async (prisma) => {
    const slug = argValue('workspace');
    if (!slug) fail('Usage: npm run hook-secret -- --workspace <slug> [--standard]');
    const ws = await prisma.workspace.findUnique({ where: { slug }, select: { id: true, hookSecret: true } });
    if (!ws) fail(`No workspace with slug "${slug}"; check the slug (npm run seed creates "demo" and "other").`);
    if (!standard) return ws.hookSecret;
    // Only set when still empty, so two runs at once print the same secret.
    await prisma.workspace.updateMany({ where: { id: ws.id, hookStandardSecret: null }, data: { hookStandardSecret: newStandardSecret() } });
    const row = await prisma.workspace.findUniqueOrThrow({ where: { id: ws.id }, select: { hookStandardSecret: true } });
    return row.hookStandardSecret!;
  });
  process.stdout.write(`${secret}\n`);
}

void main();
