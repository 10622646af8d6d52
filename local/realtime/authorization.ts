// Private channel authorization as Supabase Realtime checks it (supabase/realtime
// lib/realtime/tenants/authorization.ex): in a transaction, with role, realtime.topic,
// request.jwt.claims, request.jwt.claim.sub/role and request.headers set, a probe row in
// realtime.messages must be SELECT-able (read) or INSERT-able (write) under RLS; rolled back.
import { randomUUID } from "node:crypto";
import type pg from "pg";

export type AuthorizationContext = { topic: string; role: string; claims: Record<string, unknown>; headers?: Record<string, string> };

export async function canRead(pool: pg.Pool, context: AuthorizationContext): Promise<boolean> {
  return inRolledBackTransaction(pool, async (client) => {
    const id = randomUUID();
    // Inserted before the role is set (as the Realtime admin, owner of the table), then read as the user.
    await client.query("insert into realtime.messages (id, topic, extension) values ($1, $2, 'broadcast')", [id, context.topic]);
    await setConnConfig(client, context);
    const { rowCount } = await client.query("select id from realtime.messages where id = $1", [id]);
    return rowCount === 1;
  });
}

export async function canWrite(pool: pg.Pool, context: AuthorizationContext): Promise<boolean> {
  return inRolledBackTransaction(pool, async (client) => {
    await setConnConfig(client, context);
    await client.query("insert into realtime.messages (topic, extension) values ($1, 'broadcast')", [context.topic]);
    return true;
  });
}

async function setConnConfig(client: pg.PoolClient, context: AuthorizationContext): Promise<void> {
  await client.query(
    `select set_config('role', $1, true), set_config('realtime.topic', $2, true),
       set_config('request.jwt.claims', $3, true), set_config('request.jwt.claim.sub', $4, true),
       set_config('request.jwt.claim.role', $1, true), set_config('request.headers', $5, true)`,
    [context.role, context.topic, JSON.stringify(context.claims), typeof context.claims.sub === "string" ? context.claims.sub : "", JSON.stringify(context.headers ?? {})],
  );
}

/** A policy that refuses (insufficient_privilege, RLS violation) means no; other failures too, logged by the caller. */
async function inRolledBackTransaction(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<boolean>): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    return await work(client);
  } catch {
    return false;
  } finally {
    const healthy = await client.query("rollback").then(() => true, () => false);
    client.release(healthy ? undefined : true);
  }
}
