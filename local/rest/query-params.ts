// The query string of PostgREST's table endpoints, as src/PostgREST/ApiRequest/QueryParams.hs
// parses it: select, filters (col=[not.]op.value), order, limit, offset and columns. Embedding,
// casts, aliases, JSON paths, logic trees (and/or) and the rarer operators are not in the stand-in.
import { notEmbedded, notInStandIn, queryParamError } from "./errors.ts";

export type IsValue = "null" | "not_null" | "true" | "false" | "unknown";
export type Operation =
  | { op: "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "like" | "ilike" | "match" | "imatch" | "isdistinct"; value: string }
  | { op: "in"; values: string[] }
  | { op: "is"; value: IsValue };
export type Filter = { column: string; negate: boolean; operation: Operation };
export type OrderTerm = { column: string; direction: "asc" | "desc" | null; nulls: "nullsfirst" | "nullslast" | null };

export type QueryParams = {
  /** "*" or column names, in order (an empty select means "*", as in PostgREST). */
  select: string[];
  filters: Filter[];
  order: OrderTerm[];
  limit: number | null;
  offset: number | null;
  columns: string[] | null;
};

const RESERVED = ["select", "columns", "on_conflict"];
const RESERVED_EMBEDDABLE = ["order", "limit", "offset", "and", "or"];
/** pIdentifier: letters, digits, "_", "$", " " (and "-" between them, sepByDash). */
const IDENTIFIER = /^[\p{L}\p{N}_ $]+(?:-(?!>)[\p{L}\p{N}_ $]+)*$/u;

/** Pairs in order; a key without "=" has no value and is skipped, as Network.HTTP.Types.parseQuery does. */
export function parseQueryString(search: string): [string, string][] {
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text.replaceAll("+", " "));
    } catch {
      return text;
    }
  };
  return search.replace(/^\?/, "").split("&").flatMap((part): [string, string][] => {
    const at = part.indexOf("=");
    return part === "" || at < 0 ? [] : [[decode(part.slice(0, at)), decode(part.slice(at + 1))]];
  });
}

export function parseQueryParams(pairs: [string, string][]): QueryParams {
  const params: QueryParams = { select: ["*"], filters: [], order: [], limit: null, offset: null, columns: null };
  for (const [key, value] of pairs) {
    const path = key.split(".");
    const last = path[path.length - 1]!;
    if (RESERVED.includes(key)) {
      if (key === "select") params.select = parseSelect(value);
      else if (key === "columns") params.columns = parseColumns(value);
      else throw notInStandIn("on_conflict (upsert)");
    } else if (RESERVED_EMBEDDABLE.includes(last)) {
      if (path.length > 1) throw notEmbedded(path[0]!);
      if (last === "order") params.order = parseOrder(value);
      // Haskell's readMaybe: a limit or offset that is not an integer is ignored.
      else if (last === "limit" && /^-?\d+$/.test(value)) params.limit = Number(value);
      else if (last === "offset" && /^-?\d+$/.test(value)) params.offset = Number(value);
      else if (last === "and" || last === "or") throw notInStandIn(`The '${last}' logic filter`);
    } else {
      params.filters.push({ column: filterColumn(key), ...parseFilterValue(value) });
    }
  }
  return params;
}

function filterColumn(key: string): string {
  if (key.includes("->")) throw notInStandIn("Filtering on a JSON path");
  if (key.startsWith('"')) throw notInStandIn("A quoted column name");
  const path = key.split(".");
  if (!path.every((name) => IDENTIFIER.test(name))) {
    throw queryParamError("tree path", key, 1, `unexpected ${JSON.stringify(key[0] ?? "")} expecting field name (* or [a..z0..9_$])`);
  }
  if (path.length > 1) throw notEmbedded(path[0]!);
  return key.trim();
}

