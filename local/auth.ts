// Stands in for Supabase Auth (GoTrue, supabase/auth @bc32168 internal/api/api.go routes) behind Kong: anonymous sign-up, the password and refresh_token grants, GET /user and /logout.
import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import { type ApiKeys, roleOfApiKey } from "./api-keys.ts";
import { ApiAuthError, identify } from "./api-request.ts";
import type { ApiService } from "./gateway.ts";
import { sessionJson, userJson, verifyBearer, type BearerClaims } from "./auth/access-token.ts";
import { RateLimiter } from "./auth/rate-limiter.ts";
import { signInWithPassword } from "./auth/password.ts";
import { createAnonymousUser, findUserAndSession, logout, type LogoutScope, type RequestOrigin, rotateRefreshToken, type UserRow } from "./auth/store.ts";
import { AuthFailure, headerOf, readJsonBody, sendAuthError, sendJson, stringField } from "./auth/wire.ts";

export type AuthOptions = {
  /** Connections as supabase_auth_admin, the role GoTrue logs in as (owner of auth.*). */
  pool: pg.Pool;
  keys: ApiKeys;
  /** [auth] enable_anonymous_sign_ins in supabase/config.toml (off by default on Supabase). */
  enableAnonymousSignIns: boolean;
  /** [auth.rate_limit] anonymous_users: sign-ins per hour per IP (30 by default on Supabase). */
  anonymousSignInsPerHour: number;
  /** [auth] jwt_expiry: access token lifetime in seconds (3600 by default). */
  jwtExpirySeconds: number;
  /** [auth] refresh_token_reuse_interval: seconds a revoked refresh token may still be swapped (10 by default). */
  refreshTokenReuseIntervalSeconds?: number;
  /** [auth.rate_limit] token_refresh: refresh_token grants per 5 minutes per IP (150 by default, burst 30). */
  tokenRefreshesPerFiveMinutes?: number;
};

type Route = (request: IncomingMessage, response: ServerResponse, url: URL) => Promise<void>;

/** The GoTrue grant types this stand-in does not serve (token.go Token). */
const OTHER_GRANTS = new Set(["id_token", "pkce", "web3"]);

