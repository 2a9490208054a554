// Demo data: two workspaces (`demo`, `other`) with an owner, an admin and five
// members each, 5,000 leads each (10,000 in all), automations, integrations and labels shaped so
// that deleting member1 exercises every wizard step (sole-member distributions
// that need a replacement, shared ones that get a suggestion, labels owned and
// joined). `npm run seed` runs seedDemo; seedBook makes big books for load tests.
import crypto from 'node:crypto';
import type { LabelVisibility, PrismaClient } from '../generated/prisma/client';
import type { Log } from '../infra/logger';

export const DEMO_SLUGS = ['demo', 'other'] as const;
/** Leads per workspace, by user key. member1 holds the biggest book. */
const LEADS_PER_USER: Record<string, number> = {
  owner: 400,
  admin: 400,
  member1: 1_500,
  member2: 800,
  member3: 700,
  member4: 650,
  member5: 550,
};
const USER_KEYS = ['owner', 'admin', 'member1', 'member2', 'member3', 'member4', 'member5'] as const;
type UserKey = (typeof USER_KEYS)[number];

/** Distributions: [name, [member, weight][]]; weights sum to 100. */
const AUTOMATIONS: [string, [UserKey, number][]][] = [
  ['New web lead follow-up', [['member1', 100]]],
  ['Round robin: inbound calls', [['member1', 40], ['member2', 30], ['member3', 30]]],
  ['Enterprise routing', [['member4', 50], ['member1', 50]]],
  ['Weekend coverage', [['member2', 60], ['member5', 40]]],
];
const INTEGRATIONS: [string, string, [UserKey, number][]][] = [
  ['Facebook Lead Ads', 'facebook', [['member1', 100]]],
  ['Website contact form', 'website', [['member1', 34], ['member2', 33], ['member5', 33]]],
  ['Zapier: trade shows', 'zapier', [['member3', 60], ['member1', 40]]],
  ['IndiaMART', 'indiamart', [['member4', 100]]],
];
/** Labels: [name, visibility, owner, members]. */
const LABELS: [string, LabelVisibility, UserKey, UserKey[]][] = [
  ['member1 private notes', 'PRIVATE', 'member1', []],
  ['Hot leads (member1)', 'SHARED', 'member1', ['member2', 'member3']],
  ['Partner referrals', 'PUBLIC', 'member1', ['member4']],
  ['Key accounts', 'SHARED', 'admin', ['member1', 'member2']],
  ['Follow up this week', 'PUBLIC', 'member2', ['member1', 'member5']],
  ['Cold', 'PUBLIC', 'owner', []],
  ['member2 private', 'PRIVATE', 'member2', []],
];

function userName(key: UserKey, slug: string): string {
  const base = key === 'owner' ? 'Owner' : key === 'admin' ? 'Admin' : `Member ${key.slice(6)}`;
  return `${base} (${slug})`;
}

