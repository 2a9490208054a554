// API tokens: the plaintext is shown once; only its sha256 is stored.
import crypto from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client';

export const TOKEN_PREFIX = 'crm_';

/** sha256 of the plaintext token, hex: what api_tokens.token_hash holds. */
export function hashToken(plaintext: string): string {
  return crypto.createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

/** A new plaintext token: `crm_` + 32 random bytes in base64url (43 characters). */
export function newToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
}

/** Creates an API token for a user of a workspace; returns the plaintext (not stored). */
export async function createApiToken(
  prisma: PrismaClient,
  args: { workspaceId: string; userId: string; label?: string },
): Promise<string> {
  const token = newToken();
  await prisma.apiToken.create({
    data: { workspaceId: args.workspaceId, userId: args.userId, tokenHash: hashToken(token), label: args.label ?? null },
  });
  return token;
}
