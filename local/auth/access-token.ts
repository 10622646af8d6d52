// GoTrue's access tokens and session JSON (supabase/auth internal/tokens/service.go
// GenerateAccessToken, AccessTokenClaims, AccessTokenResponse; models/user.go User JSON), and
// its check of a bearer token (internal/api/auth.go requireAuthentication, parseJWTClaims).
import { errors, jwtVerify } from "jose";
import { signJwt } from "../api-keys.ts";
import type { SessionGrant, UserRow } from "./store.ts";
import { AuthFailure } from "./wire.ts";

/** models.User as JSON: keys in struct order, omitempty fields left out when empty. */
export function userJson(user: UserRow) {
  return {
    id: user.id,
    aud: user.aud ?? "",
    role: user.role ?? "",
    email: user.email ?? "",
    ...(user.email_confirmed_at ? { email_confirmed_at: user.email_confirmed_at } : {}),
    phone: user.phone ?? "",
    // confirmed_at is generated as least(email_confirmed_at, phone_confirmed_at); no phones here.
    ...(user.email_confirmed_at ? { confirmed_at: user.email_confirmed_at } : {}),
    ...(user.last_sign_in_at ? { last_sign_in_at: user.last_sign_in_at } : {}),
    app_metadata: user.app_metadata,
    user_metadata: user.user_metadata,
    // No auth.identities in the stand-in: an anonymous user has none on Supabase either.
    identities: [],
    created_at: user.created_at,
    updated_at: user.updated_at,
    is_anonymous: user.is_anonymous,
  };
}

export type TokenSettings = { jwtSecret: string; expirySeconds: number; issuer: string };

/** AccessTokenResponse: the session auth-js stores (it needs access_token, refresh_token and expires_in). */
export async function sessionJson(grant: SessionGrant, settings: TokenSettings) {
  const issuedAt = Math.floor(Date.now() / 1000);
  const expiresAt = issuedAt + settings.expirySeconds;
  const { user } = grant;
  // Claim order as Go marshals AccessTokenClaims; aud is a single string (service.go SignJWT).
  const claims = {
    iss: settings.issuer,
    sub: user.id,
    aud: user.aud ?? "",
    exp: expiresAt,
    iat: issuedAt,
    email: user.email ?? "",
    phone: user.phone ?? "",
    app_metadata: user.app_metadata,
    user_metadata: user.user_metadata,
    role: user.role ?? "",
    aal: "aal1",
    // The session's mfa_amr_claims row: the stand-in signs in anonymously or with a password only.
    amr: [{ method: user.is_anonymous ? "anonymous" : "password", timestamp: grant.signedInAt }],
    session_id: grant.sessionId,
    is_anonymous: user.is_anonymous,
  };
  return {
    access_token: await signJwt(claims, settings.jwtSecret),
    token_type: "bearer",
    expires_in: expiresAt - Math.floor(Date.now() / 1000),
    expires_at: expiresAt,
    refresh_token: grant.refreshToken,
    user: userJson(user),
  };
}

export type BearerClaims = { sub: string; sessionId: string | undefined; aud: string | undefined };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** parseJWTClaims + the claim checks of maybeLoadUserOrSession, with GoTrue's codes and wording. */
export async function verifyBearer(token: string, jwtSecret: string): Promise<BearerClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(jwtSecret), { algorithms: ["HS256"] }));
  } catch (error) {
    throw new AuthFailure(403, "bad_jwt", `invalid JWT: unable to parse or verify signature, ${goJwtError(error)}`);
  }
  const sub = typeof payload.sub === "string" ? payload.sub : "";
  if (sub === "") throw new AuthFailure(403, "bad_jwt", "invalid claim: missing sub claim");
  if (!UUID.test(sub)) throw new AuthFailure(400, "bad_jwt", "invalid claim: sub claim must be a UUID");
  const sessionId = typeof payload.session_id === "string" && payload.session_id !== "" ? payload.session_id : undefined;
  if (sessionId && !UUID.test(sessionId)) throw new AuthFailure(403, "bad_jwt", "invalid claim: session_id claim must be a UUID");
  const aud = Array.isArray(payload.aud) ? String(payload.aud[0]) : typeof payload.aud === "string" ? payload.aud : undefined;
  return { sub, sessionId: sessionId === "00000000-0000-0000-0000-000000000000" ? undefined : sessionId, aud };
}

/** The golang-jwt v5 messages for what jose reports. */
function goJwtError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token has invalid claims: token is expired";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token signature is invalid: signature is invalid";
  if (error instanceof errors.JOSEAlgNotAllowed) return "token is unverifiable: signing method is invalid";
  return "token is malformed: could not parse the token";
}
