// One postgres_changes filter as SQL, exactly as realtime.check_equality_op builds it (supabase/
// realtime tenants/repo/migrations/20260626120000_readd_postgrest_filter_ops.ex): both sides cast
// to the column's type, `in` against an array of it, `not.` negating the result.
import type { Filter } from "./subscription-params.ts";

const OPERATORS: Record<string, string> = {
  eq: "=", neq: "!=", lt: "<", lte: "<=", gt: ">", gte: ">=", in: "= any",
  like: "LIKE", ilike: "ILIKE", match: "~", imatch: "~*",
};

/** `value` and `filterValue` are placeholders ($n) for text; `type` is the column's regtype text. */
export function filterSql(filter: Filter, type: string, value: string, filterValue: string): string {
  if (filter.op === "isdistinct") {
    return `(${value}::text::${type} ${filter.negate ? "is not distinct from" : "is distinct from"} ${filterValue}::text::${type})`;
  }
  if (filter.op === "is") {
    // Validated at subscription time to be one of these keywords (subscription_check_filters).
    const keyword = { null: "NULL", true: "TRUE", false: "FALSE", unknown: "UNKNOWN" }[filter.value] ?? "NULL";
    return `(${value}::text::${type} ${filter.negate ? "is not" : "is"} ${keyword})`;
  }
  const comparison = `(${value}::text::${type} ${OPERATORS[filter.op]} (${filterValue}::text::${type}${filter.op === "in" ? "[]" : ""}))`;
  return filter.negate ? `(not ${comparison})` : comparison;
}
