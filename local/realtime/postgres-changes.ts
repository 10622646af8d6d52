// Who gets a committed change, and what they get, as realtime.apply_rls decides it (supabase/
// realtime tenants/repo/migrations/20260709120000_fix_apply_rls_filter_role_leak.ex), run here
// from Node on the Realtime connection: per subscriber role, the columns it may SELECT; the
// binding's filters ANDed on the new row (or the old one for DELETE); then, when the table has
// RLS and the change is not a DELETE, `select exists(... where <pk> = <value>)` under the
// subscriber's role and claims. Payload: replication_poller.ex generate_record/1 and
// message_dispatcher.ex ({ids, data}).
import type pg from "pg";
import type { CommittedChange } from "./changes.ts";
import { filterSql } from "./filter-sql.ts";
import type { ColumnValue } from "./pgoutput.ts";
import type { PgBinding } from "./subscriptions.ts";

export type ChangeSubscriber = {
  role: string;
  claims: Record<string, unknown>;
  bindings: PgBinding[];
  deliver(payload: { ids: number[]; data: Record<string, unknown> }): void;
};

type Column = { name: string; type: string; castType: string; isPkey: boolean; selectable: boolean[] };

export async function fanOut(pool: pg.Pool, change: CommittedChange, subscribers: ChangeSubscriber[]): Promise<void> {
  const candidates = subscribers
    .map((subscriber) => ({
      subscriber,
      bindings: subscriber.bindings.filter(
        (b) => b.tables.has(change.relation.id) && (b.params.action === "*" || b.params.action === change.type),
      ),
    }))
    .filter((c) => c.bindings.length > 0);
  if (candidates.length === 0) return;

  const roles = [...new Set(candidates.map((c) => c.subscriber.role))].sort();
  const { rows: [table] } = await pool.query<{ rls: boolean }>("select relrowsecurity as rls from pg_class where oid = $1", [change.relation.id]);
  if (!table) return; // dropped since
  const { rows: columns } = await pool.query<Column>(
    `select a.attname as name, t.typname as type, a.atttypid::regtype::text as "castType",
       exists (select from pg_constraint c where c.conrelid = a.attrelid and c.contype = 'p' and a.attnum = any(c.conkey)) as "isPkey",
       array(select has_column_privilege(r, a.attrelid, a.attnum, 'SELECT') from unnest($2::text[]) with ordinality as x(r, n) order by n) as selectable
     from pg_attribute a join pg_type t on t.oid = a.atttypid
     where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
    [change.relation.id, roles],
  );
  const record = await typedValues(pool, change, change.values, columns);
  const oldRecord = await typedValues(pool, change, change.old, columns);
  const filterResults = await evaluateFilters(pool, change, columns, candidates.flatMap((c) => c.bindings));
  const pkColumns = columns.filter((c) => c.isPkey);

  const base = { schema: change.relation.schema, table: change.relation.table };
  for (const [roleIndex, role] of roles.entries()) {
    const mine = candidates.filter((c) => c.subscriber.role === role);
    const denied =
      change.type === "DELETE" ? null
      : pkColumns.length === 0 ? "Error 400: Bad Request, no primary key"
      : pkColumns.some((c) => !c.selectable[roleIndex]) ? "Error 401: Unauthorized"
      : null;
    if (denied) {
      // apply_rls answers every subscription of the role with the error, filters unchecked.
      const data = { ...base, type: change.type, columns: [], commit_timestamp: null, record: {}, errors: [denied] };
      for (const c of mine) c.subscriber.deliver({ ids: c.bindings.map((b) => b.id), data });
      continue;
    }
    const visible = columns.filter((c) => c.selectable[roleIndex]);
    const data: Record<string, unknown> = {
      ...base,
      type: change.type,
      commit_timestamp: change.commitTime.toISOString(), // to_char(... 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
      columns: visible.map((c) => ({ name: c.name, type: c.type })),
      errors: null,
    };
    if (change.type !== "DELETE") data.record = pick({ ...oldRecord, ...record }, visible);
    if (change.type === "UPDATE") data.old_record = pick(oldRecord, visible);
    if (change.type === "DELETE") data.old_record = pick(oldRecord, table.rls ? visible.filter((c) => c.isPkey) : visible);

    for (const c of mine) {
      const ids = c.bindings.filter((b) => filterResults.get(b) === true).map((b) => b.id);
      if (ids.length === 0) continue;
      if (table.rls && change.type !== "DELETE" && !(await canSelect(pool, change, pkColumns, c.subscriber))) continue;
      c.subscriber.deliver({ ids: ids.reverse(), data });
    }
  }
}

/** realtime.cast: each text value cast to its column type, then to_jsonb (bytea kept as text). */
async function typedValues(pool: pg.Pool, change: CommittedChange, values: ColumnValue[] | null, columns: Column[]) {
  const result: Record<string, unknown> = {};
  if (!values) return result;
  const present = change.relation.columns
    .map((column, i) => ({ column, value: values[i] }))
    .filter((entry): entry is { column: typeof entry.column; value: string | null } => typeof entry.value !== "object" || entry.value === null);
  if (present.length === 0) return result;
  const castOf = (name: string) => columns.find((c) => c.name === name)?.castType ?? "text";
  const expressions = present.map(({ column }, i) => castOf(column.name) === "bytea" ? `to_jsonb($${i + 1}::text)` : `to_jsonb($${i + 1}::text::${castOf(column.name)})`);
  const { rows: [row] } = await pool.query<{ values: unknown[] }>(`select jsonb_build_array(${expressions.join(", ")}) as values`, present.map((p) => p.value));
  present.forEach(({ column }, i) => (result[column.name] = row!.values[i]));
  return result;
}

/** Every binding's filters, ANDed; a filter on a column the WAL row lacks hides the row (fail closed). */
async function evaluateFilters(pool: pg.Pool, change: CommittedChange, columns: Column[], bindings: PgBinding[]) {
  const results = new Map<PgBinding, boolean>();
  const rows = change.type === "DELETE" ? [change.old] : [change.values];
  for (const binding of bindings) {
    if (binding.params.filters.length === 0) {
      results.set(binding, true);
      continue;
    }
    const expressions: string[] = [];
    const params: (string | null)[] = [];
    for (const filter of binding.params.filters) {
      const at = change.relation.columns.findIndex((c) => c.name === filter.column);
      const value = rows[0]?.[at];
      const type = columns.find((c) => c.name === filter.column)?.castType;
      if (at < 0 || value === undefined || (typeof value === "object" && value !== null) || !type) {
        expressions.push("false");
        continue;
      }
      params.push(value, filter.value);
      expressions.push(`coalesce(${filterSql(filter, type, `$${params.length - 1}`, `$${params.length}`)}, false)`);
    }
    const visible = await pool
      .query<{ visible: boolean }>(`select ${expressions.join(" and ")} as visible`, params)
      .then(({ rows: [row] }) => row?.visible === true, () => false);
    results.set(binding, visible);
  }
  return results;
}

/** The prepared walrus_rls_stmt, run with the subscriber's role and claims, rolled back. */
async function canSelect(pool: pg.Pool, change: CommittedChange, pkColumns: Column[], subscriber: ChangeSubscriber): Promise<boolean> {
  const client = await pool.connect();
  let healthy = true;
  try {
    await client.query("begin");
    // apply_rls sets exactly these two (the older request.jwt.claim.* settings are gone).
    await client.query("select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)", [subscriber.role, JSON.stringify(subscriber.claims)]);
    const where = pkColumns.map((c, i) => `${escapeIdentifier(c.name)} = $${i + 1}::text::${c.castType}`).join(" and ");
    const values = pkColumns.map((c) => change.values?.[change.relation.columns.findIndex((r) => r.name === c.name)] ?? null);
    const { rows: [row] } = await client.query<{ visible: boolean }>(
      `select exists (select 1 from ${escapeIdentifier(change.relation.schema)}.${escapeIdentifier(change.relation.table)} where ${where}) as visible`,
      values,
    );
    return row?.visible === true;
  } catch {
    return false; // a permission error means not visible
  } finally {
    healthy = await client.query("rollback").then(() => true, () => false);
    client.release(healthy ? undefined : true);
  }
}

function pick(values: Record<string, unknown>, columns: Column[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  // jsonb_object_agg's key order: shorter keys first, then bytewise.
  const names = columns.map((c) => c.name).filter((name) => name in values);
  names.sort((a, b) => Buffer.byteLength(a) - Buffer.byteLength(b) || Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) picked[name] = values[name];
  return picked;
}

function escapeIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
