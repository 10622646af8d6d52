// One request, one identity: how Supabase's gateway (Kong: apikey check, sb_ keys mapped to
// their role) and PostgREST (JWT verified, role = its role claim, Auth/Jwt.hs) turn a request's
// apikey and Authorization into a database role and JWT claims; and how PostgREST then
// prepares each transaction (Query/PreQuery.hs: set_config of role, request.jwt.claims,
// request.method, request.path, request.headers, and the impersonated role's own settings,
// such as anon's 3 s statement_timeout). Used by REST, RPC, Realtime and Functions alike.
import pg from "pg";
import { type ApiKeys, type JwtClaims, JwtError, roleOfApiKey, verifyJwt } from "./api-keys.ts";

export type Identity = { role: string; claims: JwtClaims };

/** A request the gateway or PostgREST refuses before any SQL runs; the body is PostgREST's error JSON. */
export class ApiAuthError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly hint: string | null;
  constructor(status: number, code: string | null, message: string, hint: string | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
  get body() {
    return { code: this.code, details: null, hint: this.hint, message: this.message };
  }
}

/**
 * apiKey: the `apikey` header (or, for the Realtime socket, query parameter); bearer: the token of
 * `Authorization: Bearer ...`, or Realtime's access_token. An API key as bearer stands for its role.
 */
export async function identify(keys: ApiKeys, apiKey: string | undefined, bearer: string | undefined): Promise<Identity> {
  if (!apiKey) throw new ApiAuthError(401, null, "No API key found in request", "No `apikey` request header or url param was found.");
  const keyRole = roleOfApiKey(apiKey, keys);
  if (!keyRole) throw new ApiAuthError(401, null, "Invalid API key", "Double check your Supabase `anon` or `service_role` API key.");
  if (!bearer) return { role: keyRole, claims: { role: keyRole } };
  const bearerRole = roleOfApiKey(bearer, keys);
  if (bearerRole) return { role: bearerRole, claims: { role: bearerRole } };
  try {
    const claims = await verifyJwt(bearer, keys.jwtSecret);
    return { role: claims.role, claims };
  } catch (error) {
    if (error instanceof JwtError) throw new ApiAuthError(401, error.code, error.message);
    throw error;
  }
}

export function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer (.+)$/i.exec(authorization ?? "")?.[1];
}

export type RequestInfo = { method: string; path: string; headers: Record<string, string | string[] | undefined> };

/** Per-role settings PostgREST applies when it impersonates a role (ALTER ROLE ... SET). */
export type RoleSettings = Map<string, [string, string][]>;

export async function loadRoleSettings(pool: pg.Pool): Promise<RoleSettings> {
  const { rows } = await pool.query<{ role: string; setting: string }>(
    `select r.rolname as role, unnest(s.setconfig) as setting
     from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
     where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
       and r.rolname in ('anon', 'authenticated', 'service_role')`,
  );
  const settings: RoleSettings = new Map();
  for (const { role, setting } of rows) {
    const at = setting.indexOf("=");
    settings.set(role, [...(settings.get(role) ?? []), [setting.slice(0, at), setting.slice(at + 1)]]);
  }
  return settings;
}

/** The statement that opens every API transaction, after `begin`, as PostgREST's pre-request query. */
export function transactionPrelude(identity: Identity, request: RequestInfo, roleSettings: RoleSettings): string {
  const literal = (value: string) => pg.escapeLiteral(value);
  const headers = Object.fromEntries(
    Object.entries(request.headers).flatMap(([name, value]) => value === undefined ? [] : [[name.toLowerCase(), Array.isArray(value) ? value.join(", ") : value]]),
  );
  const settings: [string, string][] = [
    // db-schemas plus db-extra-search-path, as Supabase configures PostgREST.
    ["search_path", '"public", "extensions"'],
    ["role", identity.role],
    ...(roleSettings.get(identity.role) ?? []),
    ["request.jwt.claims", JSON.stringify(identity.claims)],
    ["request.method", request.method],
    ["request.path", request.path],
    ["request.headers", JSON.stringify(headers)],
  ];
  return "select " + settings.map(([name, value]) => `set_config(${literal(name)}, ${literal(value)}, true)`).join(", ");
}
