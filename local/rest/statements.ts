// The SQL PostgREST runs for a table request, in the shape of src/PostgREST/Query/Statements.hs
// (mainRead, mainWrite) and QueryBuilder.hs / SqlFragment.hs: a pgrst_source CTE, then one row of
// page_total and the JSON body. Values are untyped literals that Postgres coerces to the column's
// type, as PostgREST's "unknown" parameters are; the JSON body goes through json_to_record(set)
// typed by the schema cache, so an insert names only the keys sent and defaults fill the rest.
import pg from "pg";
import { RestError } from "./errors.ts";
import type { Filter, OrderTerm } from "./query-params.ts";
import type { Column, Table } from "./schema-cache.ts";

export type ReadPlan = {
  table: Table;
  select: string[];
  filters: Filter[];
  order: OrderTerm[];
  limit: number | null;
  offset: number | null;
  singular: boolean;
  exactCount: boolean;
};

export type MutationPlan = {
  kind: "insert" | "update" | "delete";
  table: Table;
  /** The body's keys (or ?columns=), resolved in the schema cache. */
  columns: Column[];
  body: string;
  bodyIsObject: boolean;
  filters: Filter[];
  select: string[];
  order: OrderTerm[];
  representation: boolean;
  singular: boolean;
};

export type StatementRow = { total_result_set: string | null; page_total: string; body: unknown };

const ident = (name: string) => pg.escapeIdentifier(name);
const qualified = (table: Table) => `${ident(table.schema)}.${ident(table.name)}`;
const column = (qualifier: string, name: string) => (name === "*" ? `${qualifier}.*` : `${qualifier}.${ident(name)}`);

/** A literal of unknown type; Postgres itself refuses NUL in text (22021), so it never reaches the query string. */
function literal(value: string): string {
  if (value.includes("\0")) throw new RestError(400, { code: "22021", message: 'invalid byte sequence for encoding "UTF8": 0x00' });
  return pg.escapeLiteral(value);
}

