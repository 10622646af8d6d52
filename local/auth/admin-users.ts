// What Dashboard > Authentication > Add user (GoTrue's admin API, supabase/auth internal/api/
// admin.go adminUserCreate with email_confirm) leaves in auth.users, written in SQL as a seed or
// a person in the SQL editor would: a confirmed email, a bcrypt hash of the password (GoTrue
// hashes with cost 10; pgcrypto's crypt() writes the same $2a$ format), and '' in the token
// columns GoTrue cannot read as NULL. No auth.identities row (the stand-in has no such table).
// For the demo and tests; production uses the Dashboard.
import type pg from "pg";

export async function createConfirmedUser(pool: pg.Pool, email: string, password: string): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                             raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at,
                             confirmation_token, recovery_token, email_change_token_new, email_change)
     values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', lower($1),
             extensions.crypt($2, extensions.gen_salt('bf', 10)), now(),
             '{"provider": "email", "providers": ["email"]}', '{}', false, now(), now(), '', '', '', '')
     returning id`,
    [email, password],
  );
  return rows[0]!.id;
}
