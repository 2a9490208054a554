// SCIM filters on /Users (api.md: `eq` and `and` on userName, externalId,
// emails.value, emails[type eq "work"].value), parsed by scim2-parse-filter
// and turned into one database condition. Anything else is 400 invalidFilter.
import { parse, type Filter } from 'scim2-parse-filter';
import type { Prisma } from '../../generated/prisma/client';
import { scimAttributeName } from '../../domain/scim';
import { ScimProblem } from './errors';
import { emailIs } from '../directory/common';

type Where = Prisma.UserWhereInput;
const NOTHING: Where = { id: { in: [] } };
const EVERYTHING: Where = {};

const SUPPORTED = 'Supported filters: eq, joined by and, on userName, externalId, emails.value and emails[type eq "work"].value.';

function unsupported(what: string): never {
  throw new ScimProblem(400, `${what} ${SUPPORTED}`, 'invalidFilter');
}

function compared(f: Filter & { compValue?: unknown }): string {
  if (typeof f.compValue !== 'string') unsupported('Compare with a quoted string.');
  return f.compValue;
}

/** `emails[...]` keeps only our one email, which is the primary work address. */
function emailSelector(f: Filter): boolean {
  if (f.op === 'and') return f.filters.every(emailSelector);
  if (f.op !== 'eq') unsupported(`"${f.op}" is not supported inside emails[...].`);
  const name = scimAttributeName(f.attrPath);
  if (name === 'type' && typeof f.compValue === 'string') return f.compValue.toLowerCase() === 'work';
  if (name === 'primary' && typeof f.compValue === 'boolean') return f.compValue;
  return unsupported(`emails[${f.attrPath} ...] is not supported.`);
}

function toWhere(f: Filter): Where {
  switch (f.op) {
    case 'and':
      return { AND: f.filters.map(toWhere) };
    case '[]':
      if (scimAttributeName(f.attrPath) !== 'emails') unsupported(`${f.attrPath}[...] is not supported.`);
      return emailSelector(f.valFilter) ? EVERYTHING : NOTHING;
    case 'eq': {
      const name = scimAttributeName(f.attrPath);
      const value = compared(f);
      // userName and emails are the user's email, compared without case (caseExact false).
      if (name === 'username' || name === 'emails.value' || name === 'emails') {
        return { email: emailIs(value) };
      }
      if (name === 'externalid') return { externalId: value };
      if (name === 'id') return { id: value };
      return unsupported(`Filtering on ${f.attrPath} is not supported.`);
    }
    default:
      return unsupported(`The operator "${f.op}" is not supported.`);
  }
}

/** The database condition of a `filter` query parameter (none: every user). */
export function usersWhere(filter: string | undefined): Where {
  if (filter === undefined || filter.trim() === '') return EVERYTHING;
  let ast: Filter;
  try {
    ast = parse(filter);
  } catch {
    throw new ScimProblem(400, `The filter could not be parsed. ${SUPPORTED}`, 'invalidFilter');
  }
  return toWhere(ast);
}
