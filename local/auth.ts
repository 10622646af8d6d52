// Stands in for Supabase Auth (GoTrue): TO BE BUILT (anonymous sign-up and refresh-token grant).
import type pg from "pg";
import type { ApiKeys } from "./api-keys.ts";
import type { ApiService } from "./gateway.ts";

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
};

export function createAuthService(_options: AuthOptions): ApiService {
  return {
    prefix: "/auth/v1",
    async handle(_request, response) {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ code: "not_found", message: "not in the local stand-in yet" }));
    },
  };
}
