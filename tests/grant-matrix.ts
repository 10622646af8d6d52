// Every privilege granted in the project's own schemas (public and private), to anyone but the
// owner: schemas, tables, columns, sequences and functions, one line each, sorted.
import type pg from "pg";

export async function grantMatrix(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ line: string }>(`
    with objects as (
      select 'schema ' || n.nspname as object, n.nspowner as owner, n.nspacl as acl
      from pg_namespace n where n.nspname in ('public', 'private')
      union all
      select case c.relkind when 'S' then 'sequence ' else 'table ' end || n.nspname || '.' || c.relname,
             c.relowner, c.relacl
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('public', 'private') and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
      union all
      select 'column ' || n.nspname || '.' || c.relname || '.' || a.attname, c.relowner, a.attacl
      from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('public', 'private') and a.attnum > 0 and not a.attisdropped and a.attacl is not null
      union all
      select format('function %s.%s(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), p.proowner,
             -- A function without an ACL has PostgreSQL's default: EXECUTE for PUBLIC.
             coalesce(p.proacl, acldefault('f', p.proowner))
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'private')
    )
    select format('%s: %s %s', o.object, case when g.grantee = 0 then 'PUBLIC' else g.grantee::regrole::text end,
                  g.privilege_type) as line
    from objects o cross join lateral aclexplode(o.acl) g
    where g.grantee <> o.owner
    order by 1`);
  return rows.map((row) => row.line);
}
