// PostgREST's answer to a table request (src/PostgREST/Response.hs actionResponse, RangeQuery.hs
// contentRangeH / rangeStatusHeader): status, Content-Range, Content-Type, Content-Profile and
// Preference-Applied per action.
import { RestError } from "./errors.ts";
import type { TableRequest } from "./request.ts";
import type { StatementRow } from "./statements.ts";

export type RestResponse = { status: number; headers: Record<string, string>; body: string | undefined };

/** contentRangeH: "lower-upper/total", "*" for an empty range and for an unknown total. */
export function contentRange(lower: number, upper: number, total: number | null): string {
  const range = total !== 0 && lower <= upper ? `${lower}-${upper}` : "*";
  return `${range}/${total ?? "*"}`;
}

export function tableResponse(request: TableRequest, row: StatementRow): RestResponse {
  const rows = Number(row.page_total);
  const { preferences } = request;
  const headers: Record<string, string> = {};
  if (preferences.applied.length > 0) headers["preference-applied"] = preferences.applied.join(", ");
  const withBody = (status: number, body: string): RestResponse => {
    headers["content-type"] = `${request.singular ? "application/vnd.pgrst.object+json" : "application/json"}; charset=utf-8`;
    if (request.profileNegotiated) headers["content-profile"] = request.schema;
    return { status, headers, body: request.headOnly ? undefined : body };
  };
  const mutationTotal = preferences.exactCount ? rows : null;
  const body = String(row.body);

  switch (request.action) {
    case "read": {
      const lower = request.params.offset ?? 0;
      const upper = lower + rows - 1;
      const total = row.total_result_set === null ? null : Number(row.total_result_set);
      headers["content-range"] = contentRange(lower, upper, total);
      if (total !== null && lower > total) {
        throw new RestError(416, {
          code: "PGRST103",
          message: "Requested range not satisfiable",
          details: `An offset of ${lower} was requested, but there are only ${total} rows.`,
        }, headers);
      }
      return withBody(total !== null && 1 + upper - lower < total ? 206 : 200, body);
    }
    case "insert":
      headers["content-range"] = contentRange(1, 0, mutationTotal);
      return preferences.representation ? withBody(201, body) : { status: 201, headers, body: undefined };
    case "update":
    case "delete":
      headers["content-range"] = request.action === "update" ? contentRange(0, rows - 1, mutationTotal) : contentRange(1, 0, mutationTotal);
      return preferences.representation ? withBody(200, body) : { status: 204, headers, body: undefined };
  }
}
