// API tokens (only the hash is stored) and the demo seed (idempotent, the
// shapes the wizard needs), on a fresh migrated database of this file's own.
import { createPrisma } from '../../infra/database';
import { migrate } from '../../infra/migrate';
import { createApiToken, hashToken, newToken } from '../../infra/tokens';
import { seedBook, seedDemo } from '../../scripts/seed';
import type { PrismaClient } from '../../generated/prisma/client';
import { freshDatabase, type FreshDatabase } from './helpers';

let db: FreshDatabase;
let prisma: PrismaClient;
beforeAll(async () => {
  db = await freshDatabase('PGlite');
  await migrate(db.url);
  prisma = createPrisma(db.url, { max: 2 });
});
afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
});

describe('tokens', () => {
  test('hashToken is the hex sha256 of the plaintext', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashToken('crm_x')).toMatch(/^[0-9a-f]{64}$/);
  });

  test('newToken is crm_ and 32 random bytes in base64url, different every time', () => {
    const tokens = Array.from({ length: 200 }, () => newToken());
    for (const t of tokens) {
      expect(t).toMatch(/^crm_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t.slice(4), 'base64url')).toHaveLength(32);
    }
    expect(new Set(tokens).size).toBe(200);
  });
});

describe('seedDemo', () => {
  let first: { created: boolean };
  beforeAll(async () => {
    first = await seedDemo(prisma);
  });

  test('creates two workspaces with an owner, an admin and five members each', async () => {
    expect(first).toEqual({ created: true });
    const workspaces = await prisma.workspace.findMany({ orderBy: { slug: 'asc' }, include: { users: { orderBy: { email: 'asc' } } } });
    expect(workspaces.map((w) => w.slug)).toEqual(['demo', 'other']);
    for (const ws of workspaces) {
      expect(ws.users.map((u) => [u.email, u.role, u.status])).toEqual([
        [`admin@${ws.slug}.test`, 'ADMIN', 'ACTIVE'],
        ...[1, 2, 3, 4, 5].map((i) => [`member${i}@${ws.slug}.test`, 'MEMBER', 'ACTIVE']),
        [`owner@${ws.slug}.test`, 'OWNER', 'ACTIVE'],
      ]);
      expect(ws.hookSecret).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(workspaces[0]!.hookSecret).not.toBe(workspaces[1]!.hookSecret);
  });

  test('spreads 10,000 leads over every user, each lead owned by a user of its own workspace', async () => {
    expect(await prisma.lead.count()).toBe(10_000);
    for (const ws of await prisma.workspace.findMany({ include: { users: true } })) {
      const perOwner = await prisma.lead.groupBy({ by: ['ownerId'], where: { workspaceId: ws.id }, _count: { _all: true } });
      expect(perOwner).toHaveLength(7);
      expect(perOwner.reduce((n, g) => n + g._count._all, 0)).toBe(5_000);
      const ids = new Set(ws.users.map((u) => u.id));
      for (const g of perOwner) expect(ids.has(g.ownerId)).toBe(true);
      const member1 = ws.users.find((u) => u.email.startsWith('member1@'))!;
      expect(perOwner.find((g) => g.ownerId === member1.id)!._count._all).toBe(1_500);
    }
  });

  test('automations and integrations: weights sum to 100, member1 alone in some and shared in others', async () => {
    for (const ws of await prisma.workspace.findMany({ include: { users: true } })) {
      const member1 = ws.users.find((u) => u.email.startsWith('member1@'))!.id;
      const lists = [
        await prisma.automation.findMany({ where: { workspaceId: ws.id }, include: { members: true } }),
        await prisma.integration.findMany({ where: { workspaceId: ws.id }, include: { members: true } }),
      ];
      for (const list of lists) {
        for (const d of list) {
          expect(d.members.reduce((n, m) => n + m.weight, 0)).toBe(100);
          expect(d.members.map((m) => m.position).sort()).toEqual(d.members.map((_, i) => i));
        }
        const withMember1 = list.filter((d) => d.members.some((m) => m.userId === member1));
        expect(withMember1.filter((d) => d.members.length === 1).length).toBeGreaterThanOrEqual(1);
        const shared = withMember1.filter((d) => d.members.length >= 2 && d.members.length <= 3);
        expect(shared.length).toBeGreaterThanOrEqual(1);
        expect(list.some((d) => !d.members.some((m) => m.userId === member1))).toBe(true);
      }
    }
  });

  test('labels of every visibility; member1 owns some and belongs to others', async () => {
    const ws = await prisma.workspace.findUniqueOrThrow({ where: { slug: 'demo' }, include: { users: true } });
    const member1 = ws.users.find((u) => u.email === 'member1@demo.test')!.id;
    const labels = await prisma.label.findMany({ where: { workspaceId: ws.id }, include: { members: true } });
    expect(new Set(labels.map((l) => l.visibility))).toEqual(new Set(['PRIVATE', 'SHARED', 'PUBLIC']));
    const owned = labels.filter((l) => l.ownerId === member1);
    expect(new Set(owned.map((l) => l.visibility))).toEqual(new Set(['PRIVATE', 'SHARED', 'PUBLIC']));
    const joined = labels.filter((l) => l.ownerId !== member1 && l.members.some((m) => m.userId === member1));
    expect(new Set(joined.map((l) => l.visibility))).toEqual(new Set(['SHARED', 'PUBLIC']));
  });

  test('a second run changes nothing', async () => {
    const before = [await prisma.workspace.count(), await prisma.user.count(), await prisma.lead.count(), await prisma.label.count()];
    const logs: string[] = [];
    expect(await seedDemo(prisma, (m) => logs.push(m))).toEqual({ created: false });
    expect([await prisma.workspace.count(), await prisma.user.count(), await prisma.lead.count(), await prisma.label.count()]).toEqual(before);
    expect(logs).toEqual(['demo data already present; nothing seeded']);
  });

  test('createApiToken stores only the hash of the plaintext it returns', async () => {
    const user = await prisma.user.findFirstOrThrow({ where: { email: 'admin@demo.test' } });
    const token = await createApiToken(prisma, { workspaceId: user.workspaceId, userId: user.id, label: 'test' });
    expect(token).toMatch(/^crm_[A-Za-z0-9_-]{43}$/);
    const stored = await prisma.apiToken.findUniqueOrThrow({ where: { tokenHash: hashToken(token) } });
    expect(stored).toMatchObject({ userId: user.id, workspaceId: user.workspaceId, label: 'test', lastUsedAt: null });
    const all = await prisma.apiToken.findMany();
    expect(JSON.stringify(all)).not.toContain(token.slice(4));
  });

  test('seedBook adds a big book for one owner in chunks, logging progress', async () => {
    const ws = await prisma.workspace.findUniqueOrThrow({ where: { slug: 'other' } });
    const owner = await prisma.user.findFirstOrThrow({ where: { workspaceId: ws.id, email: 'member3@other.test' } });
    const before = await prisma.lead.count({ where: { ownerId: owner.id } });
    const logs: string[] = [];
    await seedBook(prisma, { workspaceId: ws.id, ownerId: owner.id, count: 25_000, chunk: 10_000, log: (m) => logs.push(m) });
    expect(logs).toEqual(['seeded 10,000 / 25,000 leads', 'seeded 20,000 / 25,000 leads', 'seeded 25,000 / 25,000 leads']);
    expect(await prisma.lead.count({ where: { ownerId: owner.id } })).toBe(before + 25_000);
  });

  test('seedBook interleaves several owners round-robin in id order', async () => {
    const ws = await prisma.workspace.findUniqueOrThrow({ where: { slug: 'other' } });
    const [a, b] = await prisma.user.findMany({ where: { workspaceId: ws.id }, orderBy: { email: 'asc' }, take: 2 });
    const last = await prisma.lead.findFirst({ orderBy: { id: 'desc' }, select: { id: true } });
    await seedBook(prisma, { workspaceId: ws.id, ownerId: [a!.id, b!.id, b!.id], count: 9, chunk: 4 });
    const added = await prisma.lead.findMany({ where: { id: { gt: last?.id ?? 0n } }, orderBy: { id: 'asc' }, select: { ownerId: true } });
    expect(added.map((l) => (l.ownerId === a!.id ? 'a' : 'b')).join('')).toBe('bbabbabba');
  });
});
