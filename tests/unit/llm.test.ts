import { describe, expect, it } from "vitest";
import { createGroqLlm, describeLlmError, reasoningOptions } from "../../supabase/functions/ai-responder/llm.ts";

describe("reasoningOptions", () => {
  it("asks gpt-oss for low effort and no reasoning in the answer; other models get nothing Groq could refuse", () => {
    expect(reasoningOptions("openai/gpt-oss-20b")).toEqual({ reasoning_effort: "low", include_reasoning: false });
    expect(reasoningOptions("qwen/qwen3-32b")).toEqual({ reasoning_format: "hidden" });
    expect(reasoningOptions("meta-llama/llama-4-scout-17b-16e-instruct")).toEqual({});
  });
});

describe("the Groq request", () => {
  it("sends only properties Groq documents, and uses message.content alone as the reply", async () => {
    let sent: Record<string, unknown> = {};
    const fakeGroq: typeof fetch = async (_url, init) => {
      sent = JSON.parse(String(init?.body));
      return new Response(JSON.stringify({
        id: "x", object: "chat.completion", created: 0, model: "openai/gpt-oss-20b",
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: " Hello! ", reasoning: "secret thoughts" } }],
        usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
      }), { headers: { "content-type": "application/json" } });
    };
    const llm = createGroqLlm({ apiKey: "k", baseURL: "http://groq.test/openai/v1", defaultModel: "m", timeoutMs: 1000, maxRetries: 0, deadlineMs: 2000 }, fakeGroq);
    const completion = await llm.complete({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "hi" }], maxCompletionTokens: 300 });
    expect(completion).toEqual({ content: "Hello!", model: "openai/gpt-oss-20b", promptTokens: 12, completionTokens: 3, finishReason: "stop", handOver: null });
    expect(sent.max_completion_tokens).toBe(300);
    expect(Object.keys(sent).sort()).toEqual(["include_reasoning", "max_completion_tokens", "messages", "model", "reasoning_effort"]);
  });
});

describe("a streamed Groq answer", () => {
  const sse = (frames: string[]) => async () =>
    new Response(frames.map((frame) => `${frame}\n\n`).join(""), { headers: { "content-type": "text/event-stream" } });
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "openai/gpt-oss-20b", choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}`;
  const config = { apiKey: "k", baseURL: "http://groq.test/openai/v1", defaultModel: "m", timeoutMs: 1000, maxRetries: 0, deadlineMs: 2000 };
  const ask = (fakeGroq: typeof fetch, seen: string[]) =>
    createGroqLlm(config, fakeGroq).complete({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "hi" }], maxCompletionTokens: 300, onText: (text) => seen.push(text) });

  it("hands over the text as it grows, and takes usage from the last chunk that has it", async () => {
    const seen: string[] = [];
    const completion = await ask(sse([
      chunk({ role: "assistant", content: "" }, null),
      chunk({ content: "Hello" }, null),
      chunk({ content: " there." }, null),
      chunk({}, "stop", { x_groq: { usage: { prompt_tokens: 9, completion_tokens: 2 } } }),
      `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 0, model: "openai/gpt-oss-20b", choices: [], usage: { prompt_tokens: 12, completion_tokens: 3 } })}`,
      "data: [DONE]",
    ]), seen);
    expect(seen).toEqual(["Hello", "Hello there."]);
    expect(completion).toEqual({ content: "Hello there.", model: "openai/gpt-oss-20b", promptTokens: 12, completionTokens: 3, finishReason: "stop", handOver: null });
  });

  it("fails with Groq's error event mid-stream, and when the stream ends without a finish_reason", async () => {
    const failed = await ask(sse([chunk({ content: "Hel" }, null), `event: error\ndata: ${JSON.stringify({ error: { message: "Internal Server Error", type: "internal_server_error" } })}`]), []).catch((e: unknown) => e);
    expect(describeLlmError(failed)).toBe("stream error");
    const cut = await ask(sse([chunk({ content: "Hel" }, null)]), []).catch((e: unknown) => e);
    expect(describeLlmError(cut)).toBe("stream interrupted");
  });
});
