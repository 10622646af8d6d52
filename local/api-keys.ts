// Stands in for the Supabase API keys of a local project: legacy anon/service_role JWTs
// (HS256 with the project's JWT secret, as `supabase status` prints them) and the newer
// opaque keys (sb_publishable_..., sb_secret_...). All are made afresh for each stack.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export type ApiKeys = {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
};

export type JwtClaims = { role: string; sub?: string; exp?: number; [claim: string]: unknown };

export function makeApiKeys(): ApiKeys {
  const jwtSecret = randomBytes(32).toString("base64url");
  const expires = Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600;
  return {
    jwtSecret,
    anonKey: signJwt({ iss: "supabase-local", role: "anon", exp: expires }, jwtSecret),
    serviceRoleKey: signJwt({ iss: "supabase-local", role: "service_role", exp: expires }, jwtSecret),
    publishableKey: `sb_publishable_${randomBytes(16).toString("base64url")}`,
    secretKey: `sb_secret_${randomBytes(16).toString("base64url")}`,
  };
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

export function signJwt(claims: JwtClaims, secret: string): string {
  const head = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

export class JwtError extends Error {}

/** Verifies an HS256 JWT the way PostgREST does; the message is PostgREST's wording. */
export function verifyJwt(token: string, secret: string): JwtClaims {
  const [header, payload, signature, ...rest] = token.split(".");
  if (!header || !payload || signature === undefined || rest.length > 0) {
    throw new JwtError("JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got " +
      `${token.split(".").length})`);
  }
  let alg: unknown;
  let claims: JwtClaims;
  try {
    alg = JSON.parse(Buffer.from(header, "base64url").toString("utf8")).alg;
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw new JwtError("JWSError JWSInvalidSignature");
  }
  const expected = createHmac("sha256", secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (alg !== "HS256" || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new JwtError("JWSError JWSInvalidSignature");
  }
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) throw new JwtError("JWT expired");
  if (typeof claims.role !== "string") claims.role = "anon";
  return claims;
}

/** The role an apikey stands for, or null if it is not one of this project's keys (Kong's check). */
export function roleOfApiKey(apiKey: string, keys: ApiKeys): "anon" | "service_role" | null {
  if (apiKey === keys.publishableKey || apiKey === keys.anonKey) return "anon";
  if (apiKey === keys.secretKey || apiKey === keys.serviceRoleKey) return "service_role";
  return null;
}