/** pOpExpr: optional "not.", then the operator, its "." and the value (the rest of the text). */
export function parseFilterValue(text: string): { negate: boolean; operation: Operation } {
  const negate = text.startsWith("not.");
  const rest = negate ? text.slice(4) : text;
  const at = negate ? 5 : 1;
  const dot = rest.indexOf(".");
  const operator = dot < 0 ? rest : rest.slice(0, dot);
  const value = rest.slice(dot + 1);
  const expected = `expecting ${negate ? "" : '"not" or '}operator (eq, gt, ...)`;
  if (dot < 0) throw queryParamError("filter", text, at, `unexpected ${JSON.stringify(rest[0] ?? "end of input")} ${expected}`);
  switch (operator) {
    case "eq": case "neq": case "gt": case "gte": case "lt": case "lte":
    case "like": case "ilike": case "match": case "imatch": case "isdistinct":
      return { negate, operation: { op: operator, value } };
    case "in":
      return { negate, operation: { op: "in", values: parseList(text, value, at + 3) } };
    case "is": {
      // pIsVal reads a case-insensitive keyword and, like every filter, ignores what follows it.
      const keyword = (["not_null", "null", "true", "false", "unknown"] as const).find((word) => value.toLowerCase().startsWith(word));
      if (!keyword) throw queryParamError("filter", text, at + 3, `unexpected ${JSON.stringify(value[0] ?? "end of input")} expecting isVal: (null, not_null, true, false, unknown)`);
      return { negate, operation: { op: "is", value: keyword } };
    }
    case "cs": case "cd": case "ov": case "sl": case "sr": case "nxr": case "nxl": case "adj":
    case "fts": case "plfts": case "phfts": case "wfts":
      throw notInStandIn(`The '${operator}' filter operator`);
    default:
      if (/^(eq|gte?|lte?|like|ilike|match|imatch)\((any|all)\)$/.test(operator)) throw notInStandIn("A quantified filter (any/all)");
      if (/^(fts|plfts|phfts|wfts)\(/.test(operator)) throw notInStandIn(`Full text search`);
      throw queryParamError("filter", text, at, `unexpected ${JSON.stringify(rest[0] ?? "")} ${expected}`);
  }
}

/** pListVal: "(a,b,"quoted, with \" escapes")"; what follows the closing parenthesis is ignored. */
function parseList(filter: string, text: string, column: number): string[] {
  const trimmed = text.replace(/^[ \t]+/, "");
  if (!trimmed.startsWith("(")) throw queryParamError("filter", filter, column, `unexpected ${JSON.stringify(trimmed[0] ?? "end of input")} expecting "("`);
  const values: string[] = [];
  let i = 1;
  for (;;) {
    let element = "";
    const quoted = /^"((?:[^"\\]|\\.)*)"(?=[,)])/.exec(trimmed.slice(i));
    if (quoted) {
      element = quoted[1]!.replace(/\\(.)/g, "$1");
      i += quoted[0].length;
    } else {
      while (i < trimmed.length && trimmed[i] !== "," && trimmed[i] !== ")") element += trimmed[i++];
    }
    values.push(element);
    if (trimmed[i] === ",") i++;
    else if (trimmed[i] === ")") return values;
    else throw queryParamError("filter", filter, column + i, 'unexpected end of input expecting "," or ")"');
  }
}

/** pFieldForest, for plain columns and "*" only. */
function parseSelect(text: string): string[] {
  if (text.trim() === "") return ["*"];
  return text.split(",").map((item, index) => {
    const field = item.trim();
    if (/[()!]|::?|->|^\.\.\./.test(field)) throw notInStandIn(`This select (embedding, casts, aliases, JSON paths, aggregates: '${field}')`);
    if (field === "*") return field;
    if (field.startsWith('"')) throw notInStandIn("A quoted column name");
    if (!IDENTIFIER.test(field)) {
      const column = text.split(",").slice(0, index).join(",").length + (index > 0 ? 2 : 1);
      throw queryParamError("select parameter", text, column, `unexpected ${JSON.stringify(field[0] ?? "end of input")} expecting field name (* or [a..z0..9_$])`);
    }
    return field;
  });
}

/** pOrder: col[.asc|.desc][.nullsfirst|.nullslast], comma-joined. */
function parseOrder(text: string): OrderTerm[] {
  return text.split(",").map((term) => {
    const parts = term.trim().split(".");
    const column = parts[0]!.trim();
    if (column.includes("->")) throw notInStandIn("Ordering by a JSON path");
    if (column.includes("(")) throw notInStandIn("Ordering by an embedded resource");
    let direction: OrderTerm["direction"] = null;
    let nulls: OrderTerm["nulls"] = null;
    let next = 1;
    if (parts[next] === "asc" || parts[next] === "desc") direction = parts[next++] as "asc" | "desc";
    if (parts[next] === "nullsfirst" || parts[next] === "nullslast") nulls = parts[next++] as "nullsfirst" | "nullslast";
    if (!IDENTIFIER.test(column) || next !== parts.length) {
      throw queryParamError("order", text, 1, `unexpected ${JSON.stringify(parts[next] ?? column)} expecting ".asc", ".desc", ".nullsfirst", ".nullslast", "," or end of input`);
    }
    return { column, direction, nulls };
  });
}

/** pColumns: field names, plain or double-quoted (supabase-js sends columns="a","b"). */
function parseColumns(text: string): string[] {
  const names: string[] = [];
  const field = /\s*(?:"((?:[^"\\]|\\.)*)"|([\p{L}\p{N}_ $-]+?))\s*(,|$)/uy;
  let match: RegExpExecArray | null;
  let lastSeparator = "";
  while (field.lastIndex < text.length && (match = field.exec(text))) {
    names.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2]!.trim());
    lastSeparator = match[3]!;
    if (match[3] === "") break;
  }
  // pFieldName `sepBy1` (char ','): a comma must be followed by another name ("a," is refused).
  if (names.length === 0 || field.lastIndex !== text.length || lastSeparator === ",") {
    throw queryParamError("columns parameter", text, field.lastIndex + 1, "expecting field name (* or [a..z0..9_$])");
  }
  return names;
}
