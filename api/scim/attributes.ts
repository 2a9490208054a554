// `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which
// attributes of a returned User leave. `schemas` and `id` (returned
// "always", RFC 7643 §3.1) always do; names are case-insensitive, with or
// without the User schema's URN, and may name a sub-attribute (`name.formatted`).
import { scimAttributeName } from '../../domain/scim';

const ALWAYS = new Set(['schemas', 'id']);

function namesOf(v: unknown): string[] {
  if (typeof v !== 'string') return [];
  return v
    .split(',')
    .map((s) => scimAttributeName(s.trim()))
    .filter((s) => s !== '');
}

/** The sub-attributes of `key` named in `paths` (`name.formatted` → formatted). */
function subsOf(paths: string[], key: string): Set<string> {
  const prefix = `${key}.`;
  return new Set(paths.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length)));
}

function eachValue(value: unknown, f: (o: Record<string, unknown>) => Record<string, unknown>): unknown {
  if (Array.isArray(value)) return value.map((v) => eachValue(v, f));
  return value !== null && typeof value === 'object' ? f(value as Record<string, unknown>) : value;
}

function pick(o: Record<string, unknown>, keep: (lowerKey: string) => boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keep(k.toLowerCase())));
}

/** The resource as the query's `attributes` or `excludedAttributes` ask for it (neither: as it is). */
export function projected<T extends object>(resource: T, query: unknown): T | Record<string, unknown> {
  const q = (query ?? {}) as { attributes?: unknown; excludedAttributes?: unknown };
  const include = namesOf(q.attributes);
  const exclude = namesOf(q.excludedAttributes);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    const k = key.toLowerCase();
    if (ALWAYS.has(k)) {
      out[key] = value;
    } else if (include.length > 0) {
      if (include.includes(k)) {
        out[key] = value;
        continue;
      }
      const subs = subsOf(include, k);
      if (subs.size > 0) out[key] = eachValue(value, (o) => pick(o, (s) => subs.has(s)));
    } else if (!exclude.includes(k)) {
      const subs = subsOf(exclude, k);
      out[key] = subs.size > 0 ? eachValue(value, (o) => pick(o, (s) => !subs.has(s))) : value;
    }
  }
  return out;
}
