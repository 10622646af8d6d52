import { describe, expect, it } from "vitest";
import { createGroqLlm, describeLlmError } from "../../supabase/functions/ai-responder/llm.ts";
import { MALFORMED_CALL_REASON } from "../../supabase/functions/ai-responder/hand-over.ts";

const config = { apiKey: "k", baseURL: "http://groq.test/openai/v1", defaultModel: "m", timeoutMs: 1000, maxRetries: 0, deadlineMs: 2000 };
const chunk = (choice: object | null, extra: object = {}) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "openai/gpt-oss-20b-0805", choices: choice ? [{ index: 0, ...choice }] : [], ...extra })}\n\n`;
const toolDelta = (index: number, name?: string, args?: string) =>
  ({ delta: { tool_calls: [{ index, ...(name || args ? { function: { ...(name ? { name } : {}), ...(args ? { arguments: args } : {}) } } : {}) }] }, finish_reason: null });

/** Groq's event stream, one frame every gapMs; then it ends, breaks, or stays open. */
function sse(frames: string[], options: { gapMs?: number; then?: "end" | "break" | "hang"; sent?: Record<string, unknown>[] } = {}): typeof fetch {
  return async (_url, init) => {
    options.sent?.push(JSON.parse(String(init?.body)));
    const encoder = new TextEncoder();
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (i > 0 && options.gapMs) await new Promise((resolve) => setTimeout(resolve, options.gapMs));
        if (i < frames.length) return controller.enqueue(encoder.encode(frames[i++]!));
        if (options.then === "break") return controller.error(new TypeError("terminated"));
        if (options.then === "hang") return new Promise<void>((resolve) => init?.signal?.addEventListener("abort", () => resolve()));
        controller.close();
      },
    });
    init?.signal?.addEventListener("abort", () => void body.cancel().catch(() => {}));
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  };
}
const ask = (fakeGroq: typeof fetch, seen: string[] = [], overrides: object = {}) =>
  createGroqLlm({ ...config, ...overrides }, fakeGroq).complete({
    model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "hi" }], maxCompletionTokens: 300, onText: (text) => seen.push(text),
  });

describe("a streamed Groq answer", () => {
  it("asks for usage in the stream, takes the model Groq names, trims the text, and has no usage when Groq sends none", async () => {
    const sent: Record<string, unknown>[] = [];
    const seen: string[] = [];
    const completion = await ask(sse([chunk({ delta: { content: " Hello" }, finish_reason: null }), chunk({ delta: { content: " there. " }, finish_reason: null }), chunk({ finish_reason: "stop" })], { sent }), seen);
    expect(sent[0]).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(seen).toEqual([" Hello", " Hello there. "]);
    expect(completion).toEqual({ content: "Hello there.", model: "openai/gpt-oss-20b-0805", promptTokens: null, completionTokens: null, finishReason: "stop", handOver: null });
  });

  it("assembles a hand-over call from its pieces", async () => {
    const completion = await ask(sse([
      chunk(toolDelta(0, "hand_over")),
      chunk(toolDelta(0, "_to_human")),
      chunk(toolDelta(0, undefined, "{\"reason\":")),
      chunk(toolDelta(0, undefined, "\"wants a person\"}")),
      chunk(toolDelta(0)),
      chunk({ delta: {}, finish_reason: "tool_calls" }),
    ]));
    expect(completion).toMatchObject({ content: "", finishReason: "tool_calls", handOver: { reason: "wants a person", malformed: false } });
  });

  it("reads a call that arrives under a later index alone", async () => {
    const completion = await ask(sse([chunk(toolDelta(1, "hand_over_to_human", "{\"reason\":\"upset\"}")), chunk({ delta: {}, finish_reason: "tool_calls" })]));
    expect(completion.handOver).toEqual({ reason: "upset", malformed: false });
  });

  it("reads a call with another name as a malformed hand-over", async () => {
    const completion = await ask(sse([chunk(toolDelta(0, "search", "{}")), chunk({ delta: {}, finish_reason: "tool_calls" })]));
    expect(completion.handOver).toEqual({ reason: MALFORMED_CALL_REASON, malformed: true });
  });

  it("keeps a healthy stream whose whole length is past GROQ_TIMEOUT_MS, since each chunk restarts the watch", async () => {
    const frames = ["a", "b", "c", "d", "e", "f"].map((text) => chunk({ delta: { content: text }, finish_reason: null }));
    const completion = await ask(sse([...frames, chunk({ finish_reason: "stop" })], { gapMs: 60 }), [], { timeoutMs: 250, deadlineMs: 5_000 });
    expect(completion.content).toBe("abcdef");
  });

  it("abandons a stream that stalls for GROQ_TIMEOUT_MS after it began, or before its first chunk", async () => {
    const stalled = await ask(sse([chunk({ delta: { content: "Hel" }, finish_reason: null })], { then: "hang" }), [], { timeoutMs: 100, deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(describeLlmError(stalled)).toBe("timeout");
    const silent = await ask(sse([], { then: "hang" }), [], { timeoutMs: 100, deadlineMs: 5_000 }).catch((e: unknown) => e);
    expect(describeLlmError(silent)).toBe("timeout");
  });

  it("gives up at the deadline even while chunks keep coming", async () => {
    const frames = Array.from({ length: 100 }, () => chunk({ delta: { content: "x" }, finish_reason: null }));
    const failed = await ask(sse(frames, { gapMs: 20 }), [], { timeoutMs: 1_000, deadlineMs: 150 }).catch((e: unknown) => e);
    expect(describeLlmError(failed)).toBe("deadline exceeded");
  });

  it("reports a connection that breaks in the middle of the stream", async () => {
    const failed = await ask(sse([chunk({ delta: { content: "Hel" }, finish_reason: null })], { then: "break" })).catch((e: unknown) => e);
    expect(describeLlmError(failed)).toBe("stream interrupted");
    const afterFinish = await ask(sse([chunk({ delta: { content: "Hi." }, finish_reason: "stop" })], { then: "break" })).catch((e: unknown) => e);
    expect(describeLlmError(afterFinish)).toBe("stream interrupted");
  });
});
