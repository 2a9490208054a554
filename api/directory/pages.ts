// The directory's lists, one keyset query for all: rows after the cursor's
// position in the list's order, `limit + 1` of them (the extra row only says
// that there is more). The cursor codecs and the page builder are
// domain/pagination.ts; this file only says which to use for which order.
import {
  afterCreated,
  decodeBigIdCursor,
  decodeCreatedCursor,
  encodeBigIdCursor,
  encodeCreatedCursor,
  pageOf,
  type CreatedKey,
  type Page,
} from '../../domain/pagination';

/** What a page asks for: how many items, and after which cursor. */
export interface PageQuery {
  limit: number;
  cursor?: string;
}

/**
 * A list's order: its cursor codec (a cursor is made from the fields `KeyRow`
 * of the last row), and its Prisma `where` and `orderBy`.
 */
interface Order<KeyRow, Key, After, OrderBy> {
  decode(cursor: string | undefined): Key | undefined;
  after(key: Key | undefined): After;
  orderBy(): OrderBy;
  cursorOf(row: KeyRow): string;
}

/** What `findRows` is given for Prisma's `findMany`. */
export interface Keyset<After, OrderBy> {
  /**
   * `findMany`'s `where` (the list's own `filter`, and after the cursor),
   * `orderBy` and `take`; the caller adds its `select`.
   */
  args<Filter extends object>(filter: Filter): { where: Filter & After; orderBy: OrderBy; take: number };
}

/** Creation order, (createdAt, id) ascending: users, automations, integrations, labels. */
export const CREATION_ORDER = {
  decode: decodeCreatedCursor,
  after: afterCreated,
  orderBy: () => [{ createdAt: 'asc' as const }, { id: 'asc' as const }],
  cursorOf: (row: CreatedKey) => encodeCreatedCursor(row),
};

/** Id order, a bigint id ascending: leads. */
export const ID_ORDER = {
  decode: decodeBigIdCursor,
  after: (id: bigint | undefined) => (id !== undefined ? { id: { gt: id } } : {}),
  orderBy: () => ({ id: 'asc' as const }),
  cursorOf: (row: { id: bigint }) => encodeBigIdCursor(row.id),
};

/**
 * One page of a list in `order`. The cursor is decoded (400 when it is not
 * ours) before `findRows` runs.
 */
export async function keysetPage<KeyRow, Row extends KeyRow, Item, Key, After, OrderBy>(
  order: Order<KeyRow, Key, After, OrderBy>,
  query: PageQuery,
  findRows: (keyset: Keyset<After, OrderBy>) => Promise<Row[]>,
  toItem: (row: Row) => Item,
): Promise<Page<Item>> {
  const key = order.decode(query.cursor);
  const rows = await findRows({
    args: (filter) => ({ where: { ...filter, ...order.after(key) }, orderBy: order.orderBy(), take: query.limit + 1 }),
  });
  return pageOf(rows, query.limit, toItem, order.cursorOf);
}
