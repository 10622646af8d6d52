// What Supabase Realtime does when a channel subscribes to postgres_changes (supabase/realtime
// lib/extensions/postgres_cdc_rls/subscriptions.ex create/5 and the realtime.subscription
// trigger subscription_check_filters): resolve the tables of publication supabase_realtime that
// match schema and table, check each filter's column and value, and answer with the text the
// real server pushes in its `system` message when that fails.
import type pg from "pg";
import { filterSql } from "./filter-sql.ts";
import type { Filter, SubscriptionParams } from "./subscription-params.ts";

/** A binding the server delivers to: its id (as in the join reply) and the tables it covers. */
export type PgBinding = { id: number; params: SubscriptionParams; tables: Set<number> };

export async function subscribe(
  pool: pg.Pool,
  bindings: { id: number; params: SubscriptionParams }[],
  role: string,
): Promise<PgBinding[] | { error: string }> {
  const subscribed: PgBinding[] = [];
  for (const { id, params } of bindings) {
    const { rows } = await pool.query<{ oid: number }>(
      `select format('%I.%I', schemaname, tablename)::regclass::oid as oid
       from pg_publication_tables
       where pubname = 'supabase_realtime'
         and schemaname like (case $1 when '*' then '%' else $1 end) escape ''
         and tablename like (case $2 when '*' then '%' else $2 end) escape ''`,
      [params.schema, params.table],
    );
    if (rows.length === 0) {
      return {
        error: `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [${paramsToLog(params)}]`,
      };
    }
    for (const { oid } of rows) {
      const problem = await checkFilters(pool, oid, params.filters, role);
      if (problem) {
        return {
          error: `Unable to subscribe to changes with given parameters. An exception happened so please check your connect parameters: [${paramsToLog(params)}]. Exception: ${problem}`,
        };
      }
    }
    subscribed.push({ id, params, tables: new Set(rows.map((row) => Number(row.oid))) });
  }
  return subscribed;
}

/** subscription_check_filters: the column must exist and be selectable by the role; the value must cast. */
async function checkFilters(pool: pg.Pool, table: number, filters: Filter[], role: string): Promise<string | null> {
  for (const filter of filters) {
    const { rows: [column] } = await pool.query<{ type: string }>(
      `select a.atttypid::regtype::text as type from pg_attribute a
       where a.attrelid = $1 and a.attname = $2 and a.attnum > 0 and not a.attisdropped
         and has_column_privilege($3, a.attrelid, a.attnum, 'SELECT')`,
      [table, filter.column, role],
    ).catch(() => ({ rows: [] as { type: string }[] }));
    if (!column) return `ERROR P0001 (raise_exception) invalid column for filter ${filter.column}`;
    if (filter.op === "is") {
      if (!["null", "true", "false", "unknown"].includes(filter.value)) return "ERROR P0001 (raise_exception) invalid value for is filter: must be null, true, false, or unknown";
      if (filter.value !== "null" && column.type !== "boolean") return `ERROR P0001 (raise_exception) is ${filter.value} filter requires a boolean column, got ${column.type}`;
      continue;
    }
    try {
      const { rows: [cast] } = await pool.query<{ count: number | null }>(
        filter.op === "in"
          ? `select cardinality($1::text::${column.type}[]) as count`
          : `select null::int as count from (select $1::text::${column.type}) as v`,
        [filter.value],
      );
      if (filter.op === "in" && (cast?.count ?? 0) > 100) return "ERROR P0001 (raise_exception) too many values for `in` filter. Maximum 100";
      // Checks the expression once, so an operator the type lacks fails now, not at delivery.
      await pool.query(`select ${filterSql(filter, column.type, "$1", "$1")}`, [null]);
    } catch (error) {
      return `ERROR ${(error as pg.DatabaseError).code ?? ""} ${(error as Error).message}`;
    }
  }
  return null;
}

function paramsToLog(params: SubscriptionParams): string {
  const filters = params.filters.map((f) => `{${JSON.stringify(f.column)}, ${JSON.stringify(f.op)}, ${JSON.stringify(f.value)}, ${f.negate}}`);
  return `event: ${params.action}, schema: ${params.schema}, table: ${params.table}, filters: [${filters.join(", ")}], select: nil`;
}
