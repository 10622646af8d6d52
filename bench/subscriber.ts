// From a visitor's insert to the AI reply's event at a supabase-js client subscribed with the
// README's Postgres Changes filter, the stand-in LLM answering at once (reply delay 0): what the
// whole visitor-side path costs beyond the LLM (trigger, pg_net, function, Realtime's per-row RLS).
import { createClient } from "@supabase/supabase-js";
import { signJwt } from "../local/api-keys.ts";
import type { Stack } from "../local/stack.ts";
import { visitorSays, waitFor } from "../tests/helpers.ts";
import { conversations, percentiles } from "./measure.ts";

export async function replyEventsAtSubscriber(stack: Stack, count: number) {
  const [talker] = await conversations(stack.pool, 1);
  const { visitorId, conversationId } = talker!;
  const token = await signJwt(
    { sub: visitorId, role: "authenticated", aud: "authenticated", is_anonymous: true, exp: Math.floor(Date.now() / 1000) + 3600 },
    stack.keys.jwtSecret,
  );
  const client = createClient(stack.gatewayUrl, stack.keys.publishableKey, { accessToken: async () => token });
  await client.realtime.setAuth();
  const replies = new Map<string, number>();
  let joined = false;
  client.channel(`conversation:${conversationId}`)
    .on("postgres_changes", { event: "INSERT", schema: "public", table: "messages", filter: `conversation_id=eq.${conversationId}` }, (change) => {
      const row = change.new as { sender_id: string; reply_to: string | null };
      if (row.sender_id === "AI_BOT" && row.reply_to) replies.set(row.reply_to, performance.now());
    })
    .subscribe((status) => void (status === "SUBSCRIBED" && (joined = true)));
  await waitFor("the benchmark's subscriber to join", async () => joined);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const sent = performance.now();
      const messageId = await visitorSays(stack.pool, visitorId, conversationId, `subscriber ${i}: are you open on Sunday?`);
      const at = await waitFor("the reply's event", async () => replies.get(messageId));
      latencies.push(at - sent);
    }
  } finally {
    await client.removeAllChannels();
  }
  return percentiles(latencies);
}
