// A table request as PostgREST reads it (src/PostgREST/ApiRequest.hs, ApiRequest/Payload.hs)
// and plans it against the schema cache (Plan.hs: findTable, mutatePlan's typed columns).
import { columnNotFound, invalidBody, notInStandIn, RestError } from "./errors.ts";
import { checkContentType, type Preferences, preferencesOf, schemaOf, wantsSingleObject } from "./negotiation.ts";
import { parseQueryParams, parseQueryString, type QueryParams } from "./query-params.ts";
import type { Table } from "./schema-cache.ts";
import type { MutationPlan, ReadPlan } from "./statements.ts";

export type Action = "read" | "insert" | "update" | "delete";
type Payload = { raw: string; keys: string[]; isObject: boolean };

export type TableRequest = {
  action: Action;
  headOnly: boolean;
  schema: string;
  /** Whether the schema came from a profile header, so the response names it (Content-Profile). */
  profileNegotiated: boolean;
  tableName: string;
  params: QueryParams;
  preferences: Preferences;
  singular: boolean;
  payload: Payload | null;
};

const ACTIONS: Record<string, Action> = { GET: "read", HEAD: "read", POST: "insert", PATCH: "update", DELETE: "delete" };

export function parseTableRequest(request: {
  method: string;
  path: string;
  search: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}): TableRequest {
  const segments = request.path.split("/").filter(Boolean).map(decodeSegment);
  if (segments.length === 0) throw notInStandIn("The OpenAPI description at the root");
  if (segments.length > 2 || (segments.length === 2 && segments[0] !== "rpc")) {
    throw new RestError(404, { code: "PGRST125", message: "Invalid path specified in request URL" });
  }
  if (segments.length === 2) throw notInStandIn(`This function name (${segments[1]})`);
  if (request.method === "PUT") throw notInStandIn("PUT (single-row upsert)");
  const action = ACTIONS[request.method];
  if (!action) throw new RestError(405, { code: "PGRST117", message: `Unsupported HTTP method: ${request.method}` });

  const { schema, negotiated } = schemaOf(request.method, request.headers);
  const params = parseQueryParams(parseQueryString(request.search));
  if (params.limit !== null && params.limit < 0) {
    throw new RestError(416, { code: "PGRST103", message: "Requested range not satisfiable", details: "Limit should be greater than or equal to zero." });
  }
  if (action !== "read" && (params.limit !== null || params.offset !== null)) throw notInStandIn("limit/offset on a write");
  if (action === "read" && request.headers.range !== undefined) throw notInStandIn("The Range header (use limit and offset)");
  const preferences = preferencesOf(request.headers, action !== "read");
  const payload = action === "insert" || action === "update" ? payloadOf(request.headers, request.body, params.columns) : null;
  return {
    action,
    headOnly: request.method === "HEAD",
    schema,
    profileNegotiated: negotiated,
    tableName: segments[0]!,
    params,
    preferences,
    singular: wantsSingleObject(request.headers),
    payload,
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** getPayload: with ?columns= the body goes to Postgres as is; otherwise every object must have the same keys. */
function payloadOf(headers: Record<string, string | string[] | undefined>, raw: string, columns: string[] | null): Payload {
  checkContentType(headers);
  const isObject = (text: string) => text.trimStart().startsWith("{");
  if (columns) return { raw, keys: columns, isObject: isObject(raw) };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw invalidBody("Empty or invalid json");
  }
  const keysOf = (value: unknown) => (typeof value === "object" && value !== null && !Array.isArray(value) ? Object.keys(value).sort() : null);
  if (Array.isArray(json)) {
    if (json.length === 0) return { raw: "[]", keys: [], isObject: false };
    const keys = keysOf(json[0]);
    const same = keys !== null && json.every((item) => keysOf(item)?.join("\0") === keys.join("\0"));
    if (!same) throw invalidBody("All object keys must match");
    return { raw, keys, isObject: false };
  }
  const keys = keysOf(json);
  // Any other JSON value is read as an empty array, as payloadAttributes does.
  return keys ? { raw, keys, isObject: isObject(raw) } : { raw: "[]", keys: [], isObject: false };
}

export function readPlanOf(request: TableRequest, table: Table): ReadPlan {
  const { params } = request;
  return {
    table,
    select: params.select,
    filters: params.filters,
    order: params.order,
    limit: params.limit,
    offset: params.offset,
    singular: request.singular,
    exactCount: request.preferences.exactCount,
  };
}

export function mutationPlanOf(request: TableRequest & { action: MutationPlan["kind"] }, table: Table): MutationPlan {
  const payload = request.payload;
  // iColumns is a set: sorted, and the first unknown one is reported (PGRST204).
  const columns = [...new Set(payload?.keys ?? [])].sort().map((name) => {
    const column = table.columns.get(name);
    if (!column) throw columnNotFound(table.name, name);
    return column;
  });
  return {
    kind: request.action,
    table,
    columns,
    body: payload?.raw ?? "",
    bodyIsObject: payload?.isObject ?? false,
    filters: request.params.filters,
    select: request.params.select,
    order: request.params.order,
    representation: request.preferences.representation,
    singular: request.singular,
  };
}
