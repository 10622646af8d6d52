// GoTrue's password grant (supabase/auth internal/api/token.go ResourceOwnerPasswordGrant,
// models/user.go FindUserByEmailAndAudience, HasPassword, IsBanned, Authenticate, IsConfirmed):
// the checks in GoTrue's order, each failure with its code and wording.
import type pg from "pg";
import { bcryptMatches, isBcryptHash } from "./bcrypt.ts";
import { inTransaction, NIL_UUID, type RequestOrigin, type SessionGrant, startSession } from "./store.ts";
import { AuthFailure } from "./wire.ts";

/** token.go InvalidLoginMessage: the same answer for an unknown email, no password and a wrong one. */
const invalidLogin = () => new AuthFailure(400, "invalid_credentials", "Invalid login credentials");

export async function signInWithPassword(
  pool: pg.Pool,
  credentials: { email: string; password: string; audience: string },
  origin: RequestOrigin,
): Promise<SessionGrant> {
  const { rows: [user] } = await pool.query<{ id: string; encrypted_password: string | null; confirmed: boolean; banned: boolean; null_tokens: boolean }>(
    `select u.id, u.encrypted_password, u.email_confirmed_at is not null as confirmed,
            coalesce(u.banned_until > now(), false) as banned,
            num_nulls(u.confirmation_token, u.recovery_token, u.email_change_token_new, u.email_change) > 0 as null_tokens
     from auth.users u
     where u.instance_id = $1 and lower(u.email) = $2 and u.aud = $3`,
    [NIL_UUID, credentials.email.toLowerCase(), credentials.audience],
  );
  if (user?.null_tokens) {
    // GoTrue scans these into Go strings: a row inserted by SQL that leaves them NULL cannot sign
    // in ("converting NULL to string is unsupported", supabase/auth issue 1940).
    throw new AuthFailure(500, "unexpected_failure", "Database error querying schema");
  }
  if (!user || !user.encrypted_password) throw invalidLogin();
  if (user.banned) throw new AuthFailure(400, "user_banned", "User is banned");
  if (!isBcryptHash(user.encrypted_password)) {
    throw new AuthFailure(400, "validation_failed", "Password hashes other than bcrypt ($2a$, $2b$, $2y$) are not in the local Auth stand-in");
  }
  if (!bcryptMatches(credentials.password, user.encrypted_password)) throw invalidLogin();
  if (!user.confirmed) throw new AuthFailure(400, "email_not_confirmed", "Email not confirmed");
  return inTransaction(pool, (client) => startSession(client, user.id, origin));
}
