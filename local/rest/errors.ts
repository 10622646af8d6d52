// PostgREST's error responses for the table endpoints (src/PostgREST/Error.hs): one JSON shape,
// {code, details, hint, message}, and statuses from the same SQLSTATE table as the RPC stand-in.
import { statusForSqlState } from "../postgrest-rpc.ts";

export type PostgrestErrorBody = { code: string | null; details: string | null; hint: string | null; message: string };

/** A request PostgREST answers with an error, before or after SQL. */
export class RestError extends Error {
  readonly status: number;
  readonly body: PostgrestErrorBody;
  readonly headers: Record<string, string>;
  constructor(status: number, body: Partial<PostgrestErrorBody> & { message: string }, headers: Record<string, string> = {}) {
    super(body.message);
    this.status = status;
    this.body = { code: body.code ?? null, details: body.details ?? null, hint: body.hint ?? null, message: body.message };
    this.headers = headers;
  }
}

/** What real PostgREST supports but this stand-in does not: a clear 400, never a wrong answer. */
export const notInStandIn = (feature: string) =>
  new RestError(400, { code: "PGRST127", message: `${feature} is not in the local stand-in of PostgREST`, details: "local/rest.ts serves the table endpoints the widget uses" });

/** QPError (Error.hs: PGRST100), with Parsec's message shape: `"failed to parse <what> (<value>)" (line 1, column n)`. */
export const queryParamError = (what: string, value: string, column: number, details: string) =>
  new RestError(400, { code: "PGRST100", message: `"failed to parse ${what} (${value})" (line 1, column ${column})`, details });

export const invalidBody = (message: string) => new RestError(400, { code: "PGRST102", message });

export const tableNotFound = (schema: string, table: string) =>
  new RestError(404, { code: "PGRST205", message: `Could not find the table '${schema}.${table}' in the schema cache` });

export const columnNotFound = (table: string, column: string) =>
  new RestError(400, { code: "PGRST204", message: `Could not find the '${column}' column of '${table}' in the schema cache` });

export const notEmbedded = (resource: string) =>
  new RestError(400, {
    code: "PGRST108",
    message: `'${resource}' is not an embedded resource in this request`,
    hint: `Verify that '${resource}' is included in the 'select' query parameter.`,
  });

/** SingularityError: Accept: application/vnd.pgrst.object+json and not exactly one row. */
export const notSingular = (rows: number) =>
  new RestError(406, { code: "PGRST116", message: "Cannot coerce the result to a single JSON object", details: `The result contains ${rows} rows` });

/** Hasql's ClientError: the connection is gone (Error.hs: PGRST001, 503). */
export const databaseUnreachable = () => new RestError(503, { code: "PGRST001", message: "Database client error. Retrying the connection." });

/** A Postgres error raised by the request's SQL; 42501 is 401 for anon and 403 for any other role (App.hs). */
export function fromPostgresError(error: unknown, role: string): RestError {
  const pgError = error as { code?: string; message?: string; detail?: string; hint?: string };
  if (!pgError.code) return databaseUnreachable();
  return new RestError(statusForSqlState(pgError.code, role), {
    code: pgError.code,
    details: pgError.detail ?? null,
    hint: pgError.hint ?? null,
    message: pgError.message ?? "unknown error",
  });
}

/** JwtDecodeErr / JwtClaimsErr carry `WWW-Authenticate: Bearer error="invalid_token", error_description="..."` (Error.hs). */
export function wwwAuthenticate(code: string | null, message: string): Record<string, string> {
  return code === "PGRST301" || code === "PGRST303"
    ? { "www-authenticate": `Bearer error="invalid_token", error_description=${JSON.stringify(message)}` }
    : {};
}
