// The classifier of database failures (activities/db-errors.ts), fed with
// errors the run's real database produces: what it will refuse again is
// permanent (not retried), what may go through later is transient.
import net from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../activities';
import { asActivityFailure, classifyDbError, OUTLIVED_TRIES, outlivedForGood } from '../../activities/db-errors';
import { FAILURE_TYPES } from '../../domain/refusal';
import type { PrismaClient } from '../../generated/prisma/client';
import { createPrisma } from '../../infra/database';
import { testEnv } from '../support/env';
import { makeWorkspace, type TestWorkspace } from '../support/wizard';

let prisma: PrismaClient;
let ws: TestWorkspace;
beforeAll(async () => {
  prisma = createPrisma(testEnv().databaseUrl, { max: 2 });
  ws = await makeWorkspace(prisma, { owner: 'OWNER', admin: 'ADMIN', leaver: 'MEMBER' });
});
afterAll(() => prisma?.$disconnect());

async function failure(f: () => Promise<unknown>): Promise<unknown> {
  try {
    await f();
  } catch (err) {
    return err;
  }
  throw new Error('expected the database to refuse');
}

const raise = (state: string) => () => prisma.$executeRawUnsafe(`DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '${state}'; END $$`);

test.each([
  ['a lone surrogate in jsonb', '22P02', () => prisma.auditEvent.create({ data: { workspaceId: ws.id, actorType: 'USER', actorId: 'a', action: 'X', detail: { reason: '\ud800' } } })],
  ['a NUL in text', '22021', () => prisma.auditEvent.create({ data: { workspaceId: ws.id, actorType: 'USER', actorId: 'a\u0000b', action: 'X', detail: {} } })],
  ['a timestamp in year 0', '22008', () => prisma.deletion.updateMany({ where: { id: 'none' }, data: { effectiveAt: new Date('0000-01-01T00:00:00Z') } })],
  ['a lead given to nobody (foreign key)', '23503', () => prisma.lead.create({ data: { workspaceId: ws.id, ownerId: 'nobody', name: 'l' } })],
  ['the same in raw SQL', '23503', () => prisma.$executeRaw`INSERT INTO leads (workspace_id, owner_id, name) VALUES (${ws.id}, 'nobody', 'l')`],
  ['a duplicate email (unique)', '23505', () => prisma.user.create({ data: { workspaceId: ws.id, name: 'x', email: ws.users.owner!.email, role: 'MEMBER' } })],
  ['inside a transaction', '23503', () => prisma.$transaction(async (tx) => tx.lead.create({ data: { workspaceId: ws.id, ownerId: 'nobody', name: 'l' } }))],
])('permanent: %s (%s)', async (_what, state, act) => {
  const c = classifyDbError(await failure(act));
  expect(c).toMatchObject({ kind: 'permanent', sqlstate: state });
  expect(c.message.length).toBeGreaterThan(0);
});

test.each([
  ['a serialization failure', '40001'],
  ['a deadlock', '40P01'],
  ['an administrator shutdown', '57P01'],
  ['a database starting up', '57P03'],
  ['a connection exception', '08006'],
  ['a statement timeout', '57014'],
  ['a lock not available', '55P03'],
])('transient: %s (%s)', async (_what, state) => {
  expect(classifyDbError(await failure(raise(state)))).toMatchObject({ kind: 'transient', sqlstate: state });
});

test('transient: the database refuses connections (nothing listens)', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const url = new URL(testEnv().databaseUrl);
  url.port = String(port);
  url.hostname = '127.0.0.1';
  const away = createPrisma(url.toString(), { max: 1 });
  try {
    expect(classifyDbError(await failure(() => away.user.count())).kind).toBe('transient');
  } finally {
    await away.$disconnect();
  }
});

test('transient: a second attempt colliding on the audit idempotency key (its retry finds the change done)', async () => {
  const event = { workspaceId: ws.id, actorType: 'USER' as const, actorId: 'a', action: 'X', detail: {}, idempotencyKey: `once_${ws.id}` };
  await prisma.auditEvent.create({ data: event });
  for (const again of [() => prisma.auditEvent.create({ data: event }), () => prisma.$transaction((tx) => tx.auditEvent.create({ data: event }))]) {
    expect(classifyDbError(await failure(again))).toMatchObject({ kind: 'transient', sqlstate: '23505' });
  }
  // The same key in raw SQL (the pg driver's own error).
  const raw = () =>
    prisma.$executeRaw`INSERT INTO audit_events (id, workspace_id, actor_type, actor_id, action, detail, idempotency_key)
      VALUES (${`raw_${ws.id}`}, ${ws.id}, 'USER', 'a', 'X', '{}', ${event.idempotencyKey})`;
  expect(classifyDbError(await failure(raw))).toMatchObject({ kind: 'transient', sqlstate: '23505' });
});

test('an ordinary bug is not called permanent (the retry policy keeps it)', () => {
  expect(classifyDbError(new TypeError('x is undefined')).kind).toBe('unknown');
});

test('an activity refused for good by the database throws a non-retryable DatabaseRefused naming the reason', async () => {
  const activities = createActivities(prisma, { min: 100, max: 1000, targetMs: 0, streams: 1 });
  const err = await failure(() =>
    activities.openDeletion({
      deletionId: `del_${Date.now()}`,
      workspaceId: ws.id,
      userId: ws.users.leaver!.id,
      source: 'ADMIN',
      actor: { type: 'USER', id: ws.users.admin!.id },
      reason: 'cut in the middle of an emoji \ud83d',
      effectiveAt: null,
    }),
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: FAILURE_TYPES.DatabaseRefused, nonRetryable: true });
  expect((err as Error).message).toMatch(/refused a value.*22P02/);
  // And nothing was written: the user is as before.
  expect(await prisma.user.findUnique({ where: { id: ws.users.leaver!.id } })).toMatchObject({ status: 'ACTIVE' });
});

test('a table or column missing (a worker ahead of its migration) is not called permanent: retried', async () => {
  const err = await failure(() => prisma.$queryRawUnsafe('SELECT no_such_column FROM users'));
  expect(classifyDbError(err)).toMatchObject({ kind: 'unknown', sqlstate: '42703' });
});

test('a removal whose transaction outlives its limit is retried, and from its third try on is DatabaseRefused (attention)', async () => {
  // A real expired interactive transaction: its next query comes after its time limit.
  const err = await failure(() =>
    prisma.$transaction(
      async (tx) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return tx.user.count();
      },
      { timeout: 100 },
    ),
  );
  expect(classifyDbError(err).kind).toBe('transient');
  expect(asActivityFailure(err)).toBe(err);
  expect(outlivedForGood(err, 1)).toBe(err);
  expect(outlivedForGood(err, OUTLIVED_TRIES - 1)).toBe(err);
  const refused = outlivedForGood(err, OUTLIVED_TRIES);
  expect(refused).toBeInstanceOf(ApplicationFailure);
  expect(refused).toMatchObject({ type: FAILURE_TYPES.DatabaseRefused, nonRetryable: true });
  expect((refused as Error).message).toMatch(/did not finish this work within the time one transaction may take, on try 3/);
  // Any other failure of a removal is left to the retry policy however often it came.
  const other = await failure(raise('40001'));
  expect(outlivedForGood(other, 50)).toBe(other);
});
