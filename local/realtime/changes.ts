// Reads committed changes of the tables in publication supabase_realtime, in commit order, by
// logical decoding, as Supabase Realtime's ReplicationPoller does (supabase/realtime
// lib/extensions/postgres_cdc_rls/replication_poller.ex and replications.ex) with pgoutput in
// place of wal2json: poll pg_logical_slot_get_binary_changes on a slot of its own.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type ColumnValue, decodeMessage, type Relation } from "./pgoutput.ts";

export type ChangeType = "INSERT" | "UPDATE" | "DELETE";

export type CommittedChange = {
  type: ChangeType;
  relation: Relation;
  values: ColumnValue[] | null;
  old: ColumnValue[] | null;
  commitTime: Date;
};

export type ChangeFeed = { stop(): Promise<void> };

const POLL_INTERVAL_MS = 75;
const RECONNECT_DELAY_MS = 500;

/**
 * The slot is TEMPORARY, as the real poller's is (pg_create_logical_replication_slot(name,
 * 'wal2json', true)): it lives as long as this connection, so a database restart or stop() can
 * never leave a slot behind that pins WAL forever; what commits while no slot exists is not
 * delivered, on Supabase as here (clients refetch after they rejoin).
 */
export function startChangeFeed(options: {
  databaseUrl: string;
  onTransaction: (changes: CommittedChange[]) => Promise<void>;
  log: (line: string) => void;
}): ChangeFeed {
  const slot = `supabase_realtime_local_${randomBytes(6).toString("hex")}`;
  const relations = new Map<number, Relation>();
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function connect(): Promise<pg.Client> {
    const next = new pg.Client({ connectionString: options.databaseUrl, application_name: "realtime_rls" });
    next.on("error", () => {});
    await next.connect();
    try {
      await next.query("select pg_create_logical_replication_slot($1, 'pgoutput', true)", [slot]);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    relations.clear();
    return next;
  }

  async function poll(): Promise<void> {
    try {
      client ??= await connect();
      const { rows } = await client.query<{ data: Buffer }>(
        `select data from pg_logical_slot_get_binary_changes($1, null, null,
           'proto_version', '1', 'publication_names', 'supabase_realtime')`,
        [slot],
      );
      let transaction: Omit<CommittedChange, "commitTime">[] = [];
      for (const { data } of rows) {
        const message = decodeMessage(data);
        if (message.tag === "begin") transaction = [];
        else if (message.tag === "relation") relations.set(message.relation.id, message.relation);
        else if (message.tag === "insert" || message.tag === "update" || message.tag === "delete") {
          const relation = relations.get(message.relationId);
          if (!relation) throw new Error(`pgoutput: change for unknown relation ${message.relationId}`);
          transaction.push({
            type: message.tag === "insert" ? "INSERT" : message.tag === "update" ? "UPDATE" : "DELETE",
            relation,
            values: message.tag === "delete" ? null : message.values,
            old: message.tag === "insert" ? null : message.old,
          });
        } else if (message.tag === "commit" && transaction.length > 0) {
          const commitTime = message.commitTime;
          await options.onTransaction(transaction.map((change) => ({ ...change, commitTime })));
          transaction = [];
        }
      }
    } catch (error) {
      if (stopped) return;
      options.log(`change feed: ${(error as Error).message}; reconnecting`);
      const broken = client;
      client = undefined;
      await broken?.end().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
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
      await client?.end().catch(() => {});
      client = undefined;
    },
  };
}
