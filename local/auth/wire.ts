// GoTrue's HTTP conventions for the Auth stand-in: its error JSON per API version
// (supabase/auth internal/api/errors.go, apierrors/apierrors.go, apiversions.go) and its
// request-body parsing (internal/api/helpers.go retrieveRequestParams, 1 MB limit from api.go).
import type { IncomingMessage, ServerResponse } from "node:http";

/** An error GoTrue answers with a status and an error code (apierrors.HTTPError). */
export class AuthFailure extends Error {
  readonly status: number;
  readonly errorCode: string;
  constructor(status: number, errorCode: string, message: string) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
  }
}

const API_VERSION_HEADER = "x-supabase-api-version";
const MAX_BODY_BYTES = 1 << 20;

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/**
 * errors.go HandleResponseError: a client that sends `X-Supabase-Api-Version: 2024-01-01` or
 * later (supabase-js does) gets `{code, message}` and the header echoed, which auth-js needs
 * to read `code` (lib/fetch.ts:100-113); others get the legacy `{code: <status>, error_code, msg}`.
 * Both get the `x-sb-error-code` header.
 */
export function sendAuthError(request: IncomingMessage, response: ServerResponse, failure: AuthFailure): void {
  response.setHeader("x-sb-error-code", failure.errorCode);
  if (requestsApiVersion20240101(request.headers[API_VERSION_HEADER])) {
    response.setHeader("X-Supabase-Api-Version", "2024-01-01");
    return sendJson(response, failure.status, { code: failure.errorCode, message: failure.message });
  }
  sendJson(response, failure.status, { code: failure.status, error_code: failure.errorCode, msg: failure.message });
}

/** apiversions.go DetermineClosestAPIVersion: a YYYY-MM-DD date on or after 2024-01-01; anything else is the initial version. */
function requestsApiVersion20240101(value: string | string[] | undefined): boolean {
  const date = Array.isArray(value) ? value[0] : value;
  if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) return false;
  return date >= "2024-01-01";
}

/** retrieveRequestParams: the body must be JSON (an empty body is not); over 1 MB is a 413. */
export async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new AuthFailure(413, "request_entity_too_large", `Request body too large (max ${MAX_BODY_BYTES} bytes)`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = text.trim() === "" ? "unexpected end of JSON input" : (error as Error).message;
    throw new AuthFailure(400, "bad_json", `Could not parse request body as JSON: ${reason}`);
  }
  // Go unmarshals `null` into the zero struct; other non-objects fail like a wrong type would.
  if (parsed === null) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new AuthFailure(400, "bad_json", "Could not parse request body as JSON: json: cannot unmarshal into Go value of type struct");
  }
  return parsed as Record<string, unknown>;
}

/** A string field of the body, as Go's json.Unmarshal into a `string` field reads it. */
export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") {
    throw new AuthFailure(400, "bad_json", `Could not parse request body as JSON: json: cannot unmarshal ${typeof value} into Go struct field .${name} of type string`);
  }
  return value;
}

export function headerOf(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
