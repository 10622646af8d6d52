// `npm start`: the local stack on Supabase's usual ports with the demo project from
// supabase/seed.sql, the demo website with the chat widget, and a terminal chat as an
// anonymous visitor, on supabase-js exactly as the widget does it (README "The widget").
import { createInterface } from "node:readline/promises";
import { join } from "node:path";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { buildWidgetIfStale, describeSize, widgetIsStale } from "../widget/build.ts";
import { startDemoSite } from "./demo-site.ts";
import { createDemoAgent } from "./agent-console.ts";
import { persistentApiKeys } from "./api-keys.ts";
import { startStack, type Stack } from "./stack.ts";

const DEMO_PROJECT_ID = "00000000-0000-4000-8000-000000000001";
const root = join(import.meta.dirname, "..");

type MessageRow = { id: string; sender_id: string; from_customer: boolean; content: string; created_at: string; reply_to?: string | null };

if (widgetIsStale()) console.log("Building the chat widget (widget/dist/chat-widget.js)...");
const bundle = await buildWidgetIfStale();

const groqApiKey = process.env.GROQ_API_KEY;
console.log("Starting the local stack (PostgreSQL, Auth, REST, Realtime, pg_net worker, ai-responder on Deno, gateway)...");
const stack = await startStack({
  dataDir: join(root, ".local", "db"),
  // Kept with the data, so that the demo page's visitor keeps their session across restarts.
  keys: await persistentApiKeys(join(root, ".local", "api-keys.json")),
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
}).catch((error: Error) => {
  console.error(`Cannot start the local stack: ${error.message}`);
  process.exit(1);
});
const demoSite = await startDemoSite({
  port: Number(process.env.LOCAL_DEMO_PORT ?? 54330),
  supabaseUrl: stack.gatewayUrl,
  publishableKey: stack.keys.publishableKey,
  projectId: DEMO_PROJECT_ID,
}).catch(async (error: Error) => {
  await stack.stop();
  throw error;
});

let demoAgent: ReturnType<typeof createDemoAgent> | undefined;
let stopping = false;
async function shutdown(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    demoAgent?.stop();
    console.log("\nStopping the local stack...");
    await demoSite.stop();
    await stack.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());

