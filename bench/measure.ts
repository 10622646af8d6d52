// Measuring helpers for the benchmark: visitors that write, a watcher that learns of AI replies,
// and latencies read from the database's own timestamps (one clock, microsecond precision).
import { readdirSync, readFileSync } from "node:fs";
import type pg from "pg";
import { asVisitor, withClaims } from "../local/visitor.ts";
import { createProject, type ProjectSettings, startConversation, visitorSays } from "../tests/helpers.ts";

export type Conversation = { visitorId: string; conversationId: string };

export async function conversations(pool: pg.Pool, count: number, settings: ProjectSettings = {}): Promise<Conversation[]> {
  const projectId = await createProject(pool, { ai_reply_delay_ms: 0, ...settings });
  return Promise.all(Array.from({ length: count }, () => startConversation(pool, projectId)));
}

/** Learns of AI replies by polling one indexed query, so waiting costs the pipeline almost nothing. */
export function replyWatcher(pool: pg.Pool) {
  const waiting = new Map<string, () => void>();
  let since = new Date(0);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      if (waiting.size > 0) {
        const { rows } = await pool.query<{ reply_to: string; created_at: Date }>(
          "select reply_to, created_at from public.messages where sender_id = 'AI_BOT' and created_at >= $1",
          [since],
        );
        for (const row of rows) {
          waiting.get(row.reply_to)?.();
          waiting.delete(row.reply_to);
          if (row.created_at > since) since = new Date(row.created_at.getTime() - 1000);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  return {
    replyTo(messageId: string, timeoutMs = 30_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${messageId} within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(messageId, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Milliseconds from each visitor message's insert to its AI reply, by the database's clock. */
export async function replyLatencies(pool: pg.Pool, messageIds: string[]): Promise<number[]> {
  const { rows } = await pool.query<{ ms: number }>(
    `select extract(epoch from r.created_at - m.created_at) * 1000 as ms
     from public.messages m join public.messages r on r.reply_to = m.id
     where m.id = any($1)`,
    [messageIds],
  );
  return rows.map((row) => Number(row.ms));
}

/** Each conversation sends `perConversation` messages, one after the other, each after the last reply. */
export async function closedLoop(pool: pg.Pool, watcher: ReturnType<typeof replyWatcher>, talkers: Conversation[], perConversation: number) {
  const messageIds: string[] = [];
  const started = performance.now();
  await Promise.all(talkers.map(async ({ visitorId, conversationId }, t) => {
    for (let i = 0; i < perConversation; i++) {
      const id = await visitorSays(pool, visitorId, conversationId, `bench question ${t}.${i}: when do you open?`);
      messageIds.push(id);
      await watcher.replyTo(id);
    }
  }));
  return { messageIds, elapsedMs: performance.now() - started };
}

/** The same database work as one answered message, straight over SQL: no HTTP, no worker, no LLM. */
export async function floorRound(pool: pg.Pool, { visitorId, conversationId }: Conversation, content: string): Promise<number> {
  const started = performance.now();
  const messageId = await asVisitor(pool, visitorId, async (client) =>
    (await client.query<{ id: string }>(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, $3) returning id",
      [conversationId, visitorId, content],
    )).rows[0]!.id
  );
  await withClaims(pool, { role: "service_role" }, (client) => client.query("select public.ai_reply_context($1)", [messageId]));
  await withClaims(pool, { role: "service_role" }, (client) =>
    client.query("select public.ai_post_reply(message_id => $1, content => $2, model => 'floor')", [messageId, "floor answer"])
  );
  return performance.now() - started;
}

export function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
  const round = (value: number) => Math.round(value * 10) / 10;
  return { n: sorted.length, p50: round(at(50)), p95: round(at(95)), p99: round(at(99)), max: round(at(100)) };
}

/**
 * CPU seconds used so far by this Node process, the function's Deno process, and this stack's
 * PostgreSQL (its postmaster, the children it reaped, and the children alive now). Linux only.
 */
export function cpuSeconds(denoPid: number | undefined, postmasterPid: number): { node: number; deno: number; postgres: number } {
  const ticks = 100; // USER_HZ on Linux
  const stat = (pid: string | number) => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
      // fields[1] is the parent; [11], [12] own user and system time; [13], [14] reaped children's
      return { parent: fields[1]!, own: (fields[11]! + fields[12]!) / ticks, reaped: (fields[13]! + fields[14]!) / ticks };
    } catch {
      return undefined;
    }
  };
  const usage = process.cpuUsage();
  const postmaster = stat(postmasterPid);
  const children = readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).map(stat)
    .filter((child) => child?.parent === postmasterPid).reduce((sum, child) => sum + child!.own, 0);
  return {
    node: (usage.user + usage.system) / 1e6,
    deno: denoPid ? (stat(denoPid)?.own ?? 0) : 0,
    postgres: (postmaster ? postmaster.own + postmaster.reaped : 0) + children,
  };
}

/** The postmaster of the database behind `pool`: the parent of any of its backends. */
export async function postmasterPid(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
  const text = readFileSync(`/proc/${rows[0]!.pid}/stat`, "utf8");
  return Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[1]);
}
