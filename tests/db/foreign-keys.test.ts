// A user's removal (CONFIRM) deletes their row, and PostgreSQL then checks
// every foreign key that points at it (ON DELETE RESTRICT: is anything still
// theirs?). Each such check must be an index probe: a key with no index
// leading with its columns reads its whole table, every workspace's, for
// every removal (leads held by owner_id alone did, until the key became
// (workspace_id, owner_id)). And a lead belongs to a user of its own workspace.
import { Client } from 'pg';
import { testEnv } from '../support/env';

let db: Client;
beforeAll(async () => {
  db = new Client({ connectionString: testEnv().databaseUrl });
  await db.connect();
});
afterAll(() => db?.end());

test('every foreign key to users is served by an index that leads with its columns', async () => {
  const { rows } = await db.query<{ table: string; key: string; columns: string[]; indexed: boolean }>(`
    SELECT c.conrelid::regclass::text AS table, c.conname AS key,
      array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
      EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = c.conrelid
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
      ) AS indexed
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
    ORDER BY 1, 2`);
  expect(rows.map((r) => r.table)).toEqual(expect.arrayContaining(['leads', 'labels', 'automation_members']));
  expect(rows.filter((r) => !r.indexed).map((r) => `${r.table}(${r.columns.join(', ')})`)).toEqual([]);
  expect(rows.find((r) => r.table === 'leads')?.columns).toEqual(['workspace_id', 'owner_id']);
});

test("a lead cannot be owned by another workspace's user", async () => {
  const ws = (slug: string) =>
    db.query<{ id: string }>(`INSERT INTO workspaces (id, slug, name, hook_secret) VALUES (gen_random_uuid()::text, $1, $1, 'x') RETURNING id`, [slug]);
  const suffix = Math.random().toString(36).slice(2, 10);
  const [a, b] = [(await ws(`fk-a-${suffix}`)).rows[0]!.id, (await ws(`fk-b-${suffix}`)).rows[0]!.id];
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (id, workspace_id, name, email, role, updated_at) VALUES (gen_random_uuid()::text, $1, 'b', 'b@b.test', 'MEMBER', now()) RETURNING id`,
    [b],
  );
  await expect(db.query(`INSERT INTO leads (workspace_id, owner_id, name) VALUES ($1, $2, 'lead')`, [a, rows[0]!.id])).rejects.toMatchObject({ code: '23503' });
  await expect(db.query(`INSERT INTO leads (workspace_id, owner_id, name) VALUES ($1, $2, 'lead')`, [b, rows[0]!.id])).resolves.toBeTruthy();
  await db.query('DELETE FROM workspaces WHERE id = ANY($1)', [[a, b]]);
});
