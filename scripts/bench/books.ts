// Books of leads for the bench, seeded by SQL, and the bare UPDATEs that move
// them: the floor the wizard's move is measured against.
import { Client } from 'pg';
import type { PrismaClient } from '../../generated/prisma/client';
import type { Log } from '../../infra/logger';

/**
 * `perOwner` leads for each of `owners`, each owner's book one consecutive id
 * range (in `owners` order), by INSERT … SELECT in statements of at most 100,000.
 */
export async function seedBooks(prisma: PrismaClient, workspaceId: string, owners: string[], perOwner: number, log: Log): Promise<void> {
  const total = owners.length * perOwner;
  const chunk = 100_000;
  for (let done = 0; done < total; ) {
    const n = Math.min(chunk, total - done);
    await prisma.$executeRaw`
      INSERT INTO leads (workspace_id, owner_id, name, email)
      SELECT ${workspaceId}, (${owners}::text[])[(g - 1) / ${perOwner}::int + 1], 'Book lead ' || g, 'book' || g || '@example.test'
      FROM generate_series(${done + 1}::int, ${done + n}::int) AS g`;
    done += n;
    if (total > chunk) log(`seeded ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} leads`);
  }
}

/**
 * The fastest non-resumable way to move one book with `parts` connections:
 * the book cut by position into `parts` consecutive id ranges (boundaries read
 * in the owner index), then one bare UPDATE per range, all at once, each on its
 * own connection and in its own transaction. Returns the wall time of the
 * UPDATEs (`ms`, not the boundary look-ups), how many leads moved, and the
 * whole call's wall time (`wallMs`).
 */
export async function bareParallelUpdate(
  databaseUrl: string,
  args: { workspaceId: string; fromUserId: string; toUserId: string; parts: number },
): Promise<{ ms: number; moved: number; wallMs: number }> {
  const t0 = performance.now();
  const clients = Array.from({ length: args.parts }, () => new Client({ connectionString: databaseUrl }));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    const c0 = clients[0]!;
    const { rows } = await c0.query<{ n: string }>('SELECT count(*) AS n FROM leads WHERE workspace_id = $1 AND owner_id = $2', [
      args.workspaceId,
      args.fromUserId,
    ]);
    const count = Number(rows[0]!.n);
    // Upper bound of range i (inclusive): the id at position floor(count*(i+1)/parts) - 1; the last is open.
    const bounds: (string | null)[] = [];
    for (let i = 0; i < args.parts - 1; i++) {
      const offset = Math.floor((count * (i + 1)) / args.parts) - 1;
      const r = await c0.query<{ id: string }>(
        `SELECT id::text FROM leads WHERE workspace_id = $1 AND owner_id = $2
         ORDER BY workspace_id, owner_id, id OFFSET $3 LIMIT 1`,
        [args.workspaceId, args.fromUserId, Math.max(0, offset)],
      );
      bounds.push(r.rows[0]?.id ?? null);
    }
    bounds.push(null);
    const t = performance.now();
    const moved = await Promise.all(
      clients.map(async (c, i) => {
        const lo = i === 0 ? '0' : bounds[i - 1];
        const hi = bounds[i];
        if (lo === null) return 0;
        const r = await c.query(
          `UPDATE leads SET owner_id = $3 WHERE workspace_id = $1 AND owner_id = $2 AND id > $4::bigint${hi === null ? '' : ' AND id <= $5::bigint'}`,
          hi === null ? [args.workspaceId, args.fromUserId, args.toUserId, lo] : [args.workspaceId, args.fromUserId, args.toUserId, lo, hi],
        );
        return r.rowCount ?? 0;
      }),
    );
    const ms = Math.round(performance.now() - t);
    return { ms, moved: moved.reduce((a, b) => a + b, 0), wallMs: performance.now() - t0 };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}

/** One bare UPDATE moving the books of `pairs` (each from → to) at once; returns ms and leads moved. */
export async function bareUpdate(
  prisma: PrismaClient,
  workspaceId: string,
  pairs: { from: string; to: string }[],
): Promise<{ ms: number; moved: number }> {
  const t = performance.now();
  const moved = await prisma.$executeRaw`
    UPDATE leads l SET owner_id = m.to_id
    FROM unnest(${pairs.map((p) => p.from)}::text[], ${pairs.map((p) => p.to)}::text[]) AS m(from_id, to_id)
    WHERE l.workspace_id = ${workspaceId} AND l.owner_id = m.from_id`;
  return { ms: Math.round(performance.now() - t), moved };
}
