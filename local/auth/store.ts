// GoTrue's rows in auth.*, written as supabase/auth writes them: anonymous sign-up
// (internal/api/anonymous.go, signup.go signupNewUser, models/refresh_token.go createRefreshToken),
// legacy refresh-token rotation with the reuse interval (internal/tokens/service.go
// RefreshTokenGrant, models/refresh_token.go GrantRefreshTokenSwap, RevokeTokenFamily) and
// logout (models/sessions.go Logout, LogoutSession, LogoutAllExceptMe).
import { randomBytes } from "node:crypto";
import type pg from "pg";

/** GoTrue's instance_id for every row since multi-instance support was dropped (uuid.Nil). */
export const NIL_UUID = "00000000-0000-0000-0000-000000000000";

/** Go's time.Time in JSON (RFC 3339, UTC, fraction without trailing zeros), from PostgreSQL. */
const goTime = (column: string) =>
  `rtrim(rtrim(to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'`;

const USER_COLUMNS = `u.id, u.aud, u.role, u.email, u.phone, u.is_anonymous,
  u.raw_app_meta_data as app_metadata, u.raw_user_meta_data as user_metadata,
  ${goTime("u.email_confirmed_at")} as email_confirmed_at, ${goTime("u.last_sign_in_at")} as last_sign_in_at,
  ${goTime("u.created_at")} as created_at, ${goTime("u.updated_at")} as updated_at`;

export type UserRow = {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  phone: string | null;
  is_anonymous: boolean;
  app_metadata: Record<string, unknown> | null;
  user_metadata: Record<string, unknown> | null;
  email_confirmed_at: string | null;
  last_sign_in_at: string | null;
  created_at: string;
  updated_at: string;
};

/** What an access token is minted from: the user, and the session with its sign-in time (the amr claim). */
export type SessionGrant = { user: UserRow; sessionId: string; signedInAt: number; refreshToken: string };

export type RequestOrigin = { userAgent: string | null; ip: string | null };

/** crypto.SecureAlphanumeric(12): the legacy (v1) refresh token GoTrue issues by default. */
function newRefreshToken(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0n;
  for (const byte of randomBytes(8)) bits = (bits << 8n) | BigInt(byte);
  let token = "";
  for (let shift = 59n; token.length < 12; shift -= 5n) token += alphabet[Number((bits >> shift) & 31n)];
  return token;
}

export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query("commit");
    client.release();
    return result;
  } catch (error) {
    const healthy = await client.query("rollback").then(() => true, () => false);
    client.release(healthy ? undefined : true);
    throw error;
  }
}

async function userById(client: pg.ClientBase, id: string): Promise<UserRow | undefined> {
  return (await client.query<UserRow>(`select ${USER_COLUMNS} from auth.users u where u.id = $1`, [id])).rows[0];
}

/** createRefreshToken's last step (user.UpdateLastSignInAt), on sign-up and on every rotation. */
async function touchLastSignIn(client: pg.ClientBase, userId: string): Promise<UserRow> {
  await client.query("update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1", [userId]);
  return (await userById(client, userId))!;
}

/** SignupAnonymously: the user, then (issueRefreshToken) its session and first refresh token, in one transaction. */
export function createAnonymousUser(pool: pg.Pool, userMetadata: Record<string, unknown>, origin: RequestOrigin): Promise<SessionGrant> {
  return inTransaction(pool, async (client) => {
    const { rows: [user] } = await client.query<{ id: string }>(
      // Go writes the token columns' zero value, '' (models/user.go NewUser).
      `insert into auth.users (instance_id, id, aud, role, email, phone, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at,
                               confirmation_token, recovery_token, email_change_token_new, email_change)
       values ($1, gen_random_uuid(), 'authenticated', 'authenticated', null, null, '{}', $2, true, now(), now(), '', '', '', '') returning id`,
      [NIL_UUID, JSON.stringify(userMetadata)],
    );
    return startSession(client, user!.id, origin);
  });
}

/** issueRefreshToken (tokens/service.go): a new session, its first refresh token, and last_sign_in_at. */
export async function startSession(client: pg.ClientBase, userId: string, origin: RequestOrigin): Promise<SessionGrant> {
  const { rows: [session] } = await client.query<{ id: string; signed_in_at: number }>(
    `insert into auth.sessions (id, user_id, aal, created_at, updated_at, user_agent, ip)
     values (gen_random_uuid(), $1, 'aal1', now(), now(), $2, $3)
     returning id, extract(epoch from created_at)::bigint as signed_in_at`,
    [userId, origin.userAgent, origin.ip],
  );
  const refreshToken = newRefreshToken();
  await client.query(
    "insert into auth.refresh_tokens (instance_id, token, user_id, revoked, parent, session_id) values ($1, $2, $3, false, null, $4)",
    [NIL_UUID, refreshToken, userId, session!.id],
  );
  return { user: await touchLastSignIn(client, userId), sessionId: session!.id, signedInAt: Number(session!.signed_in_at), refreshToken };
}

