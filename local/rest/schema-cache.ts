// PostgREST's schema cache for tables (src/PostgREST/SchemaCache.hs: allTables, allColumns):
// every table, view or foreign table of an exposed schema, whatever the caller's grants, with
// each column's nominal type (format_type with its modifier) and the primary key columns.
import type pg from "pg";

export type Column = { name: string; type: string };
export type Table = { schema: string; name: string; columns: Map<string, Column>; primaryKey: string[] };

export function createSchemaCache(pool: pg.Pool) {
  const tables = new Map<string, Table>();
  /** Read once per table and kept, as PostgREST keeps its cache until a reload. */
  return async function findTable(schema: string, name: string): Promise<Table | undefined> {
    const key = `${schema}.${name}`;
    const cached = tables.get(key);
    if (cached) return cached;
    const { rows } = await pool.query<{ column: string; type: string; in_pk: boolean }>(
      `select a.attname as column, format_type(a.atttypid, a.atttypmod) as type,
              coalesce(a.attnum = any(i.indkey), false) as in_pk
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
       left join pg_index i on i.indrelid = c.oid and i.indisprimary
       where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'v', 'm', 'f', 'p')
       order by a.attnum`,
      [schema, name],
    );
    if (rows.length === 0) return undefined;
    const table: Table = {
      schema,
      name,
      columns: new Map(rows.map((row) => [row.column, { name: row.column, type: row.type }])),
      primaryKey: rows.filter((row) => row.in_pk).map((row) => row.column),
    };
    tables.set(key, table);
    return table;
  };
}
