// `npm start`: the local stack on Supabase's usual ports, with the demo project from
// supabase/seed.sql, and a terminal chat as an anonymous visitor of that project.
import { createInterface } from "node:readline/promises";
import { join } from "node:path";
import type pg from "pg";
import { startStack, type Stack } from "./stack.ts";
import { asVisitor } from "./visitor.ts";

const DEMO_PROJECT_ID = "00000000-0000-4000-8000-000000000001";
const root = join(import.meta.dirname, "..");

const groqApiKey = process.env.GROQ_API_KEY;
console.log("Starting the local stack (PostgreSQL, pg_net worker, ai-responder on Deno, gateway)...");
const stack = await startStack({
  dataDir: join(root, ".local", "db"),
  dbPort: Number(process.env.LOCAL_DB_PORT ?? 54322),
  gatewayPort: Number(process.env.LOCAL_API_PORT ?? 54321),
  groq: { apiKey: groqApiKey || undefined, baseURL: process.env.GROQ_BASE_URL || undefined, model: process.env.GROQ_MODEL || undefined },
  webhookSecret: process.env.AI_RESPONDER_WEBHOOK_SECRET || undefined,
  functionEnv: Object.fromEntries(
    ["GROQ_TIMEOUT_MS", "GROQ_MAX_RETRIES", "AI_RESPONDER_LLM_DEADLINE_MS"]
      .flatMap((name) => (process.env[name] ? [[name, process.env[name]!]] : [])),
  ),
  log: (source, line) => {
    if (source === "function") describeFunctionLog(line);
    if (source === "worker" || source === "cron") console.log(`  (${source === "worker" ? "pg_net worker" : "pg_cron"}: ${line})`);
  },
});

let stopping = false;
async function shutdown(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log("\nStopping the local stack...");
    await stack.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());

console.log(`
  Database URL:  ${stack.dbUrl}
  API URL:       ${stack.gatewayUrl}
  Function URL:  ${stack.functionUrl}
`);
if (stack.llm) {
  console.log(`  ************************************************************************
  *  NO GROQ_API_KEY: replies come from the local STAND-IN LLM, NOT Groq.  *
  *  Put GROQ_API_KEY in .env (see .env.example) for real answers.       *
  ************************************************************************
`);
} else {
  console.log(`  Replies come from Groq (${process.env.GROQ_MODEL ?? "openai/gpt-oss-20b"}).\n`);
}

await chat(stack);

async function chat({ pool }: Stack): Promise<void> {
  const visitorId = (await pool.query<{ id: string }>("insert into auth.users (is_anonymous) values (true) returning id")).rows[0]!.id;
  const conversationId = await asVisitor(pool, visitorId, async (client) =>
    (await client.query<{ id: string }>(
      "insert into public.conversations (project_id, visitor_id) values ($1, $2) returning id",
      [DEMO_PROJECT_ID, visitorId],
    )).rows[0]!.id
  );
  console.log(`You are an anonymous visitor of the demo project, conversation ${conversationId}.
Type a message and press Enter. Commands: /ai on, /ai off (the project's flag),
/agent <text> (a human agent writes, taking over), /handback, /quit. Ctrl-C stops everything.
`);

  const seen = new Set<string>();
  const watcher = setInterval(() => void showNewMessages(pool, visitorId, conversationId, seen), 150);
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for await (const line of terminal) {
      const text = line.trim();
      if (!text) continue;
      if (text === "/quit") break;
      await command(pool, conversationId, visitorId, text).catch((error: Error) => console.log(`  ! ${error.message}`));
    }
  } finally {
    clearInterval(watcher);
    terminal.close();
  }
  await shutdown();
}

async function command(pool: pg.Pool, conversationId: string, visitorId: string, text: string): Promise<void> {
  if (text === "/ai on" || text === "/ai off") {
    await pool.query("update public.projects set ai_enabled = $1 where id = $2", [text === "/ai on", DEMO_PROJECT_ID]);
    console.log(`  (projects.ai_enabled is now ${text === "/ai on"})`);
  } else if (text.startsWith("/agent ")) {
    await pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'agent-alice', false, $2)",
      [conversationId, text.slice(7)],
    );
  } else if (text === "/handback") {
    await pool.query("update public.conversations set handed_off_to = null where id = $1", [conversationId]);
    console.log("  (conversation handed back to the AI)");
  } else {
    // Through RLS, as the widget's insert would be.
    await asVisitor(pool, visitorId, (client) =>
      client.query(
        "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, $3)",
        [conversationId, visitorId, text],
      )
    );
  }
}

/** What Realtime would push to the widget: the conversation's new rows the visitor may read. */
async function showNewMessages(pool: pg.Pool, visitorId: string, conversationId: string, seen: Set<string>): Promise<void> {
  const rows = await asVisitor(pool, visitorId, async (client) =>
    (await client.query<{ id: string; sender_id: string; from_customer: boolean; content: string }>(
      "select id, sender_id, from_customer, content from public.messages where conversation_id = $1 order by created_at, id",
      [conversationId],
    )).rows
  ).catch(() => []);
  for (const row of rows) {
    if (seen.has(row.id)) continue;
    seen.add(row.id);
    if (row.from_customer) continue;
    console.log(row.sender_id === "AI_BOT" ? `AI    > ${row.content}` : `Agent > ${row.content}`);
  }
}

function describeFunctionLog(line: string): void {
  let entry: { event?: string; outcome?: string; reason?: string; total_ms?: number; timings?: Record<string, number> };
  try {
    entry = JSON.parse(line);
  } catch {
    return;
  }
  if (entry.event === "handled") {
    const timings = Object.entries(entry.timings ?? {}).map(([k, v]) => `${k.replace("_ms", "")} ${v}`).join(", ");
    console.log(`  (ai-responder: ${entry.outcome}${entry.reason ? ` (${entry.reason})` : ""} in ${entry.total_ms} ms: ${timings})`);
  }
}
