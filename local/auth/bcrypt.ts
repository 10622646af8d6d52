// bcrypt's check of a password against a stored hash, as GoTrue does it (supabase/auth
// internal/crypto/password.go CompareHashAndPassword, golang.org/x/crypto/bcrypt), with bcryptjs:
// the Auth stand-in cannot call pgcrypto (supabase_auth_admin has no USAGE on extensions).
import bcrypt from "bcryptjs";

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** Whether the hash is one bcrypt can check ($2a$, $2b$, $2y$); GoTrue also knows argon2 and Firebase scrypt. */
export function isBcryptHash(hash: string): boolean {
  const match = BCRYPT.exec(hash);
  return match !== null && Number(match[1]) >= 4 && Number(match[1]) <= 31;
}

/** bcrypt.CompareHashAndPassword: true when password hashes to `hash` with its own salt and cost. */
export function bcryptMatches(password: string, hash: string): boolean {
  return isBcryptHash(hash) && bcrypt.compareSync(password, hash);
}