export type Rotation =
  | { outcome: "granted"; grant: SessionGrant }
  | { outcome: "not_found" }
  | { outcome: "no_session" }
  | { outcome: "already_used" };

/**
 * RefreshTokenGrant for legacy tokens, with refresh-token rotation on (GoTrue's default):
 * - an active token is revoked and replaced by a child (parent = the old token, same session);
 * - a revoked token whose child is still the session's active token gets that child back
 *   ("the client was not able to store the result"), at any time;
 * - another revoked token is swapped again within the reuse interval after its revocation;
 *   after it, every token of the session is revoked and the answer is refresh_token_already_used.
 */
export function rotateRefreshToken(pool: pg.Pool, token: string, reuseIntervalSeconds: number, origin: RequestOrigin): Promise<Rotation> {
  return inTransaction(pool, async (client): Promise<Rotation> => {
    const { rows: [used] } = await client.query<{ id: string; user_id: string; revoked: boolean; session_id: string | null; reusable: boolean }>(
      `select rt.id, rt.user_id, rt.revoked, rt.session_id, now() <= rt.updated_at + make_interval(secs => $2) as reusable
       from auth.refresh_tokens rt join auth.users u on u.id::text = rt.user_id
       where rt.token = $1 for update of rt`,
      [token, reuseIntervalSeconds],
    );
    if (!used) return { outcome: "not_found" };
    if (!used.session_id) {
      await client.query("delete from auth.refresh_tokens where id = $1", [used.id]);
      return { outcome: "no_session" };
    }
    const { rows: [session] } = await client.query<{ signed_in_at: string }>(
      "select extract(epoch from created_at)::bigint as signed_in_at from auth.sessions where id = $1 for update",
      [used.session_id],
    );
    if (!session) return { outcome: "no_session" };

    let issued: string | undefined;
    let swapped = false;
    if (used.revoked) {
      const { rows: [active] } = await client.query<{ token: string; parent: string | null }>(
        "select token, parent from auth.refresh_tokens where session_id = $1 and revoked = false order by id desc limit 1",
        [used.session_id],
      );
      if (active?.parent === token) {
        issued = active.token;
      } else if (!used.reusable) {
        await client.query(
          "update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and revoked = false",
          [used.session_id],
        );
        return { outcome: "already_used" };
      }
    }
    if (!issued) {
      issued = newRefreshToken();
      swapped = true;
      await client.query("update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1", [used.id]);
      await client.query(
        "insert into auth.refresh_tokens (instance_id, token, user_id, revoked, parent, session_id) values ($1, $2, $3, false, $4, $5)",
        [NIL_UUID, issued, used.user_id, token, used.session_id],
      );
    }
    const user = swapped ? await touchLastSignIn(client, used.user_id) : (await userById(client, used.user_id))!;
    await client.query(
      "update auth.sessions set refreshed_at = timezone('UTC', now()), updated_at = now(), user_agent = $2, ip = $3 where id = $1",
      [used.session_id, origin.userAgent, origin.ip],
    );
    return { outcome: "granted", grant: { user, sessionId: used.session_id, signedInAt: Number(session.signed_in_at), refreshToken: issued } };
  });
}

/** requireAuthentication's maybeLoadUserOrSession: the user of the `sub` claim and whether the `session_id` still exists. */
export async function findUserAndSession(pool: pg.Pool, userId: string, sessionId: string | undefined): Promise<{ user?: UserRow; sessionExists: boolean }> {
  const { rows: [user] } = await pool.query<UserRow>(`select ${USER_COLUMNS} from auth.users u where u.id = $1`, [userId]);
  if (!sessionId) return { user, sessionExists: false };
  const { rowCount } = await pool.query("select 1 from auth.sessions where id = $1", [sessionId]);
  return { user, sessionExists: (rowCount ?? 0) > 0 };
}

export type LogoutScope = "global" | "local" | "others";

/** Logout deletes sessions; their refresh tokens go with them (on delete cascade). */
export async function logout(pool: pg.Pool, userId: string, sessionId: string | undefined, scope: LogoutScope): Promise<void> {
  if (sessionId && scope === "local") await pool.query("delete from auth.sessions where id = $1", [sessionId]);
  else if (sessionId && scope === "others") await pool.query("delete from auth.sessions where id <> $1 and user_id = $2", [sessionId, userId]);
  else await pool.query("delete from auth.sessions where user_id = $1", [userId]);
}
