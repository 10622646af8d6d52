// Stands in for PostgREST's table endpoints (/rest/v1/<table>) behind Supabase's gateway, after
// PostgREST's sources (src/PostgREST/App.hs, ApiRequest, Plan, Query, Response, Error.hs): the
// caller's role from the one shared identity function, one transaction per request with
// PostgREST's prelude, the same SQL shape, and PostgREST's statuses, headers and error JSON.
import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import type { ApiKeys } from "./api-keys.ts";
import { ApiAuthError, bearerOf, identify, type Identity, loadRoleSettings, type RoleSettings, transactionPrelude } from "./api-request.ts";
import type { ApiService } from "./gateway.ts";
import { databaseUnreachable, fromPostgresError, notSingular, RestError, tableNotFound, wwwAuthenticate } from "./rest/errors.ts";
import { mutationPlanOf, parseTableRequest, readPlanOf, type TableRequest } from "./rest/request.ts";
import { type RestResponse, tableResponse } from "./rest/response.ts";
import { createSchemaCache } from "./rest/schema-cache.ts";
import { mutationStatement, readStatement, type StatementRow } from "./rest/statements.ts";

export type RestOptions = {
  /** Connections as authenticator, the role PostgREST logs in as. */
  pool: pg.Pool;
  keys: ApiKeys;
};

const MAX_BODY_BYTES = 1024 * 1024;
/** Every value as Postgres' text, so the JSON body is passed through untouched (big numbers too). */
const asText = { getTypeParser: () => (value: string) => value };

export function createRestService(options: RestOptions): ApiService {
  const { pool, keys } = options;
  const findTable = createSchemaCache(pool);
  let roleSettings: RoleSettings | undefined;

  async function serve(request: IncomingMessage, path: string, body: string): Promise<RestResponse> {
    let identity: Identity;
    try {
      identity = await identify(keys, header(request, "apikey"), bearerOf(header(request, "authorization")));
    } catch (e) {
      if (e instanceof ApiAuthError) throw new RestError(e.status, e.body, wwwAuthenticate(e.code, e.message));
      throw e;
    }
    const url = new URL(request.url ?? "/", "http://rest");
    const tableRequest = parseTableRequest({ method: request.method ?? "GET", path, search: url.search, headers: request.headers, body });
    let table;
    try {
      table = await findTable(tableRequest.schema, tableRequest.tableName);
      roleSettings ??= await loadRoleSettings(pool);
    } catch {
      throw new RestError(503, { code: "PGRST002", message: "Could not query the database for the schema cache. Retrying." });
    }
    if (!table) throw tableNotFound(tableRequest.schema, tableRequest.tableName);
    const { action } = tableRequest;
    const statement = action === "read"
      ? readStatement(readPlanOf(tableRequest, table))
      : mutationStatement(mutationPlanOf({ ...tableRequest, action }, table));
    const prelude = transactionPrelude(identity, { method: request.method ?? "GET", path: `/${table.name}`, headers: request.headers }, roleSettings);
    const row = await runTransaction(tableRequest, identity, prelude, statement);
    return tableResponse(tableRequest, row);
  }

  /**
   * begin; prelude; statement; commit in one round trip, as PostgREST pipelines it. A write that
   * must return one object waits for its row count: PostgREST rolls it back otherwise (MainTx.hs).
   */
  async function runTransaction(request: TableRequest, identity: Identity, prelude: string, statement: string): Promise<StatementRow> {
    const isRead = request.action === "read";
    const commitAtOnce = isRead || !request.singular;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch {
      throw databaseUnreachable();
    }
    try {
      const text = [isRead ? "begin isolation level read committed read only" : "begin isolation level read committed", prelude, statement]
        .concat(commitAtOnce ? ["commit"] : []).join(";\n");
      const results = (await client.query({ text, types: asText })) as unknown as pg.QueryResult<StatementRow>[];
      const row = results[2]?.rows[0] ?? { total_result_set: null, page_total: "0", body: null };
      const rows = Number(row.page_total);
      if (!commitAtOnce) {
        if (rows !== 1) {
          await client.query("rollback");
          client.release();
          throw notSingular(rows);
        }
        await client.query("commit");
      }
      client.release();
      if (request.singular && rows !== 1) throw notSingular(rows);
      return row;
    } catch (e) {
      if (e instanceof RestError) throw e;
      // A connection that cannot even roll back is dead (the database restarted): drop it.
      const healthy = await client.query("rollback").then(() => true, () => false);
      client.release(healthy ? undefined : true);
      throw fromPostgresError(e, identity.role);
    }
  }

  return {
    prefix: "/rest/v1",
    async handle(request: IncomingMessage, response: ServerResponse, path: string) {
      let answer: RestResponse;
      try {
        const body = await readBody(request);
        answer = await serve(request, path, body);
      } catch (e) {
        if (!(e instanceof RestError)) throw e;
        answer = {
          status: e.status,
          headers: { ...e.headers, "content-type": "application/json; charset=utf-8", "proxy-status": `PostgREST; error=${e.body.code}` },
          body: JSON.stringify(e.body),
        };
      }
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RestError(413, { code: "PGRST413", message: "Payload Too Large" });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
