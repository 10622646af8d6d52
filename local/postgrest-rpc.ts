// Stands in for PostgREST's RPC endpoint (POST /rest/v1/rpc/<fn>) behind Supabase's API
// gateway: apikey required, JWT verified with the project's secret, role switched with
// `set local role`, request.jwt.claims set, the JSON body passed as named arguments,
// and errors answered with PostgREST's JSON ({code, details, hint, message}) and statuses.
import type { IncomingMessage } from "node:http";
import pg from "pg";
import type { ApiKeys } from "./api-keys.ts";
import { ApiAuthError, bearerOf, identify, type Identity, loadRoleSettings, type RoleSettings, transactionPrelude } from "./api-request.ts";

export type RpcResponse = { status: number; body: unknown };

type PostgrestError = { code: string | null; details: string | null; hint: string | null; message: string };
const error = (status: number, e: Partial<PostgrestError> & { message: string }): RpcResponse => ({
  status,
  body: { code: e.code ?? null, details: e.details ?? null, hint: e.hint ?? null, message: e.message },
});

type FunctionSignature = { args: { name: string; type: string; hasDefault: boolean }[]; returnsSet: boolean; returnsVoid: boolean };

export function createRpcHandler(pool: pg.Pool, keys: ApiKeys) {
  const cache = new Map<string, FunctionSignature[]>();
  let roleSettings: RoleSettings | undefined;
  return async function callRpc(name: string, request: IncomingMessage, rawBody: string): Promise<RpcResponse> {
    let identity: Identity;
    try {
      identity = await identify(keys, header(request, "apikey"), bearerOf(header(request, "authorization")));
    } catch (e) {
      if (e instanceof ApiAuthError) return { status: e.status, body: e.body };
      throw e;
    }

    if (request.method !== "POST") {
      return error(405, { code: "PGRST117", message: `Unsupported HTTP method: ${request.method}` });
    }
    let args: Record<string, unknown>;
    try {
      const parsed: unknown = rawBody.trim() === "" ? {} : JSON.parse(rawBody);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
      args = parsed as Record<string, unknown>;
    } catch {
      return error(400, { code: "PGRST102", message: "Empty or invalid json" });
    }

    const overloads = await schemaCache(name);
    const signature = overloads.find((candidate) => accepts(candidate, Object.keys(args)));
    if (!signature) {
      const names = Object.keys(args).sort();
      return error(404, {
        code: "PGRST202",
        details: `Searched for the function public.${name} with parameters ${names.join(", ")} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        message: `Could not find the function public.${name}(${names.join(", ")}) in the schema cache`,
      });
    }

    // One round trip, as PostgREST pipelines it: role and claims for this transaction only, then the call.
    roleSettings ??= await loadRoleSettings(pool);
    const transaction = [
      "begin",
      transactionPrelude(identity, { method: "POST", path: `/rpc/${name}`, headers: request.headers }, roleSettings),
      buildCall(name, signature, Object.keys(args), pg.escapeLiteral(JSON.stringify(args))),
      "commit",
    ].join(";\n");
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch {
      return error(503, { code: "PGRST001", message: "Database client error. Retrying the connection." });
    }
    try {
      const results = (await client.query(transaction)) as unknown as pg.QueryResult<{ result: unknown }>[];
      client.release();
      if (signature.returnsVoid) return { status: 204, body: undefined };
      return { status: 200, body: results[2]?.rows[0]?.result ?? null };
    } catch (e) {
      // A connection that cannot even roll back is dead (the database restarted): drop it.
      const healthy = await client.query("rollback").then(() => true, () => false);
      client.release(healthy ? undefined : true);
      return fromPostgresError(e, identity.role);
    }
  };

  /** PostgREST reads the catalog once into its schema cache; so does this stand-in, per function name. */
  async function schemaCache(name: string): Promise<FunctionSignature[]> {
    const cached = cache.get(name);
    if (cached) return cached;
    const { rows } = await pool.query<{ names: string[] | null; types: string[]; defaults: number; retset: boolean; rettype: string }>(
      `select p.proargnames as names,
              array(select format_type(t, null) from unnest(p.proargtypes) t) as types,
              p.pronargdefaults as defaults, p.proretset as retset, format_type(p.prorettype, null) as rettype
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public' and p.proname = $1`,
      [name],
    );
    const overloads = rows.map((row) => ({
      args: row.types.map((type, i) => ({ name: row.names?.[i] ?? "", type, hasDefault: i >= row.types.length - row.defaults })),
      returnsSet: row.retset,
      returnsVoid: row.rettype === "void",
    }));
    if (overloads.length > 0) cache.set(name, overloads);
    return overloads;
  }
}

function accepts(signature: FunctionSignature, given: string[]): boolean {
  const known = new Set(signature.args.map((arg) => arg.name));
  return given.every((key) => known.has(key)) && signature.args.every((arg) => arg.hasDefault || given.includes(arg.name));
}

/** Like PostgREST: arguments come out of the JSON body through json_to_record, typed by the signature. */
function buildCall(name: string, signature: FunctionSignature, given: string[], body: string): string {
  const used = signature.args.filter((arg) => given.includes(arg.name));
  const columns = used.map((arg) => `${pg.escapeIdentifier(arg.name)} ${arg.type}`).join(", ");
  const named = used.map((arg) => `${pg.escapeIdentifier(arg.name)} := _.${pg.escapeIdentifier(arg.name)}`).join(", ");
  const call = `public.${pg.escapeIdentifier(name)}(${named})`;
  const source = used.length > 0 ? `json_to_record(${body}::json) as _(${columns})` : `(select ${body}::json) as _`;
  return signature.returnsSet
    ? `select coalesce(json_agg(r), '[]') as result from ${source} cross join lateral ${call} r`
    : `select to_json(${call}) as result from ${source}`;
}

function fromPostgresError(e: unknown, role: string): RpcResponse {
  const pgError = e as { code?: string; message?: string; detail?: string; hint?: string };
  const code = pgError.code ?? "XX000";
  return error(statusForSqlState(code, role), {
    code,
    details: pgError.detail ?? null,
    hint: pgError.hint ?? null,
    message: pgError.message ?? "unknown error",
  });
}

/** PostgREST's mapping of SQLSTATE to HTTP status (docs: Errors > SQLSTATE). */
export function statusForSqlState(code: string, role: string): number {
  if (code === "42501") return role === "anon" ? 401 : 403;
  if (code === "23503" || code === "23505") return 409;
  if (code === "25006") return 405;
  if (code === "P0001") return 400;
  if (code === "42883" || code === "42P01") return 404;
  if (code === "42P17") return 500;
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2));
  const family = code.slice(0, 2);
  if (family === "08" || family === "53") return 503;
  if (["0L", "0P", "28"].includes(family)) return 403;
  if (["09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "P0", "XX"].includes(family)) return 500;
  return 400;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
