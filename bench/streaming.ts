// What a visitor sees of a streamed reply, timed at a supabase-js client subscribed to the
// conversation's private topic as the widget is: from the visitor's insert to the typing
// indicator, to the first text, to the reply row; and the events it took, and the CPU.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { signJwt } from "../local/api-keys.ts";
import type { Stack } from "../local/stack.ts";
import { visitorSays, waitFor } from "../tests/helpers.ts";
import { conversations, cpuSeconds, percentiles, postmasterPid } from "./measure.ts";

type Arrival = { event: string; payload: Record<string, unknown>; at: number };

async function subscriber(stack: Stack, visitorId: string, conversationId: string) {
  const token = await signJwt(
    { sub: visitorId, role: "authenticated", aud: "authenticated", is_anonymous: true, exp: Math.floor(Date.now() / 1000) + 3600 },
    stack.keys.jwtSecret,
  );
  const client: SupabaseClient = createClient(stack.gatewayUrl, stack.keys.publishableKey, { accessToken: async () => token });
  await client.realtime.setAuth();
  const arrivals: Arrival[] = [];
  let joined = false;
  client.channel(`conversation:${conversationId}`, { config: { private: true } })
    .on("broadcast", { event: "*" }, (m) => arrivals.push({ event: m.event, payload: m.payload, at: performance.now() }))
    .subscribe((status) => void (status === "SUBSCRIBED" && (joined = true)));
  await waitFor("the benchmark's subscriber to join", async () => joined);
  return { client, arrivals };
}

/**
 * One conversation, `count` messages one after the other, the LLM paced like Groq: the
 * milliseconds from each insert to what the subscriber sees, and the CPU per reply.
 */
export async function streamedReplies(stack: Stack, count: number, streamReplies: boolean) {
  const [talker] = await conversations(stack.pool, 1, { ai_stream_replies: streamReplies } as Record<string, unknown>);
  const { visitorId, conversationId } = talker!;
  const { client, arrivals } = await subscriber(stack, visitorId, conversationId);
  // A typical answer of about 200 tokens (the stand-in counts 4 characters a token).
  const marker = `streaming-${conversationId}`;
  stack.llm!.script(marker, [{ content: "We deliver within two to four working days across the country. ".repeat(13).trim() }], { always: true });
  const typing: number[] = [];
  const firstText: number[] = [];
  const finalRow: number[] = [];
  const events: number[] = [];
  const postmaster = await postmasterPid(stack.pool);
  // What the stack burns with nothing to do (Realtime's polling, pg_cron), subtracted below.
  const idleFrom = cpuSeconds(stack.edgeFunction.pid(), postmaster);
  const idleStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idleTo = cpuSeconds(stack.edgeFunction.pid(), postmaster);
  const idlePerMs = (part: keyof typeof idleTo) => (idleTo[part] - idleFrom[part]) / (performance.now() - idleStart);
  const started = performance.now();
  const cpuBefore = cpuSeconds(stack.edgeFunction.pid(), postmaster);
  try {
    for (let i = 0; i < count; i++) {
      const from = arrivals.length;
      const sent = performance.now();
      const messageId = await visitorSays(stack.pool, visitorId, conversationId, `${marker} question ${i}: tell me about delivery times and fees`);
      const mine = () => arrivals.slice(from).filter((a) => a.payload.message_id === messageId || (a.payload.record as { reply_to?: string } | undefined)?.reply_to === messageId);
      const row = await waitFor("the reply row", async () => mine().find((a) => a.event === "INSERT"));
      const seen = mine();
      const at = (event: string) => seen.find((a) => a.event === event)?.at;
      typing.push((at("typing") ?? NaN) - sent);
      firstText.push((at("preview") ?? row.at) - sent);
      finalRow.push(row.at - sent);
      events.push(seen.filter((a) => a.event !== "INSERT").length);
    }
  } finally {
    stack.llm!.clearScript(marker);
    await client.removeAllChannels();
  }
  const cpuAfter = cpuSeconds(stack.edgeFunction.pid(), postmaster);
  const elapsed = performance.now() - started;
  const cpuMs = (part: keyof typeof cpuAfter) =>
    Math.round(((cpuAfter[part] - cpuBefore[part] - idlePerMs(part) * elapsed) / count) * 1e4) / 10;
  return {
    typing: percentiles(typing),
    first_text: percentiles(firstText),
    final_row: percentiles(finalRow),
    events_per_reply: percentiles(events),
    cpu_ms_per_reply: { postgres: cpuMs("postgres"), deno_function: cpuMs("deno"), node_stand_ins_and_bench: cpuMs("node") },
  };
}
