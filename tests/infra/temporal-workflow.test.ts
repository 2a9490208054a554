// A real workflow on the run's real dev server, with a real activity writing
// to the run's database: the plumbing every wizard test stands on.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createPrisma } from '../../infra/database';
import { DeletionWorkspaceId } from '../../domain/search-attributes';
import { testEnv } from '../support/env';
import { pingActivities } from './fixtures/ping-activities';
import type { pingWorkflow } from './fixtures/ping-workflow';

const env = testEnv();
const prisma = createPrisma(env.databaseUrl);
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let workflowCode: string;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  connection = await Connection.connect({ address: env.temporalAddress });
  client = new Client({ connection, namespace: env.namespace });
  nativeConnection = await NativeConnection.connect({ address: env.temporalAddress });
  ({ code: workflowCode } = await bundleWorkflowCode({
    workflowsPath: path.join(__dirname, 'fixtures', 'ping-workflow.ts'),
    logger: new DefaultLogger('WARN'),
  }));
});

afterAll(async () => {
  await nativeConnection?.close();
  await connection?.close();
  await prisma.$disconnect();
});

test('a workflow runs on the dev server and its activity writes to the database', async () => {
  const slug = `ping-${randomUUID()}`;
  const taskQueue = `ping-${randomUUID()}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: env.namespace,
    taskQueue,
    workflowBundle: { code: workflowCode },
    activities: pingActivities(prisma),
  });

  const result = await worker.runUntil(
    client.workflow.execute<typeof pingWorkflow>('pingWorkflow', {
      taskQueue,
      workflowId: slug,
      args: [slug],
      typedSearchAttributes: [{ key: DeletionWorkspaceId, value: slug }],
    }),
  );

  const row = await prisma.workspace.findUnique({ where: { slug } });
  expect(row).not.toBeNull();
  expect(row!.name).toBe(`Ping ${slug}`);
  expect(result).toEqual({ workspaceId: row!.id });

  const description = await client.workflow.getHandle(slug).describe();
  expect(description.status.name).toBe('COMPLETED');
  expect(description.typedSearchAttributes.get(DeletionWorkspaceId)).toBe(slug);
});

test('workflows can be listed by our search attributes', async () => {
  const slug = `listed-${randomUUID()}`;
  await client.workflow.start('neverPolled', {
    taskQueue: `nobody-${randomUUID()}`,
    workflowId: slug,
    typedSearchAttributes: [{ key: DeletionWorkspaceId, value: slug }],
  });
  try {
    // Visibility is eventually consistent: poll until the record shows up.
    let ids: string[] = [];
    for (let attempt = 0; attempt < 100 && ids.length === 0; attempt++) {
      ids = [];
      for await (const execution of client.workflow.list({ query: `DeletionWorkspaceId = "${slug}"` })) {
        ids.push(execution.workflowId);
      }
      if (ids.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(ids).toEqual([slug]);
  } finally {
    await client.workflow.getHandle(slug).terminate('test over');
  }
});
