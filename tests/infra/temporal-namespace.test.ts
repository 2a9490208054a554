// ensureNamespace readies a server it did not start (docker compose, a
// TEMPORAL_ADDRESS server): our namespace and search attributes, idempotently.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DeletionStatus, DeletionUserId, SEARCH_ATTRIBUTES } from '../../domain/search-attributes';
import { ensureNamespace } from '../../infra/temporal-namespace';
import { testEnv } from '../support/env';

const { temporalAddress } = testEnv();

test('registers a missing namespace with our search attributes, then finds nothing left to do', async () => {
  const namespace = `ensured-${randomUUID()}`;
  const log = () => undefined;

  const first = await ensureNamespace({ address: temporalAddress, namespace, log });
  expect(first.createdNamespace).toBe(true);

  const second = await ensureNamespace({ address: temporalAddress, namespace, log });
  expect(second).toEqual({ createdNamespace: false, addedAttributes: [] });

  const connection = await Connection.connect({ address: temporalAddress });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)));

    const client = new Client({ connection, namespace });
    const handle = await client.workflow.start('neverPolled', {
      taskQueue: 'nobody-polls-this',
      workflowId: 'tagged',
      typedSearchAttributes: [
        { key: DeletionUserId, value: 'u-1' },
        { key: DeletionStatus, value: 'IN_PROGRESS' },
      ],
    });
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(DeletionUserId)).toBe('u-1');
    expect(description.typedSearchAttributes.get(DeletionStatus)).toBe('IN_PROGRESS');
    await handle.terminate('test over');
  } finally {
    await connection.close();
  }
});