export function createAuthService(options: AuthOptions): ApiService {
  // apilimiter.go: anonymous sign-ins refill at N per hour with a burst of N; refreshes at N per 5 minutes, burst 30.
  const anonymousSignIns = new RateLimiter(options.anonymousSignInsPerHour, 3600, options.anonymousSignInsPerHour);
  // One bucket for every grant of POST /token, as GoTrue's limiterOpts.Token (token.go Token).
  const tokenGrants = new RateLimiter(options.tokenRefreshesPerFiveMinutes ?? 150, 300, 30);
  const reuseInterval = options.refreshTokenReuseIntervalSeconds ?? 10;
  const tokenSettings = (request: IncomingMessage) => ({
    jwtSecret: options.keys.jwtSecret,
    expirySeconds: options.jwtExpirySeconds,
    // config.JWT.Issuer is the project's Auth URL (https://<ref>.supabase.co/auth/v1): here, the URL the client called.
    issuer: `http://${request.headers.host ?? "127.0.0.1"}/auth/v1`,
  });

  /** requireAuthentication (auth.go): a valid user JWT whose user and session still exist. */
  async function authenticate(request: IncomingMessage): Promise<{ claims: BearerClaims; user: UserRow }> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(headerOf(request, "authorization") ?? "")?.[1];
    if (!bearer) throw new AuthFailure(401, "no_authorization", "This endpoint requires a valid Bearer token");
    // Kong hands GoTrue an API key's own JWT, which has no sub.
    if (roleOfApiKey(bearer, options.keys)) throw new AuthFailure(403, "bad_jwt", "invalid claim: missing sub claim");
    const claims = await verifyBearer(bearer, options.keys.jwtSecret);
    const { user, sessionExists } = await findUserAndSession(options.pool, claims.sub, claims.sessionId);
    if (!user) throw new AuthFailure(403, "user_not_found", "User from sub claim in JWT does not exist");
    if (claims.sessionId && !sessionExists) throw new AuthFailure(403, "session_not_found", "Session from session_id claim in JWT does not exist");
    return { claims, user };
  }

  /** token.go ResourceOwnerPasswordGrant (auth-js signInWithPassword): email only, the phone provider is off. */
  async function passwordGrant(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readJsonBody(request);
    const email = stringField(body, "email");
    const phone = stringField(body, "phone");
    const password = stringField(body, "password");
    if (email !== "" && phone !== "") throw new AuthFailure(400, "validation_failed", "Only an email address or phone number should be provided on login.");
    if (phone !== "") throw new AuthFailure(422, "phone_provider_disabled", "Phone logins are disabled");
    if (email === "") throw new AuthFailure(400, "validation_failed", "missing email or phone");
    const audience = headerOf(request, "x-jwt-aud") || "authenticated";
    const grant = await signInWithPassword(options.pool, { email, password, audience }, originOf(request))
      .catch((error: unknown) => {
        if (error instanceof AuthFailure) throw error;
        return databaseFailure("Database error querying schema")(error);
      });
    sendJson(response, 200, await sessionJson(grant, tokenSettings(request)));
  }

  const routes: Record<string, Route> = {
    // api.go /signup: no email and no phone is an anonymous sign-up (anonymous.go SignupAnonymously).
    async "POST /signup"(request, response) {
      const body = await readJsonBody(request);
      const email = stringField(body, "email");
      const phone = stringField(body, "phone");
      const data = body.data ?? {};
      if (typeof data !== "object" || Array.isArray(data)) {
        throw new AuthFailure(400, "bad_json", "Could not parse request body as JSON: json: cannot unmarshal into Go struct field SignupParams.data of type map[string]interface {}");
      }
      if (email !== "" || phone !== "") {
        // signup.go's answer when that provider is off, which it is here.
        const provider = email !== "" ? "email" : "phone";
        throw new AuthFailure(400, `${provider}_provider_disabled`, `${provider === "email" ? "Email" : "Phone"} signups are disabled (the local Auth stand-in only signs in anonymous users)`);
      }
      if (!options.enableAnonymousSignIns) throw new AuthFailure(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled");
      if (!anonymousSignIns.take(originOf(request).ip ?? "")) throw new AuthFailure(429, "over_request_rate_limit", "Request rate limit reached");
      const grant = await createAnonymousUser(options.pool, data as Record<string, unknown>, originOf(request))
        .catch(databaseFailure("Database error creating anonymous user"));
      sendJson(response, 200, await sessionJson(grant, tokenSettings(request)));
    },

    // token.go Token and token_refresh.go RefreshTokenGrant.
    async "POST /token"(request, response, url) {
      const grantType = url.searchParams.get("grant_type") ?? "";
      if (OTHER_GRANTS.has(grantType)) throw new AuthFailure(400, "validation_failed", `grant_type=${grantType} is not in the local Auth stand-in (only password and refresh_token are)`);
      if (grantType !== "refresh_token" && grantType !== "password") throw new AuthFailure(400, "invalid_credentials", "unsupported_grant_type");
      if (!tokenGrants.take(originOf(request).ip ?? "")) throw new AuthFailure(429, "over_request_rate_limit", "Request rate limit reached");
      if (grantType === "password") return passwordGrant(request, response);
      const refreshToken = stringField(await readJsonBody(request), "refresh_token");
      // RefreshTokenGrantParams.Validate: the stand-in issues only legacy 12-character tokens, so longer (v2) ones are never its own.
      if (!/^[a-z0-9]{12}$/.test(refreshToken)) throw new AuthFailure(400, "validation_failed", "Refresh token is not valid");
      const rotation = await rotateRefreshToken(options.pool, refreshToken, reuseInterval, originOf(request))
        .catch(databaseFailure("Database error refreshing the session"));
      if (rotation.outcome === "not_found") throw new AuthFailure(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
      if (rotation.outcome === "no_session") throw new AuthFailure(400, "session_not_found", "Invalid Refresh Token: No Valid Session Found");
      if (rotation.outcome === "already_used") throw new AuthFailure(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
      sendJson(response, 200, await sessionJson(rotation.grant, tokenSettings(request)));
    },

    // user.go UserGet (auth-js getUser()).
    async "GET /user"(request, response) {
      const { claims, user } = await authenticate(request);
      const audience = headerOf(request, "x-jwt-aud") || "authenticated";
      if (claims.aud !== audience) throw new AuthFailure(400, "validation_failed", "Token audience doesn't match request audience");
      sendJson(response, 200, userJson(user));
    },

    // logout.go Logout: deletes the sessions of the scope, and with them their refresh tokens.
    async "POST /logout"(request, response, url) {
      const { claims } = await authenticate(request);
      const scope = url.searchParams.get("scope") || "global";
      if (!["global", "local", "others"].includes(scope)) throw new AuthFailure(400, "validation_failed", `Unsupported logout scope ${JSON.stringify(scope)}`);
      await logout(options.pool, claims.sub, claims.sessionId, scope as LogoutScope).catch(databaseFailure("Error logging out user"));
      response.writeHead(204);
      response.end();
    },
  };

  return {
    prefix: "/auth/v1",
    async handle(request, response, path) {
      // Kong's key-auth comes first: no or unknown apikey, no Auth.
      const url = new URL(request.url ?? "/", "http://auth");
      try {
        await identify(options.keys, headerOf(request, "apikey") ?? url.searchParams.get("apikey") ?? undefined, undefined);
      } catch (error) {
        if (error instanceof ApiAuthError) return sendJson(response, error.status, error.body);
        throw error;
      }
      const route = routes[`${request.method} ${path.replace(/(.)\/$/, "$1")}`];
      try {
        if (!route) {
          throw new AuthFailure(404, "not_found", `${request.method} /auth/v1${path} is not in the local Auth stand-in (it serves POST /signup anonymously, POST /token?grant_type=password and refresh_token, GET /user and POST /logout)`);
        }
        await route(request, response, url);
      } catch (error) {
        if (response.headersSent) return void response.destroy();
        // errors.go handleResponseErrorDefault: anything unforeseen is a 500 without details.
        if (!(error instanceof AuthFailure)) console.error("[auth] unhandled server error:", error);
        const failure = error instanceof AuthFailure
          ? error
          : new AuthFailure(500, "unexpected_failure", "Unexpected failure, please check server logs for more information");
        sendAuthError(request, response, failure);
      }
    },
  };
}

/** GoTrue answers database trouble with a 500 unexpected_failure and a fixed message (auth-js then retries). */
function databaseFailure(message: string) {
  return (error: unknown): never => {
    console.error(`[auth] ${message}:`, error);
    throw new AuthFailure(500, "unexpected_failure", message);
  };
}

/** FillGrantParams / utilities.GetIPAddress: what the session row records about the client. */
function originOf(request: IncomingMessage): RequestOrigin {
  const address = request.socket.remoteAddress ?? null;
  return { userAgent: headerOf(request, "user-agent") ?? null, ip: address?.replace(/^::ffff:/, "") ?? null };
}
