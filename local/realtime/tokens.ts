// How Supabase Realtime checks a channel's access token (supabase/realtime
// lib/realtime_web/channels/realtime_channel.ex confirm_token/1 and assign_access_token/2,
// auth/channels_authorization.ex): an sb_ key stands for the socket's own key; the token must
// verify and carry `role` and `exp`; failures answer with the real server's reason text.
import { decodeJwt } from "jose";
import type { ApiKeys } from "../api-keys.ts";
import { ApiAuthError, identify } from "../api-request.ts";

export type ChannelIdentity = { role: string; claims: Record<string, unknown>; token: string; expiresAt: number | null };

/** socketKey: the apikey the socket connected with (already checked at upgrade). */
export async function verifyAccessToken(keys: ApiKeys, socketKey: string, accessToken: unknown): Promise<ChannelIdentity | { reason: string }> {
  const token = typeof accessToken === "string" && !accessToken.startsWith("sb_") ? accessToken : socketKey;
  try {
    const identity = await identify(keys, socketKey, token);
    if (token.startsWith("sb_")) return { role: identity.role, claims: identity.claims, token, expiresAt: null };
    const raw = decodeJwt(token);
    if (typeof raw.role !== "string" || typeof raw.exp !== "number") {
      return { reason: "InvalidJWTToken: Fields `role` and `exp` are required in JWT" };
    }
    return { role: identity.role, claims: raw, token, expiresAt: raw.exp * 1000 };
  } catch (error) {
    if (!(error instanceof ApiAuthError)) throw error;
    if (error.code === "PGRST303") {
      const exp = safeExp(token);
      return { reason: `InvalidJWTToken: Token has expired ${exp === null ? 0 : Math.floor(Date.now() / 1000) - exp} seconds ago` };
    }
    if (error.message === "JWT cryptographic operation failed") return { reason: "JwtSignatureError: Failed to validate JWT signature" };
    return { reason: "MalformedJWT: The token provided is not a valid JWT" };
  }
}

function safeExp(token: string): number | null {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === "number" ? exp : null;
  } catch {
    return null;
  }
}