console.log(`
         API URL: ${stack.gatewayUrl}
          DB URL: ${stack.dbUrl}
 Publishable key: ${stack.keys.publishableKey}
        anon key: ${stack.keys.anonKey}
    Function URL: ${stack.functionUrl}
       Demo page: ${demoSite.url}  (the chat widget on a customer's site; ${describeSize(bundle)})
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

await chat(stack).catch(async (error: Error) => {
  console.log(`  ! ${error.message}`);
  await shutdown(1);
});

/** The terminal visitor: the widget's calls, through Auth, PostgREST and Realtime. */
async function chat(stack: Stack): Promise<void> {
  const supabase = createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false } });
  const { data: { user }, error: signInError } = await supabase.auth.signInAnonymously();
  if (signInError || !user) throw new Error(`anonymous sign-in failed: ${signInError?.message}`);
  const { data: conversation, error } = await supabase
    .from("conversations")
    .insert({ project_id: DEMO_PROJECT_ID, visitor_id: user.id })
    .select()
    .single();
  if (error) throw new Error(`could not start a conversation: ${error.message}`);
  const conversationId = (conversation as { id: string }).id;

  const seen = new Set<string>();
  let lastCreatedAt: string | undefined;
  const show = (row: MessageRow) => {
    if (seen.has(row.id)) return; // a row can come from Realtime and from the catch-up query
    seen.add(row.id);
    if (row.reply_to) seenReplies.add(row.reply_to);
    if (!lastCreatedAt || row.created_at > lastCreatedAt) lastCreatedAt = row.created_at;
    if (row.sender_id === "AI_BOT" && writing && writing.messageId === row.reply_to) {
      // The reply replaces its preview: finish the line it was written on (or write it anew).
      const rest = row.content.startsWith(writing.printed) ? row.content.slice(writing.printed.length) : `\nAI    > ${row.content}`;
      writing = undefined;
      return void process.stdout.write(`${rest}\n`);
    }
    if (!row.from_customer) console.log(row.sender_id === "AI_BOT" ? `AI    > ${row.content}` : `Agent > ${row.content}`);
  };
  // The AI's reply as it is written (Broadcast events on the conversation's private channel).
  let writing: { messageId: string; printed: string } | undefined;
  const showPreview = ({ message_id, text }: { message_id: string; text: string }) => {
    if (seenReplies.has(message_id)) return;
    if (writing?.messageId !== message_id) {
      if (writing) process.stdout.write("\n");
      writing = { messageId: message_id, printed: "" };
      process.stdout.write("AI    > ");
    }
    if (!text.startsWith(writing.printed)) return;
    process.stdout.write(text.slice(writing.printed.length));
    writing.printed = text;
  };
  const withdrawPreview = ({ message_id }: { message_id: string }) => {
    if (writing?.messageId !== message_id) return;
    writing = undefined;
    process.stdout.write(" [withdrawn]\n");
  };
  const seenReplies = new Set<string>();
  await new Promise<void>((subscribed) => {
    // Private (only this visitor may join), so Realtime must have the visitor's token first.
    void supabase.realtime.setAuth().then(() => supabase
      .channel(`conversation:${conversationId}`, { config: { private: true } })
      .on("broadcast", { event: "preview" }, ({ payload }) => showPreview(payload as { message_id: string; text: string }))
      .on("broadcast", { event: "preview_end" }, ({ payload }) => withdrawPreview(payload as { message_id: string }))
      .on(
        "postgres_changes",
        { event: "INSERT", schema: "public", table: "messages", filter: `conversation_id=eq.${conversationId}` },
        (payload) => show(payload.new as MessageRow),
      )
      .subscribe((status, err) => {
        if (status === "SUBSCRIBED") {
          void catchUp(supabase, conversationId, lastCreatedAt).then((rows) => rows.forEach(show));
          subscribed();
        } else if (status === "CHANNEL_ERROR" || status === "TIMED_OUT") {
          console.log(`  (Realtime: ${status}${err ? `: ${err.message}` : ""}; supabase-js reconnects)`);
        }
      }));
  });

  console.log(`You are an anonymous visitor (${user.id}) of the demo project, conversation ${conversationId}.
Type a message and press Enter. /ai on, /ai off: the project's flag (SQL, as in the Table Editor).
As the demo agent (signed in with a password, under RLS): /agent <text> (writes, taking over),
/handback, /online and /offline (heartbeats: the demo's AI answers only while no agent is online),
/mode always|when_no_agent_online. /quit.
Ctrl-C stops everything. The same chat as a website widget: ${demoSite.url}
`);
  const terminal = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for await (const line of terminal) {
      const text = line.trim();
      if (!text) continue;
      if (text === "/quit") break;
      if (text.startsWith("/")) {
        await adminCommand(stack, conversationId, text).catch((e: Error) => console.log(`  ! ${e.message}`));
        continue;
      }
      const { error: sendError } = await supabase.from("messages").insert({
        conversation_id: conversationId,
        sender_id: user.id,
        from_customer: true,
        content: text,
      });
      if (sendError) console.log(`  ! not sent: ${sendError.message}`);
    }
  } finally {
    terminal.close();
  }
  await shutdown();
}

/** The rows written while the channel was not joined (first join, or a rejoin after a drop). */
async function catchUp(supabase: SupabaseClient, conversationId: string, since: string | undefined): Promise<MessageRow[]> {
  let query = supabase.from("messages").select().eq("conversation_id", conversationId);
  if (since) query = query.gte("created_at", since);
  const { data, error } = await query.order("created_at", { ascending: true });
  if (error) console.log(`  ! could not load the conversation: ${error.message}`);
  return (data ?? []) as MessageRow[];
}

/** What an admin does in the Table Editor (SQL through the database URL), or the demo agent through the API. */
async function adminCommand({ pool, gatewayUrl, keys }: Stack, conversationId: string, text: string): Promise<void> {
  demoAgent ??= createDemoAgent(gatewayUrl, keys.publishableKey, DEMO_PROJECT_ID);
  if (text === "/ai on" || text === "/ai off") {
    await pool.query("update public.projects set ai_enabled = $1 where id = $2", [text === "/ai on", DEMO_PROJECT_ID]);
    console.log(`  (projects.ai_enabled is now ${text === "/ai on"})`);
  } else if (text.startsWith("/agent ")) {
    await demoAgent.say(conversationId, text.slice(7));
  } else if (text === "/handback") {
    await demoAgent.handBack(conversationId);
    console.log("  (conversation handed back to the AI)");
  } else if (text === "/online" || text === "/offline") {
    await (text === "/online" ? demoAgent.online() : demoAgent.offline());
    console.log(text === "/online"
      ? "  (the demo agent is online, beating every 20 s: in ai_mode when_no_agent_online the AI stays silent)"
      : "  (the demo agent is away: the AI answers the next visitor message)");
  } else if (text.startsWith("/mode ")) {
    await demoAgent.setMode(text.slice(6).trim());
    console.log(`  (projects.ai_mode is now ${text.slice(6).trim()})`);
  } else {
    console.log("  ! unknown command: /ai on, /ai off, /agent <text>, /handback, /online, /offline, /mode <mode>, /quit");
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
