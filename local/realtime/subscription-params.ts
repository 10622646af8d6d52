// How Supabase Realtime reads one postgres_changes binding of a join (supabase/realtime
// lib/extensions/postgres_cdc_rls/subscriptions.ex parse_subscription_params/1) and the id it
// answers with (realtime_channel.ex add_id_to_postgres_changes: :erlang.phash2(params), a
// deterministic integer below 2^27; here a hash of the same params, also below 2^27).
import { createHash } from "node:crypto";
import type { ChangeType } from "./changes.ts";

export type FilterOp = "eq" | "neq" | "lt" | "lte" | "gt" | "gte" | "in" | "like" | "ilike" | "is" | "match" | "imatch" | "isdistinct";
export type Filter = { column: string; op: FilterOp; value: string; negate: boolean };

export type SubscriptionParams = {
  action: ChangeType | "*";
  schema: string;
  table: string;
  filters: Filter[];
};

const FILTER_OPS: readonly string[] = ["eq", "neq", "lt", "lte", "gt", "gte", "in", "like", "ilike", "is", "match", "imatch", "isdistinct"];

export function bindingId(params: unknown): number {
  return createHash("sha256").update(canonicalJson(params)).digest().readUInt32BE(0) % 2 ** 27;
}

/** The parsed binding, or the error text the real server pushes in its `system` message. */
export function parseSubscriptionParams(params: Record<string, unknown>): SubscriptionParams | { error: string } {
  if ("select" in params) return { error: "postgres_changes `select` (column lists) is not in the local stand-in" };
  const event = typeof params.event === "string" ? params.event.toUpperCase() : "*";
  const action = event === "INSERT" || event === "UPDATE" || event === "DELETE" ? event : "*";
  const { schema, table, filter } = params;
  const has = (key: string) => key in params;
  if (typeof schema === "string" && typeof table === "string" && typeof filter === "string") {
    const filters = parseFilters(filter);
    return "error" in filters ? { error: `Error parsing \`filter\` params: ${filters.error}` } : { action, schema, table, filters };
  }
  if (typeof schema === "string" && typeof table === "string" && !has("filter")) return { action, schema, table, filters: [] };
  if (typeof schema === "string" && !has("table") && !has("filter")) return { action, schema, table: "*", filters: [] };
  if (typeof table === "string" && !has("schema") && !has("filter")) return { action, schema: "public", table, filters: [] };
  return { error: `No subscription params provided. Please provide at least a \`schema\` or \`table\` to subscribe to: ${JSON.stringify(params)}` };
}

function parseFilters(filter: string): Filter[] | { error: string } {
  const trimmed = filter.trim();
  if (trimmed === "") return [];
  const filters: Filter[] = [];
  for (const segment of splitTopLevel(trimmed)) {
    const part = segment.trim();
    if (part === "") return { error: "filter must not contain empty segments (check for extra commas)" };
    const equals = part.indexOf("=");
    if (equals < 0) return { error: JSON.stringify([part]) };
    const column = part.slice(0, equals);
    let rest = part.slice(equals + 1);
    const negate = rest.startsWith("not.");
    if (negate) rest = rest.slice(4);
    const dot = rest.indexOf(".");
    if (dot < 0) return { error: JSON.stringify([rest]) };
    const op = rest.slice(0, dot);
    const value = rest.slice(dot + 1);
    if (!FILTER_OPS.includes(op)) return { error: JSON.stringify([op, value]) };
    if (op === "in") {
      if (!(value.length >= 2 && value.startsWith("(") && value.endsWith(")"))) return { error: "`in` filter value must be wrapped by parentheses" };
      filters.push({ column, op, value: `{${value.slice(1, -1)}}`, negate });
    } else filters.push({ column, op: op as FilterOp, value: unquote(value), negate });
  }
  return filters;
}

/** Splits on commas outside parentheses and double quotes (subscriptions.ex split_top_level). */
function splitTopLevel(filter: string): string[] {
  const segments: string[] = [];
  let current = "";
  let depth = 0;
  let quoted = false;
  let previous = "";
  for (let i = 0; i < filter.length; i++) {
    const char = filter[i]!;
    if (quoted) {
      if (char === "\\" && i + 1 < filter.length) {
        current += char + filter[++i];
        continue;
      }
      if (char === '"') quoted = false;
      current += char;
    } else if (char === '"' && [".", "(", ","].includes(previous)) {
      quoted = true;
      current += char;
    } else if (char === "(") {
      depth++;
      current += char;
    } else if (char === ")") {
      depth = Math.max(0, depth - 1);
      current += char;
    } else if (char === "," && depth === 0) {
      segments.push(current);
      current = "";
      previous = "";
      continue;
    } else current += char;
    previous = char;
  }
  segments.push(current);
  return segments;
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value;
  let result = "";
  for (let i = 1; i < value.length; i++) {
    const char = value[i]!;
    if (char === "\\" && i + 1 < value.length) result += value[++i];
    else if (char === '"') return i === value.length - 1 ? result : value;
    else result += char;
  }
  return value;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
