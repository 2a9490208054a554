// A database of a test run's own on a PostgreSQL server (DATABASE_URL's):
// created empty, dropped with everything in it. Used by the run's global
// setup (`crm_test_<pid>`) and by the database tests (one per test).
import { Client } from 'pg';

export interface ThrowawayDatabase {
  name: string;
  /** The server's URL with this database's name as its path. */
  url: string;
  /** Drops it, closing whatever connections are still open to it. */
  drop(): Promise<void>;
}

/** Runs `statements` one by one on a connection of its own to `serverUrl`. */
async function onServer(serverUrl: string, ...statements: string[]): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * Creates the database `name` on the server of `serverUrl`, dropping first
 * one of that name left behind (by a run that crashed before its cleanup).
 */
export async function createThrowawayDatabase(serverUrl: string, name: string): Promise<ThrowawayDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a database name of ours: ${name}`);
  const drop = `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`;
  await onServer(serverUrl, drop, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => onServer(serverUrl, drop) };
}
