// PostgREST's request headers for the table endpoints: the schema profile (ApiRequest.hs
// getSchema), the Accept media type (MediaType.hs, Plan/Negotiate.hs), the body's Content-Type
// (ApiRequest/Payload.hs) and Prefer (ApiRequest/Preferences.hs, with Preference-Applied).
import { invalidBody, notInStandIn, RestError } from "./errors.ts";

/** Supabase's default exposed schemas (supabase/config.toml [api] schemas; this project sets none). */
export const EXPOSED_SCHEMAS = ["public", "graphql_public"];

type Headers = Record<string, string | string[] | undefined>;
const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
};

/** Content-Profile for writes, Accept-Profile for reads; negotiated: answer with Content-Profile. */
export function schemaOf(method: string, headers: Headers): { schema: string; negotiated: boolean } {
  const profile = header(headers, ["POST", "PATCH", "PUT", "DELETE"].includes(method) ? "content-profile" : "accept-profile");
  if (profile === undefined) return { schema: EXPOSED_SCHEMAS[0]!, negotiated: true };
  if (!EXPOSED_SCHEMAS.includes(profile)) {
    throw new RestError(406, { code: "PGRST106", message: `Invalid schema: ${profile}`, hint: `Only the following schemas are exposed: ${EXPOSED_SCHEMAS.join(", ")}` });
  }
  return { schema: profile, negotiated: true };
}

type MediaType = { type: string; params: Map<string, string>; q: number };

function parseMediaTypes(text: string): MediaType[] {
  return text.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [type = "", ...rest] = part.split(";").map((piece) => piece.trim());
    const params = new Map(rest.map((param) => {
      const at = param.indexOf("=");
      return [param.slice(0, at).trim().toLowerCase(), param.slice(at + 1).trim().replace(/^"(.*)"$/, "$1")] as [string, string];
    }));
    return { type: type.toLowerCase(), params, q: Number(params.get("q") ?? 1) };
  });
}

/** The first acceptable media type, by quality: JSON array (false) or one object (true). */
export function wantsSingleObject(headers: Headers): boolean {
  const accepts = parseMediaTypes(header(headers, "accept") ?? "*/*").sort((a, b) => b.q - a.q);
  for (const { type, params } of accepts) {
    const stripped = params.get("nulls") === "stripped";
    if (type === "application/json" || type === "*/*") return false;
    if (type === "application/vnd.pgrst.object+json" || type === "application/vnd.pgrst.object") {
      if (stripped) throw notInStandIn("nulls=stripped");
      return true;
    }
    if (type === "application/vnd.pgrst.array+json" || type === "application/vnd.pgrst.array") {
      if (stripped) throw notInStandIn("nulls=stripped");
      return false;
    }
    if (["text/csv", "application/geo+json", "application/openapi+json"].includes(type) || type.startsWith("application/vnd.pgrst.plan")) {
      throw notInStandIn(`The ${type} response format`);
    }
  }
  throw new RestError(406, { code: "PGRST107", message: `None of these media types are available: ${accepts.map((a) => a.type).join(", ")}` });
}

/** Bodies are JSON here; PostgREST also reads CSV and forms, which are not in the stand-in. */
export function checkContentType(headers: Headers): void {
  const type = parseMediaTypes(header(headers, "content-type") ?? "application/json")[0]?.type ?? "application/json";
  if (type === "application/json") return;
  if (type === "text/csv" || type === "application/x-www-form-urlencoded") throw notInStandIn(`A ${type} body`);
  throw invalidBody(`Content-Type not acceptable: ${type}`);
}

export type Preferences = { representation: boolean; exactCount: boolean; applied: string[] };

const ACCEPTED = [
  "resolution=merge-duplicates", "resolution=ignore-duplicates", "return=representation", "return=minimal", "return=headers-only",
  "count=exact", "count=planned", "count=estimated", "tx=commit", "tx=rollback", "missing=default", "missing=null",
  "handling=strict", "handling=lenient",
];

/** Preferences.fromHeaders: unknown ones are ignored unless handling=strict (PGRST122). */
export function preferencesOf(headers: Headers, isMutation: boolean): Preferences {
  const prefs = (header(headers, "prefer") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const first = (prefix: string) => prefs.find((p) => ACCEPTED.includes(p) && p.startsWith(prefix));
  const invalid = prefs.filter((p) => !ACCEPTED.includes(p) && !p.startsWith("timezone=") && !p.startsWith("max-affected="));
  const handling = first("handling=");
  if (handling === "handling=strict" && invalid.length > 0) {
    throw new RestError(400, { code: "PGRST122", message: "Invalid preferences given with handling=strict", details: `Invalid preferences: ${invalid.join(", ")}` });
  }
  const [resolution, ret, count, missing] = [first("resolution="), first("return="), first("count="), first("missing=")];
  if (resolution) throw notInStandIn(`Prefer: ${resolution} (upsert)`);
  if (ret === "return=headers-only") throw notInStandIn("Prefer: return=headers-only");
  if (count && count !== "count=exact") throw notInStandIn(`Prefer: ${count}`);
  if (missing === "missing=default") throw notInStandIn("Prefer: missing=default");
  if (prefs.some((p) => p.startsWith("timezone="))) throw notInStandIn("Prefer: timezone");
  if (handling === "handling=strict" && prefs.some((p) => p.startsWith("max-affected="))) throw notInStandIn("Prefer: max-affected");
  // prefAppliedHeader's order; tx= is not applied (db-tx-end = commit, PostgREST's default).
  const applied = [isMutation ? missing : undefined, isMutation ? ret : undefined, count, handling].filter((p): p is string => p !== undefined);
  return { representation: ret === "return=representation", exactCount: count === "count=exact", applied };
}
