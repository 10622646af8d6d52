// A database alone (bootstrap + migrations + seed, no pg_net worker): for tests of the SQL
// itself, where queued webhooks must stay in net.http_request_queue to be inspected.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { createPool, startDatabase } from "../local/database.ts";

export type TestDatabase = { pool: pg.Pool; url: string; stop(): Promise<void> };

export async function startTestDatabase(): Promise<TestDatabase> {
  const scratch = await mkdtemp(join(tmpdir(), "ai-responder-db-"));
  const database = await startDatabase({ dataDir: join(scratch, "db") });
  const pool = createPool(database.url, 10);
  return {
    pool,
    url: database.url,
    async stop() {
      await pool.end();
      await database.stop();
      await rm(scratch, { recursive: true, force: true });
      // Kept elsewhere when the server's OS user cannot reach the temporary folder (local/postgres-cluster.ts).
      if (!database.dataDir.startsWith(scratch)) await rm(database.dataDir, { recursive: true, force: true });
    },
  };
}

export async function setVault(pool: pg.Pool, projectUrl: string | null, secret: string | null): Promise<void> {
  await pool.query("delete from vault.secrets");
  if (projectUrl) await pool.query("select vault.create_secret($1, 'project_url')", [projectUrl]);
  if (secret) await pool.query("select vault.create_secret($1, 'ai_responder_webhook_secret')", [secret]);
}