/** pgBuildArrayLiteral: '{"a","b"}' for `= ANY (...)`, NUL characters trimmed as PostgREST does. */
function arrayLiteral(values: string[]): string {
  const escape = (value: string) => `"${value.replaceAll("\0", "").replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return literal(`{${values.map(escape).join(",")}}`);
}

const OPERATORS = { eq: "=", neq: "<>", gt: ">", gte: ">=", lt: "<", lte: "<=", like: "like", ilike: "ilike", match: "~", imatch: "~*" } as const;

/** pgFmtFilter */
function filterSql(qualifier: string, filter: Filter): string {
  const field = column(qualifier, filter.column);
  const { operation } = filter;
  let condition: string;
  switch (operation.op) {
    case "in":
      condition = operation.values.length === 1 && operation.values[0] === "" ? `${field} = ANY('{}')` : `${field} = ANY (${arrayLiteral(operation.values)})`;
      break;
    case "is":
      condition = `${field} IS ${operation.value.replace("_", " ").toUpperCase()}`;
      break;
    case "isdistinct":
      condition = `${field} IS DISTINCT FROM ${literal(operation.value)}`;
      break;
    case "like":
    case "ilike":
      condition = `${field} ${OPERATORS[operation.op]} ${literal(operation.value.replaceAll("*", "%"))}`;
      break;
    default:
      condition = `${field} ${OPERATORS[operation.op]} ${literal(operation.value)}`;
  }
  return filter.negate ? `NOT ${condition}` : condition;
}

const whereSql = (qualifier: string, filters: Filter[]) =>
  filters.length === 0 ? "" : ` WHERE ${filters.map((filter) => filterSql(qualifier, filter)).join(" AND ")}`;

/** orderF */
function orderSql(qualifier: string, order: OrderTerm[]): string {
  if (order.length === 0) return "";
  const terms = order.map((term) =>
    [column(qualifier, term.column), term.direction?.toUpperCase(), term.nulls && (term.nulls === "nullsfirst" ? "NULLS FIRST" : "NULLS LAST")]
      .filter(Boolean).join(" ")
  );
  return ` ORDER BY ${terms.join(", ")}`;
}

const selectList = (qualifier: string, select: string[]) => select.map((name) => column(qualifier, name)).join(", ");

const bodySql = (singular: boolean) => (singular ? "coalesce(json_agg(_postgrest_t)->0, 'null')" : "coalesce(json_agg(_postgrest_t), '[]')");

/** mainRead */
export function readStatement(plan: ReadPlan): string {
  const table = qualified(plan.table);
  const ranged = plan.limit !== null || plan.offset !== null;
  const limit = ranged ? ` LIMIT ${plan.limit ?? "ALL"} OFFSET ${plan.offset ?? 0}` : "";
  const where = whereSql(table, plan.filters);
  // countF: with a limit or offset the total needs its own count; without, it is the page's.
  const countCte = plan.exactCount && ranged ? `, pgrst_source_count AS (SELECT 1 FROM ${table}${where})` : "";
  const total = !plan.exactCount ? "null::bigint" : ranged ? "(SELECT pg_catalog.count(*) FROM pgrst_source_count)" : "pg_catalog.count(_postgrest_t)";
  return `WITH pgrst_source AS ( SELECT ${selectList(table, plan.select)} FROM ${table}${where}${orderSql(table, plan.order)}${limit} )${countCte} ` +
    `SELECT ${total} AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, ${bodySql(plan.singular)} AS body ` +
    `FROM ( SELECT * FROM pgrst_source ) _postgrest_t`;
}

/** mainWrite over mutatePlanToQuery */
export function mutationStatement(plan: MutationPlan): string {
  const alias = ident(plan.table.name);
  const selectBack = plan.representation
    ? `SELECT ${selectList(alias, plan.select)} FROM "pgrst_source" AS ${alias}${orderSql(alias, plan.order)}`
    : "SELECT * FROM pgrst_source";
  return `WITH pgrst_source AS (${mutationSql(plan)}) ` +
    `SELECT '' AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, ${plan.representation ? bodySql(plan.singular) : "''"} AS body ` +
    `FROM (${selectBack}) _postgrest_t`;
}

function mutationSql(plan: MutationPlan): string {
  const table = qualified(plan.table);
  const names = plan.columns.map((c) => ident(c.name));
  const where = whereSql(table, plan.filters);
  switch (plan.kind) {
    case "insert":
      return `INSERT INTO ${table}${names.length === 0 ? " " : `(${names.join(", ")}) `}` +
        `SELECT ${names.map((name) => `"pgrst_body".${name}`).join(", ")} ${jsonBodySource(plan)} ${returningSql(plan)}`;
    case "update":
      if (names.length === 0) {
        // No columns: nothing to set; an empty result with the columns ?select= may name.
        return `SELECT ${plan.representation ? selectList(ident(plan.table.name), returnings(plan)) : "NULL"} FROM ${table} WHERE false`;
      }
      return `UPDATE ${table} SET ${names.map((name) => `${name} = "pgrst_body".${name}`).join(", ")} ` +
        `${jsonBodySource(plan)}${where} ${returningSql(plan)}`;
    case "delete":
      return `DELETE FROM ${table} ${where} ${returningSql(plan)}`;
  }
}

/** fromJsonBodyF: the body parsed once, its keys typed by the table's columns. */
function jsonBodySource(plan: MutationPlan): string {
  const payload = `FROM (SELECT ${literal(plan.body)}::json AS json_data) pgrst_payload, `;
  const names = plan.columns.map((c) => ident(c.name));
  const typed = plan.columns.map((c) => `${ident(c.name)} ${c.type}`).join(", ");
  const source = names.length > 0
    ? `${plan.bodyIsObject ? "json_to_record" : "json_to_recordset"}(pgrst_payload.json_data) AS _(${typed}) `
    : plan.bodyIsObject ? "(values(1)) _ " : "json_array_elements(pgrst_payload.json_data) _ ";
  return `${payload}LATERAL (SELECT ${names.join(", ")} FROM ${source}) pgrst_body `;
}

/** inferColsEmbedNeeds: "*", or the selected columns plus the primary key. */
function returnings(plan: MutationPlan): string[] {
  return plan.select.includes("*") ? ["*"] : [...new Set([...plan.select, ...plan.table.primaryKey])];
}

/** returningF: RETURNING 1 when no representation is asked for, so SELECT policies do not apply then. */
function returningSql(plan: MutationPlan): string {
  return plan.representation ? `RETURNING ${selectList(qualified(plan.table), returnings(plan))}` : "RETURNING 1";
}