/** Creates the demo data unless workspace `demo` exists. */
export async function seedDemo(prisma: PrismaClient, log: Log = () => {}): Promise<{ created: boolean }> {
  if (await prisma.workspace.findUnique({ where: { slug: 'demo' } })) {
    log('demo data already present; nothing seeded');
    return { created: false };
  }
  for (const slug of DEMO_SLUGS) {
    await prisma.$transaction(async (tx) => {
      const ws = await tx.workspace.create({
        data: {
          slug,
          name: slug === 'demo' ? 'Demo Sales' : 'Other Company',
          hookSecret: crypto.randomBytes(32).toString('hex'),
        },
      });
      const users = {} as Record<UserKey, string>;
      for (const key of USER_KEYS) {
        const u = await tx.user.create({
          data: {
            workspaceId: ws.id,
            name: userName(key, slug),
            email: `${key}@${slug}.test`,
            role: key === 'owner' ? 'OWNER' : key === 'admin' ? 'ADMIN' : 'MEMBER',
          },
        });
        users[key] = u.id;
      }

      // Leads: one INSERT … SELECT generate_series, owners assigned by range.
      const owners: string[] = [];
      const upto: number[] = [];
      let total = 0;
      for (const key of USER_KEYS) {
        total += LEADS_PER_USER[key]!;
        owners.push(users[key]);
        upto.push(total);
      }
      await tx.$executeRaw`
        INSERT INTO leads (workspace_id, owner_id, name, email, phone)
        SELECT ${ws.id},
               (${owners}::text[])[(SELECT count(*) FROM unnest(${upto}::int[]) AS u(n) WHERE u.n < g) + 1],
               'Lead ' || g, 'lead' || g || '@' || ${slug} || '.example', '+1555' || lpad(g::text, 7, '0')
        FROM generate_series(1, ${total}::int) AS g`;

      for (const [i, [name, members]] of AUTOMATIONS.entries()) {
        await tx.automation.create({
          data: {
            workspaceId: ws.id,
            name,
            createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
            members: { create: members.map(([key, weight], position) => ({ userId: users[key], weight, position })) },
          },
        });
      }
      for (const [i, [name, source, members]] of INTEGRATIONS.entries()) {
        await tx.integration.create({
          data: {
            workspaceId: ws.id,
            name,
            source,
            createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
            members: { create: members.map(([key, weight], position) => ({ userId: users[key], weight, position })) },
          },
        });
      }
      for (const [i, [name, visibility, owner, members]] of LABELS.entries()) {
        await tx.label.create({
          data: {
            workspaceId: ws.id,
            name,
            visibility,
            ownerId: users[owner],
            createdAt: new Date(Date.UTC(2026, 0, 1 + i)),
            members: { create: members.map((key, position) => ({ userId: users[key], position })) },
          },
        });
      }
      log(`seeded workspace ${slug}: ${USER_KEYS.length} users, ${total.toLocaleString('en-US')} leads, ${AUTOMATIONS.length} automations, ${INTEGRATIONS.length} integrations, ${LABELS.length} labels`);
    }, { timeout: 120_000, maxWait: 60_000 });
  }
  return { created: true };
}

/**
 * Adds `count` leads owned by `ownerId`, by SQL in statements of at most
 * `chunk` rows (default 100,000), each its own transaction.
 */
/**
 * Inserts `count` leads by SQL in chunks, with progress. Several owners share
 * the leads round-robin (lead i to owner i mod k), interleaving their books
 * in id order the way leads arriving over time do.
 */
export async function seedBook(
  prisma: PrismaClient,
  args: { workspaceId: string; ownerId: string | string[]; count: number; log?: Log; chunk?: number },
): Promise<void> {
  const chunk = args.chunk ?? 100_000;
  const owners = Array.isArray(args.ownerId) ? args.ownerId : [args.ownerId];
  const fmt = (n: number) => n.toLocaleString('en-US');
  for (let done = 0; done < args.count; ) {
    const n = Math.min(chunk, args.count - done);
    await prisma.$executeRaw`
      INSERT INTO leads (workspace_id, owner_id, name, email)
      SELECT ${args.workspaceId}, (${owners}::text[])[g % ${owners.length} + 1], 'Book lead ' || g, 'book' || g || '@example.test'
      FROM generate_series(${done + 1}::int, ${done + n}::int) AS g`;
    done += n;
    args.log?.(`seeded ${fmt(done)} / ${fmt(args.count)} leads`);
  }
}

async function main(): Promise<void> {
  const { loadConfig } = await import('../infra/config');
  const { ensureDatabase, createPrisma } = await import('../infra/database');
  const { migrate } = await import('../infra/migrate');
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const db = await ensureDatabase(loadConfig(), log);
  const prisma = createPrisma(db.url, { max: 2 });
  try {
    await migrate(db.url, log);
    const { created } = await seedDemo(prisma, log);
    process.stdout.write(created ? 'demo data seeded\n' : 'demo data already present\n');
  } finally {
    await prisma.$disconnect();
    await db.stop();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`${err.name === 'ConfigError' || err.name === 'MigrationError' ? err.message : err.stack}\n`);
    process.exit(1);
  });
}
