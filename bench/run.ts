// `npm run bench [-- --quick]`: what the pipeline costs beyond the LLM, against the floor of
// the same database work done directly, in one run on one local stack. Prints one JSON line
// per figure and writes them to bench/results/. --quick runs small counts (CI: it must run).
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { denoPath } from "../local/edge-function.ts";
import { measureDeployBundle } from "./deploy-bundle.ts";
import { replyEventsAtSubscriber } from "./subscriber.ts";
import { startStack } from "../local/stack.ts";
import { visitorSays } from "../tests/helpers.ts";
import { promptWithSources, retrievalCost } from "./knowledge.ts";
import { streamedReplies } from "./streaming.ts";
import { closedLoop, conversations, cpuSeconds, floorRound, percentiles, postmasterPid, replyLatencies, replyWatcher } from "./measure.ts";

const quick = process.argv.includes("--quick");
const scale = (full: number, small: number) => (quick ? small : full);
const figures: Record<string, unknown>[] = [];
function report(figure: string, values: Record<string, unknown>): void {
  const line = { figure, ...values };
  figures.push(line);
  console.log(JSON.stringify(line));
}

const stack = await startStack({ seed: false });
const { pool } = stack;
const watcher = replyWatcher(pool);
try {
  const { rows: [pgVersion] } = await pool.query<{ server_version: string }>("show server_version");
  report("machine", {
    cpu: cpus()[0]?.model, cores: cpus().length, node: process.version,
    deno: execFileSync(denoPath(), ["--version"]).toString().split("\n")[0], postgres: pgVersion!.server_version, quick,
  });

  // What `supabase functions deploy` uploads (limits: 20 MB bundled by the CLI, 5 MB bundled server-side).
  report("deploy_bundle", await measureDeployBundle(join(import.meta.dirname, "..", "supabase", "functions", "ai-responder")));

  // Warm-up: first calls compile, connect and fill caches; not measured.
  await closedLoop(pool, watcher, await conversations(pool, 5), 3);

  // 1. End-to-end latency, visitor insert to reply row, at 1, 10 and 50 concurrent conversations.
  for (const [concurrency, perConversation] of [[1, scale(60, 10)], [10, scale(20, 4)], [50, scale(8, 2)]] as const) {
    const { messageIds } = await closedLoop(pool, watcher, await conversations(pool, concurrency), perConversation);
    report("e2e_latency_ms", { concurrency, ...percentiles(await replyLatencies(pool, messageIds)) });
  }

  // 2. Floor: the same database work straight over SQL from this process.
  const floorTalker = (await conversations(pool, 1, { ai_enabled: true }))[0]!;
  await stack.pgNetWorker.stop(); // the trigger still queues its webhook (same work); nobody sends it
  const floor: number[] = [];
  for (let i = 0; i < scale(200, 20); i++) floor.push(await floorRound(pool, floorTalker, `floor ${i}`));
  const floorTalkers = await conversations(pool, 20);
  const floorStart = performance.now();
  const floorCount = scale(50, 5);
  await Promise.all(floorTalkers.map(async (talker) => {
    for (let i = 0; i < floorCount; i++) await floorRound(pool, talker, `floor throughput ${i}`);
  }));
  const floorPerSecond = (floorTalkers.length * floorCount) / ((performance.now() - floorStart) / 1000);
  // 2b. Knowledge retrieval inside ai_reply_context, 10,000 passages in the project (webhooks stay queued).
  report("knowledge_retrieval_context_ms", await retrievalCost(pool, scale(10_000, 1_000), scale(200, 20)));
  await pool.query("truncate net.http_request_queue");
  await stack.pgNetWorker.start();
  const floorLatency = percentiles(floor);
  report("floor_latency_ms", { concurrency: 1, ...floorLatency });

  // 3. Sustained throughput at saturation: many conversations write at once, one message each.
  const saturation = await conversations(pool, scale(1000, 100));
  const rpcBefore = new Map(stack.gateway.rpcCalls);
  const llmBefore = stack.llm!.requests.length;
  const postmaster = await postmasterPid(pool);
  const cpuBefore = cpuSeconds(stack.edgeFunction.pid(), postmaster);
  const throughputStart = performance.now();
  const saturationIds: string[] = [];
  const writers = 20;
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = w; i < saturation.length; i += writers) {
      const { visitorId, conversationId } = saturation[i]!;
      saturationIds.push(await visitorSays(pool, visitorId, conversationId, `saturation ${i}`));
    }
  }));
  await Promise.all(saturationIds.map((id) => watcher.replyTo(id, 120_000)));
  const seconds = (performance.now() - throughputStart) / 1000;
  const cpuAfter = cpuSeconds(stack.edgeFunction.pid(), postmaster);
  report("throughput_answered_per_s", {
    messages: saturationIds.length, seconds: Math.round(seconds * 100) / 100,
    per_second: Math.round(saturationIds.length / seconds), floor_per_second: Math.round(floorPerSecond),
  });

  const cpuMs = (part: keyof typeof cpuAfter) => Math.round(((cpuAfter[part] - cpuBefore[part]) / saturationIds.length) * 1e4) / 10;
  report("cpu_ms_per_answered_message", {
    postgres: cpuMs("postgres"), deno_function: cpuMs("deno"),
    node_stand_ins_and_bench: cpuMs("node"), note: "node = gateway + pg_net worker + stand-in LLM + the benchmark's own visitors",
  });

  // 4. Calls per answered message, counted at the gateway and at the stand-in LLM.
  const rpc = (name: string) => (stack.gateway.rpcCalls.get(name) ?? 0) - (rpcBefore.get(name) ?? 0);
  report("calls_per_answered_message", {
    database: (rpc("ai_reply_context") + rpc("ai_post_reply")) / saturationIds.length,
    llm: (stack.llm!.requests.length - llmBefore) / saturationIds.length,
  });

  // 5. Bursts: three messages in quick succession, the project's default reply delay (600 ms).
  const bursters = await conversations(pool, scale(20, 5), { ai_reply_delay_ms: 600 });
  const burstLlmBefore = stack.llm!.requests.length;
  const lastOfBurst = await Promise.all(bursters.map(async ({ visitorId, conversationId }) => {
    await visitorSays(pool, visitorId, conversationId, "hello");
    await visitorSays(pool, visitorId, conversationId, "I have a question");
    return visitorSays(pool, visitorId, conversationId, "do you deliver?");
  }));
  await Promise.all(lastOfBurst.map((id) => watcher.replyTo(id)));
  const { rows: [{ replies }] } = await pool.query<{ replies: string }>(
    "select count(*) as replies from public.messages where sender_id = 'AI_BOT' and conversation_id = any($1)",
    [bursters.map((b) => b.conversationId)],
  ) as unknown as { rows: [{ replies: string }] };
  report("burst_of_3", {
    bursts: bursters.length, llm_calls_per_burst: (stack.llm!.requests.length - burstLlmBefore) / bursters.length,
    replies_per_burst: Number(replies) / bursters.length,
  });

  // 6. The function's own time per reply: handler time minus the waits on database and LLM.
  type Handled = { event: string; outcome: string; total_ms: number; timings: Record<string, number> };
  const answered = stack.edgeFunction.logs
    .flatMap((line) => (line.startsWith("{") ? [JSON.parse(line) as Handled] : []))
    .filter((entry) => entry.event === "handled" && entry.outcome === "answered");
  const own = answered.map(({ total_ms, timings: t }) => total_ms - t.wait_ms! - t.context_ms! - t.llm_ms! - t.post_ms!);
  report("function_own_ms_per_reply", percentiles(own));
  const stage = (name: string) => percentiles(answered.map((entry) => entry.timings[name] ?? 0));
  report("function_stages_ms", { context: stage("context_ms"), llm: stage("llm_ms"), post: stage("post_ms") });

  // 7. Prompt size for a 50-message conversation (default history limit 10, and limit 50).
  for (const limit of [10, 50]) {
    const talker = (await conversations(pool, 1, { ai_history_limit: limit, ai_enabled: false }))[0]!;
    for (let i = 0; i < 49; i++) {
      await visitorSays(pool, talker.visitorId, talker.conversationId, `message ${i}: ${"a typical visitor question about opening hours ".repeat(2)}`);
    }
    await pool.query("update public.projects set ai_enabled = true where id = (select project_id from public.conversations where id = $1)", [talker.conversationId]);
    const marker = `prompt-size-${limit}-${Date.now()}`;
    await watcher.replyTo(await visitorSays(pool, talker.visitorId, talker.conversationId, marker));
    const request = stack.llm!.requestsMentioning(marker)[0]!;
    report("prompt_size_50_message_conversation", {
      history_limit: limit, messages_sent: request.body.messages.length,
      characters: request.body.messages.reduce((sum, m) => sum + m.content.length, 0),
      request_bytes: Buffer.byteLength(JSON.stringify(request.body)),
    });
  }

  // 7b. The prompt of an answer with knowledge sources (default budgets: 4,000 prompt, 2,000 knowledge).
  report("prompt_size_with_sources", await promptWithSources(stack, watcher));

  // 8. Cold start: spawning the function's process to its first reply.
  const cold: number[] = [];
  for (let i = 0; i < scale(5, 1); i++) {
    const talker = (await conversations(pool, 1))[0]!;
    await stack.edgeFunction.stop();
    const spawned = Date.now();
    await stack.edgeFunction.start();
    const id = await visitorSays(pool, talker.visitorId, talker.conversationId, "first after a cold start");
    await watcher.replyTo(id);
    const { rows } = await pool.query<{ at: Date }>("select created_at as at from public.messages where reply_to = $1", [id]);
    cold.push(rows[0]!.at.getTime() - spawned);
  }
  report("cold_start_ms", percentiles(cold));

  // 9. The visitor's side with the LLM instant: insert to the reply's Postgres Changes event.
  report("reply_event_at_subscriber_ms", { path: "postgres_changes", ...(await replyEventsAtSubscriber(stack, scale(50, 5))) });

  // 9b. What a visitor perceives with the LLM paced like Groq (~200 ms to first token, ~300 tokens/s).
  stack.llm!.setPace({ firstTokenMs: 200, tokensPerSecond: 300 });
  for (const [concurrency, perConversation] of [[1, scale(20, 3)], [10, scale(5, 2)]] as const) {
    const { messageIds } = await closedLoop(pool, watcher, await conversations(pool, concurrency), perConversation);
    report("e2e_latency_groq_paced_ms", { concurrency, ...percentiles(await replyLatencies(pool, messageIds)) });
  }

  // 10. Streamed replies, seen at a supabase-js subscriber of the conversation's private topic
  // (reply delay 0): typing, first text and reply row; then the same project with streaming off.
  for (const streaming of [true, false]) {
    const seen = await streamedReplies(stack, scale(20, 3), streaming);
    report(streaming ? "streamed_reply_visible_ms" : "unstreamed_reply_visible_ms", {
      typing: seen.typing, first_text: seen.first_text, final_row: seen.final_row,
      ...(streaming ? { target_first_text_ms: 200 + 50 } : {}),
    });
    report(streaming ? "streamed_reply_cost" : "unstreamed_reply_cost", { broadcast_events_per_reply: seen.events_per_reply, cpu_ms_per_reply: seen.cpu_ms_per_reply });
  }
  stack.llm!.setPace(null);

  const e2e1 = figures.find((f) => f.figure === "e2e_latency_ms" && f.concurrency === 1) as { p50: number };
  report("pipeline_over_floor", { p50_ratio: Math.round((e2e1.p50 / floorLatency.p50) * 10) / 10, p50_overhead_ms: Math.round((e2e1.p50 - floorLatency.p50) * 10) / 10 });

  const expected = [
    "machine", "deploy_bundle", "e2e_latency_ms", "floor_latency_ms", "throughput_answered_per_s", "cpu_ms_per_answered_message",
    "calls_per_answered_message", "burst_of_3", "function_own_ms_per_reply", "function_stages_ms",
    "prompt_size_50_message_conversation", "knowledge_retrieval_context_ms", "prompt_size_with_sources", "cold_start_ms", "e2e_latency_groq_paced_ms", "reply_event_at_subscriber_ms", "streamed_reply_visible_ms", "unstreamed_reply_visible_ms",
    "streamed_reply_cost", "unstreamed_reply_cost", "pipeline_over_floor",
  ];
  const missing = expected.filter((name) => !figures.some((f) => f.figure === name));
  if (missing.length > 0) throw new Error(`benchmark incomplete, missing: ${missing.join(", ")}`);

  const resultsDir = join(import.meta.dirname, "results");
  await mkdir(resultsDir, { recursive: true });
  const body = figures.map((f) => JSON.stringify(f)).join("\n") + "\n";
  const name = quick ? "latest-quick.jsonl" : "latest.jsonl";
  await writeFile(join(resultsDir, name), body);
  console.log(`written to bench/results/${name}`);
} finally {
  await watcher.stop();
  await stack.stop();
}
