// ai-responder: answers a visitor's chat message with Groq when the project's AI is on.
// Called by the dispatch_ai_reply trigger through pg_net (see supabase/migrations).
import { configFromEnv } from "./config.ts";
import { createHandler } from "./handler.ts";
import { createGroqLlm } from "./llm.ts";
import { createReplyStore } from "./reply-store.ts";
import { systemClock } from "./responder.ts";

type EdgeRuntimeGlobal = { EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void } };

/** On Supabase, waitUntil keeps the instance alive; on plain Deno the promise simply runs on. */
function runInBackground(work: Promise<unknown>): void {
  const edgeRuntime = (globalThis as EdgeRuntimeGlobal).EdgeRuntime;
  if (edgeRuntime) edgeRuntime.waitUntil(work);
}

if (import.meta.main) {
  const config = configFromEnv((name) => Deno.env.get(name));
  Deno.serve(createHandler({
    webhookSecret: config.webhookSecret,
    // Room for the LLM deadline and the final database call after it; a crashed run is retried after.
    store: createReplyStore(
      config.supabaseUrl,
      config.supabaseKey,
      Math.ceil(config.groq.deadlineMs / 1000) + 5,
    ),
    llm: createGroqLlm(config.groq),
    clock: systemClock,
    defaultModel: config.groq.defaultModel,
    runInBackground,
    log: (line) => console.log(JSON.stringify(line)),
  }));
}
