// Runs SQL as an API caller exactly as PostgREST and Realtime do: in a transaction, with
// `set local role` and request.jwt.claims, so row level security applies as in production.
import pg from "pg";

export type Claims = { role: "anon" | "authenticated" | "service_role"; sub?: string; is_anonymous?: boolean };

export async function withClaims<T>(pool: pg.Pool, claims: Claims, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(
      `begin; set local role ${pg.escapeIdentifier(claims.role)}; ` +
        `select set_config('request.jwt.claims', ${pg.escapeLiteral(JSON.stringify(claims))}, true)`,
    );
    const result = await work(client);
    await client.query("commit");
    client.release();
    return result;
  } catch (error) {
    // A connection that cannot even roll back is dead (the database restarted): drop it.
    const healthy = await client.query("rollback").then(() => true, () => false);
    client.release(healthy ? undefined : true);
    throw error;
  }
}

/** An anonymous visitor signed in with signInAnonymously(): role authenticated, is_anonymous true. */
export function asVisitor<T>(pool: pg.Pool, visitorId: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withClaims(pool, { role: "authenticated", sub: visitorId, is_anonymous: true }, work);
}
