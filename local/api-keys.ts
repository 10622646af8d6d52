// Stands in for the Supabase API keys of a local project: legacy anon/service_role JWTs
// (HS256 with the project's JWT secret, as `supabase status` prints them) and the newer
// opaque keys (sb_publishable_..., sb_secret_...). All are made afresh for each stack.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { errors, jwtVerify, SignJWT } from "jose";

export type ApiKeys = {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  publishableKey: string;
  secretKey: string;
};

export type JwtClaims = { role: string; sub?: string; exp?: number; [claim: string]: unknown };

export async function makeApiKeys(): Promise<ApiKeys> {
  const jwtSecret = randomBytes(32).toString("base64url");
  const expires = Math.floor(Date.now() / 1000) + 10 * 365 * 24 * 3600;
  return {
    jwtSecret,
    anonKey: await signJwt({ iss: "supabase-local", role: "anon", exp: expires }, jwtSecret),
    serviceRoleKey: await signJwt({ iss: "supabase-local", role: "service_role", exp: expires }, jwtSecret),
    publishableKey: `sb_publishable_${randomBytes(16).toString("base64url")}`,
    secretKey: `sb_secret_${randomBytes(16).toString("base64url")}`,
  };
}

/** The keys kept in a file, made once: a browser's stored session stays valid across restarts, as on a real project. */
export async function persistentApiKeys(path: string): Promise<ApiKeys> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as ApiKeys;
  } catch {
    const keys = await makeApiKeys();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(keys, null, 2), { mode: 0o600 });
    return keys;
  }
}

export function signJwt(claims: Record<string, unknown>, secret: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

/** An invalid token (code PGRST301) or an expired one (PGRST303), with PostgREST's wording. */
export class JwtError extends Error {
  readonly code: "PGRST301" | "PGRST303";
  constructor(message: string, code: "PGRST301" | "PGRST303") {
    super(message);
    this.code = code;
  }
}

/** Verifies an HS256 JWT the way PostgREST does (signature, then exp); no role claim means anon. */
export async function verifyJwt(token: string, secret: string): Promise<JwtClaims> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ["HS256"] });
    return { ...payload, role: typeof payload.role === "string" ? payload.role : "anon" };
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw new JwtError("JWT expired", "PGRST303");
    if (error instanceof errors.JWSSignatureVerificationFailed) throw new JwtError("JWT cryptographic operation failed", "PGRST301");
    throw new JwtError("Expected 3 parts in JWT; got " + token.split(".").length, "PGRST301");
  }
}

/** The role an apikey stands for, or null if it is not one of this project's keys (Kong's check). */
export function roleOfApiKey(apiKey: string, keys: ApiKeys): "anon" | "service_role" | null {
  if (apiKey === keys.publishableKey || apiKey === keys.anonKey) return "anon";
  if (apiKey === keys.secretKey || apiKey === keys.serviceRoleKey) return "service_role";
  return null;
}
