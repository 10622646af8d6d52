// Broadcast from Database (supabase/realtime lib/realtime/tenants/replication_connection.ex):
// rows that realtime.send() / realtime.broadcast_changes() insert into realtime.messages go to
// the members of their topic as {type: "broadcast", event, payload, meta: {id}}. The real server
// reads them from its own replication stream; here the table is polled for rows not seen yet.
import type pg from "pg";
import { broadcastToTopic, type Hub } from "./hub.ts";

const POLL_INTERVAL_MS = 100;
// inserted_at is the inserting transaction's start time, so a transaction that commits later
// than it started inserts rows older than the last ones seen: look back this far (rows of a
// transaction that ran longer are not delivered here; the README's table of stand-ins says so),
// and remember what was delivered. Ids first, rows only for the new ones: the window is re-read
// ten times a second.
const LOOKBACK_MS = 10_000;

export type DatabaseBroadcast = { stop(): Promise<void> };

export function startDatabaseBroadcast(pool: pg.Pool, hub: Hub, log: (line: string) => void): DatabaseBroadcast {
  const delivered = new Map<string, number>(); // id -> when delivered (ms)
  // Timestamps stay text (timestamp without time zone), so Node's time zone cannot shift them.
  let since: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function poll(): Promise<void> {
    try {
      if (!since) {
        // Only what is sent from now on, as a replication stream starts at its slot.
        const { rows: [row] } = await pool.query<{ now: string }>("select clock_timestamp()::timestamp::text as now");
        since = row!.now;
        return;
      }
      const { rows: recent } = await pool.query<{ id: string }>(
        `select id::text as id from realtime.messages
         where extension = 'broadcast' and inserted_at >= $1::timestamp - $2 * interval '1 millisecond'`,
        [since, LOOKBACK_MS],
      );
      const unseen = recent.map((row) => row.id).filter((id) => !delivered.has(id));
      if (unseen.length === 0) return;
      const { rows } = await pool.query<{ id: string; topic: string; event: string | null; payload: unknown; private: boolean | null; inserted_at: string }>(
        `select id, topic, event, payload, private, inserted_at::text as inserted_at from realtime.messages
         where id = any($1::uuid[]) order by inserted_at, id`,
        [unseen],
      );
      for (const row of rows) {
        if (delivered.has(row.id)) continue;
        delivered.set(row.id, Date.now());
        if (row.inserted_at > since) since = row.inserted_at;
        broadcastToTopic(hub, row.topic, row.private === true, row.event ?? "", { encoding: "json", value: row.payload ?? {} }, { id: row.id });
      }
      const horizon = Date.now() - 3 * LOOKBACK_MS;
      for (const [id, at] of delivered) if (at < horizon) delivered.delete(id);
    } catch (error) {
      if (!stopped) log(`database broadcast: ${(error as Error).message}`);
    }
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll().finally(schedule);
    }, POLL_INTERVAL_MS);
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
}
