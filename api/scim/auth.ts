// SCIM bearer tokens: one identity provider per token, acting on one
// workspace's /scim/v2 only. Stored as sha256 like user tokens (infra/tokens.ts)
// but in their own table, so a SCIM token is no key to /v1 and a user token no
// key to /scim/v2: each side looks only in its own table.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { PrismaClient } from '../../generated/prisma/client';
import { hashToken } from '../../infra/tokens';
import { bearerToken, SEVERAL_AUTHORIZATIONS } from '../auth';
import { ScimProblem } from './errors';

export const SCIM_TOKEN_PREFIX = 'crm_scim_';

export interface ScimAuth {
  workspaceId: string;
  tokenId: string;
}

/** Makes a SCIM token for a workspace; returns the plaintext (not stored). */
export async function createScimToken(prisma: PrismaClient, workspaceId: string, label = 'scim'): Promise<string> {
  const token = SCIM_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  await prisma.scimToken.create({ data: { workspaceId, tokenHash: hashToken(token), label } });
  return token;
}

export async function authenticateScim(prisma: PrismaClient, header: string | string[] | undefined): Promise<ScimAuth> {
  if (Array.isArray(header)) throw new ScimProblem(401, SEVERAL_AUTHORIZATIONS);
  const token = bearerToken(header);
  if (!token) throw new ScimProblem(401, 'Send the SCIM token as "Authorization: Bearer <token>".');
  const hash = hashToken(token);
  const row = await prisma.scimToken.findUnique({ where: { tokenHash: hash }, select: { id: true, tokenHash: true, workspaceId: true } });
  const expected = Buffer.from(row?.tokenHash ?? '0'.repeat(64), 'hex');
  const given = Buffer.from(hash, 'hex');
  if (!row || !(expected.length === given.length && timingSafeEqual(expected, given))) {
    throw new ScimProblem(401, 'The SCIM token is not valid.');
  }
  return { workspaceId: row.workspaceId, tokenId: row.id };
}
