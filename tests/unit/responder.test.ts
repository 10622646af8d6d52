import { describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { ReplyPreview } from "../../supabase/functions/ai-responder/broadcast.ts";
import { handOverTools } from "../../supabase/functions/ai-responder/hand-over.ts";
import type { Completion, CompletionRequest } from "../../supabase/functions/ai-responder/llm.ts";
import { defaultSystemPrompt, tokenBound } from "../../supabase/functions/ai-responder/prompt.ts";
import type { PostReplyResult, ReplyContext, ReplyToPost } from "../../supabase/functions/ai-responder/reply-store.ts";
import { answerVisitorMessage, MAX_REPLY_DELAY_MS, systemClock } from "../../supabase/functions/ai-responder/responder.ts";

const CREATED = "2026-11-24T10:00:00.000+00:00";
const message = {
  id: "8a0a2c55-98f4-4f3e-9a43-6e1f7a5f0b11",
  conversation_id: "0f0c1d5e-7a1b-4d55-8b8e-2f61b0f1c2d3",
  sender_id: "visitor",
  from_customer: true,
  content: "Do you bake rye?",
  created_at: CREATED,
};
const CLAIM = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const PASSAGE = "3b2f7a3e-8c1d-4e5f-9a6b-7c8d9e0f1a2b";
type Project = Extract<ReplyContext, { action: "reply" }>["project"];
const project = (overrides: Partial<Project> = {}): Project => ({
  id: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", name: "Bakery", model: null, system_prompt: null, fallback_message: "Someone will reply soon.",
  max_prompt_tokens: 4000, max_completion_tokens: 512, stream_replies: false, answer_only_from_knowledge: false, ...overrides,
});

/**
 * answerVisitorMessage with recording fakes: a clock that moves only when told (each step of
 * the run advances it by a known amount, so timings are exact), a store, an LLM, a preview.
 */
function harness(options: {
  project?: Partial<Project>;
  context?: ReplyContext;
  completion?: Partial<Completion> | (() => Promise<Completion>);
  posted?: PostReplyResult;
  history?: { from_customer: boolean; content: string }[];
  knowledge?: Extract<ReplyContext, { action: "reply" }>["knowledge"];
  startAt?: number;
} = {}) {
  let now = options.startAt ?? Date.parse(CREATED) + 100;
  const steps: string[] = [];
  const slept: number[] = [];
  const requests: CompletionRequest[] = [];
  const posts: ReplyToPost[] = [];
  const previewCalls: string[] = [];
  const preview: ReplyPreview = {
    typing: (on) => void previewCalls.push(`typing ${on}`),
    text: (text) => void previewCalls.push(`text ${text}`),
    finish: (text) => void previewCalls.push(`finish ${text}`),
    withdraw: (reason) => void previewCalls.push(`withdraw ${reason}`),
    events: () => 7,
  };
  const deps = {
    clock: { now: () => now, sleep: async (ms: number) => { slept.push(ms); now += ms; } },
    defaultModel: "openai/gpt-oss-20b",
    broadcaster: {
      forMessage: (conversationId: string, messageId: string) => {
        steps.push(`preview ${conversationId} ${messageId}`);
        return preview;
      },
    },
    store: {
      async replyContext(id: string) {
        steps.push(`context ${id}`);
        now += 30;
        return options.context ?? {
          action: "reply" as const, conversation_id: message.conversation_id, claim_token: CLAIM, project: project(options.project),
          history: options.history ?? [{ from_customer: true, content: message.content }],
          knowledge: options.knowledge ?? [],
        };
      },
      async postReply(reply: ReplyToPost) {
        posts.push(reply);
        now += 20;
        return options.posted ?? { posted: true as const, reply_id: PASSAGE };
      },
      async releaseClaims() { return 0; },
    },
    llm: {
      async complete(request: CompletionRequest): Promise<Completion> {
        requests.push(request);
        now += 400;
        if (typeof options.completion === "function") return options.completion();
        return { content: "Yes, on Fridays.", model: "groq-model-used", promptTokens: 20, completionTokens: 5, finishReason: "stop", ...options.completion };
      },
    },
  };
  const claimed: string[] = [];
  const run = (delayMs = 600) => answerVisitorMessage(deps, message, delayMs, (token) => void claimed.push(token));
  return { run, steps, slept, requests, posts, previewCalls, claimed };
}

describe("answering a visitor message", () => {
  it("waits out the reply delay from the message's creation, then asks, answers and posts, timing each step", async () => {
    const h = harness();
    const outcome = await h.run(600);
    expect(h.slept).toEqual([500]);
    expect(h.claimed).toEqual([CLAIM]);
    expect(h.steps).toEqual([`context ${message.id}`, `preview ${message.conversation_id} ${message.id}`]);
    expect(h.previewCalls).toEqual(["typing true", "finish Yes, on Fridays."]);
    expect(outcome).toEqual({ outcome: "answered", broadcast_events: 7, timings: { wait_ms: 500, context_ms: 30, llm_ms: 400, post_ms: 20 } });
    expect(h.posts).toEqual([{
      messageId: message.id, claimToken: CLAIM, content: "Yes, on Fridays.", isFallback: false, model: "groq-model-used",
      promptTokens: 20, completionTokens: 5, llmLatencyMs: 400, error: null, failureIsPermanent: false, truncated: false, knowledgePassageIds: [],
    }]);
  });

  it("does not wait when the delay has already passed, and bounds the delay between 0 and 10 s", async () => {
    const late = harness({ startAt: Date.parse(CREATED) + 600 });
    expect((await late.run(600)).timings.wait_ms).toBe(0);
    expect(late.slept).toEqual([]);
    const negative = harness();
    await negative.run(-5_000);
    expect(negative.slept).toEqual([]);
    const huge = harness({ startAt: Date.parse(CREATED) });
    await huge.run(60_000);
    expect(huge.slept).toEqual([MAX_REPLY_DELAY_MS]);
    // A clock behind the message's time never waits more than the delay itself.
    const behind = harness({ startAt: Date.parse(CREATED) - 5_000 });
    await behind.run(600);
    expect(behind.slept).toEqual([600]);
  });

  it("skips, without claiming or typing, when the database says so", async () => {
    const h = harness({ context: { action: "skip", reason: "ai is off for this conversation" } });
    expect(await h.run(0)).toEqual({ outcome: "skipped", reason: "ai is off for this conversation", timings: { wait_ms: 0, context_ms: 30 } });
    expect(h.claimed).toEqual([]);
    expect(h.previewCalls).toEqual([]);
    expect(h.requests).toEqual([]);
  });

  it("asks the LLM with the project's model, prompt and limits, the hand-over tool, and streams only when the project does", async () => {
    const h = harness({ project: { model: "qwen/qwen3-32b", system_prompt: "You sell bread.", max_completion_tokens: 99 } });
    await h.run(0);
    expect(h.requests[0]).toEqual({
      model: "qwen/qwen3-32b", maxCompletionTokens: 99, tools: handOverTools(false),
      messages: [{ role: "system", content: "You sell bread." }, { role: "user", content: message.content }],
    });
    const streaming = harness({ project: { stream_replies: true } });
    await streaming.run(0);
    expect(streaming.requests[0]!.model).toBe("openai/gpt-oss-20b");
    expect(streaming.requests[0]!.messages[0]).toEqual({ role: "system", content: defaultSystemPrompt("Bakery") });
    streaming.requests[0]!.onText!("Yes");
    expect(streaming.previewCalls).toContain("text Yes");
  });

  it("counts the tool's definition against the prompt budget", async () => {
    const tools = tokenBound(JSON.stringify(handOverTools(false)));
    const system = defaultSystemPrompt("Bakery");
    const older = "o".repeat(100);
    // Exactly enough for system + older + newest once the tool is paid for; not a byte more.
    const budget = tools + tokenBound(system) + 8 + (100 + 8) + (tokenBound(message.content) + 8);
    const history = [{ from_customer: true, content: older }, { from_customer: true, content: message.content }];
    const fits = harness({ project: { max_prompt_tokens: budget }, history });
    await fits.run(0);
    expect(fits.requests[0]!.messages).toHaveLength(3);
    const short = harness({ project: { max_prompt_tokens: budget - 1 }, history });
    await short.run(0);
    expect(short.requests[0]!.messages).toHaveLength(2);
  });

  it("gives the knowledge passages to the prompt as sources and records which were given", async () => {
    const h = harness({ knowledge: [{ id: PASSAGE, title: "Rye bread", url: null, content: "We bake rye on Fridays." }] });
    await h.run(0);
    expect(h.requests[0]!.messages[0]!.content).toContain("[1] Rye bread\nWe bake rye on Fridays.");
    expect(h.posts[0]!.knowledgePassageIds).toEqual([PASSAGE]);
  });

  it("trims a reply cut at the token limit to its last sentence, and says it was truncated", async () => {
    const h = harness({ completion: { content: "Yes, on Fridays. And on", finishReason: "length" } });
    expect(await h.run(0)).toMatchObject({ outcome: "answered", truncated: true });
    expect(h.posts[0]).toMatchObject({ content: "Yes, on Fridays.", truncated: true });
    expect(h.previewCalls.at(-1)).toBe("finish Yes, on Fridays.");
    const whole = harness({ completion: { content: "Yes. And on", finishReason: "stop" } });
    expect(await whole.run(0)).not.toHaveProperty("truncated");
    expect(whole.posts[0]).toMatchObject({ content: "Yes. And on", truncated: false });
  });

  it("posts the hand-over (no text of the model's) when the model asks for a person", async () => {
    const h = harness({
      completion: { content: "I'll get someone", handOver: { reason: "visitor asked for a person", malformed: false } },
      posted: { posted: true, reply_id: PASSAGE, handed_over: true },
    });
    const outcome = await h.run(0);
    expect(outcome).toEqual({ outcome: "handed_over", broadcast_events: 7, timings: { wait_ms: 0, context_ms: 30, llm_ms: 400, post_ms: 20 } });
    expect(h.previewCalls).toEqual(["typing true", "withdraw handed_over"]);
    expect(h.posts[0]).toEqual({
      messageId: message.id, claimToken: CLAIM, content: null, isFallback: false, model: "groq-model-used", promptTokens: 20, completionTokens: 5,
      llmLatencyMs: 400, error: null, failureIsPermanent: false, truncated: false, handOverReason: "visitor asked for a person", knowledgePassageIds: [],
    });
  });

  it("posts the fallback text when the LLM fails, with why, and whether retrying could help", async () => {
    const h = harness({
      project: { model: "llama-x" },
      completion: () => Promise.reject(new OpenAI.AuthenticationError(401, { error: { message: "bad key" } }, "bad key", new Headers())),
    });
    const outcome = await h.run(0);
    expect(outcome).toEqual({ outcome: "fallback", reason: "http 401", broadcast_events: 7, timings: { wait_ms: 0, context_ms: 30, llm_ms: 400, post_ms: 20 } });
    expect(h.previewCalls).toEqual(["typing true", "withdraw failed"]);
    expect(h.posts[0]).toEqual({
      messageId: message.id, claimToken: CLAIM, content: "Someone will reply soon.", isFallback: true, model: "llama-x", promptTokens: null,
      completionTokens: null, llmLatencyMs: 400, error: "http 401", failureIsPermanent: true, truncated: false, knowledgePassageIds: [],
    });
  });

  it("treats an empty reply as a failure", async () => {
    const h = harness({ completion: { content: "" } });
    expect(await h.run(0)).toMatchObject({ outcome: "fallback", reason: "empty reply" });
    expect(h.posts[0]).toMatchObject({ content: "Someone will reply soon.", isFallback: true, error: "empty reply", failureIsPermanent: false });
  });

  it("fails with the LLM's error when there is no fallback text and nothing is posted", async () => {
    const h = harness({ project: { fallback_message: null }, completion: { content: "" }, posted: { posted: false, reason: "nothing to post" } });
    expect(await h.run(0)).toEqual({ outcome: "failed", reason: "empty reply", broadcast_events: 7, timings: { wait_ms: 0, context_ms: 30, llm_ms: 400, post_ms: 20 } });
    expect(h.previewCalls).toEqual(["typing true", "withdraw failed", "withdraw nothing to post"]);
  });

  it("reports why the database declined a reply, and withdraws the preview", async () => {
    const h = harness({ posted: { posted: false, reason: "a person answered meanwhile" } });
    expect(await h.run(0)).toEqual({ outcome: "skipped", reason: "a person answered meanwhile", broadcast_events: 7, timings: { wait_ms: 0, context_ms: 30, llm_ms: 400, post_ms: 20 } });
    expect(h.previewCalls).toEqual(["typing true", "finish Yes, on Fridays.", "withdraw a person answered meanwhile"]);
    const handOver = harness({ completion: { handOver: { reason: "upset", malformed: false } }, posted: { posted: false, reason: "claim lost" } });
    expect(await handOver.run(0)).toMatchObject({ outcome: "skipped", reason: "claim lost" });
  });
});

describe("the system clock", () => {
  it("tells the time and sleeps for the time asked", async () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    const started = performance.now();
    await systemClock.sleep(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });
});
