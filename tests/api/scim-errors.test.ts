// How errors thrown under /scim/v2 are answered (api/scim/errors.ts), without a server.
import { toScimError } from '../../api/scim/errors';
import { Unavailable } from '../../domain/errors';

test('a wizard that did not answer in time: 503 with Retry-After, telling the identity provider to send it again (it has no deletion to read)', () => {
  const { status, body, headers } = toScimError(
    new Unavailable('The wizard did not answer within 10 s (its worker may be busy or away). What you sent may still apply: read the deletion to see, and send it again if it did not.'),
  );
  expect(status).toBe(503);
  expect(headers['retry-after']).toBe('5');
  expect(body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  expect(body.status).toBe('503');
  expect(body.detail).toMatch(/send the same request again after Retry-After/i);
  expect(body.detail).not.toMatch(/deletion to see/);
});
