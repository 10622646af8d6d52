// ai-responder: answers a visitor's chat message with Groq when the project's AI is on.
// Called by the dispatch_ai_reply trigger through pg_net (see supabase/migrations).
import { createBroadcaster, restPublisher } from "./broadcast.ts";
import { configFromEnv } from "./config.ts";
import { createHandler } from "./handler.ts";
import { createInFlight, releaseClaimsOnRetirement } from "./in-flight.ts";
import { createGroqLlm } from "./llm.ts";
import { createReplyStore } from "./reply-store.ts";
import { systemClock } from "./responder.ts";

type EdgeRuntimeGlobal = { EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void } };

/** On Supabase, waitUntil keeps the instance alive; on plain Deno the promise simply runs on. */
function runInBackground(work: Promise<unknown>): void {
  const edgeRuntime = (globalThis as EdgeRuntimeGlobal).EdgeRuntime;
  if (edgeRuntime) edgeRuntime.waitUntil(work);
}

/** Serves the function: run as the entrypoint on Supabase, or by local/edge-runtime.ts. */
export function main(): void {
  const config = configFromEnv((name) => Deno.env.get(name));
  const log = (line: Record<string, unknown>) => console.log(JSON.stringify(line));
  // Room for the LLM deadline and the final database call after it; a crashed run is retried after.
  const store = createReplyStore(
    config.supabaseUrl,
    config.supabaseKey,
    Math.ceil(config.groq.deadlineMs / 1000) + 5,
  );
  const inFlight = createInFlight();
  releaseClaimsOnRetirement(inFlight, store, runInBackground, log);
  Deno.serve(createHandler({
    webhookSecret: config.webhookSecret,
    store,
    llm: createGroqLlm(config.groq),
    clock: systemClock,
    defaultModel: config.groq.defaultModel,
    broadcaster: createBroadcaster(
      restPublisher(config.supabaseUrl, config.supabaseKey, runInBackground, log),
      systemClock,
    ),
    runInBackground,
    inFlight,
    log,
  }));
}

if (import.meta.main) main();
