// Checks on a parsed JSON body outside its schema.
import { BadInput } from '../domain/errors';

/**
 * Refuses (400) any string holding a NUL character, anywhere in the body.
 * Redundant now: every string field of every body is `Text` (domain/schemas.ts),
 * which refuses NUL and lone surrogates naming the field, and unknown fields
 * are refused whatever their name. Only the HR hook (api/routes/hook.ts) still
 * calls it; delete this file with that call.
 */
export function refuseNul(body: unknown): void {
  const stack: { value: unknown; path: string }[] = [{ value: body, path: '' }];
  while (stack.length > 0) {
    const { value, path: at } = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) {
        throw new BadInput('The body holds a NUL character, which no field accepts.', [
          { path: at || '(body)', message: 'contains a NUL character' },
        ]);
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push({ value: v, path: at ? `${at}.${i}` : String(i) }));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k.includes('\u0000')) {
          throw new BadInput('The body holds a NUL character, which no field accepts.', [
            { path: at || '(body)', message: 'has a field name with a NUL character' },
          ]);
        }
        stack.push({ value: v, path: at ? `${at}.${k}` : k });
      }
    }
  }
}

