import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import {
  createGroqLlm, describeLlmError, EmptyReplyError, isPermanentLlmFailure, StreamInterruptedError, StreamStalledError,
} from "../../supabase/functions/ai-responder/llm.ts";
import { handOverTools, MALFORMED_CALL_REASON } from "../../supabase/functions/ai-responder/hand-over.ts";

const groqError = (status: number, code?: string) =>
  OpenAI.APIError.generate(status, { error: { message: "refused", ...(code ? { code } : {}) } }, "refused", new Headers());

describe("describeLlmError", () => {
  it.each([
    [new OpenAI.APIConnectionTimeoutError(), "timeout"],
    [new OpenAI.APIUserAbortError(), "deadline exceeded"],
    [groqError(429, "rate_limit_exceeded"), "http 429 rate_limit_exceeded"],
    [groqError(503), "http 503"],
    [new StreamStalledError(), "timeout"],
    [new StreamInterruptedError(), "stream interrupted"],
    [new OpenAI.APIConnectionError({ message: "ECONNRESET" }), "connection error"],
    [new OpenAI.APIError(undefined, { code: "internal_server_error", message: "x" }, "x", undefined), "stream error internal_server_error"],
    [new OpenAI.APIError(undefined, { message: "x" }, "x", undefined), "stream error"],
    [new EmptyReplyError(), "empty reply"],
    [new Error("secret prompt text"), "unexpected error"],
    ["a string", "unexpected error"],
  ])("names %s without its content", (error, described) => {
    expect(describeLlmError(error)).toBe(described);
  });
});

describe("isPermanentLlmFailure", () => {
  it.each([
    [groqError(401), true],
    [groqError(403), true],
    [groqError(404), true],
    [groqError(400, "model_decommissioned"), true],
    [groqError(400, "model_not_found"), true],
    [groqError(400, "invalid_request_error"), false],
    [groqError(413), true],
    [groqError(429), false],
    [groqError(500), false],
    [new OpenAI.APIConnectionTimeoutError(), false],
    [new StreamStalledError(), false],
    [new Error("x"), false],
  ])("%s → %s (only what retrying cannot fix counts towards the circuit breaker)", (error, permanent) => {
    expect(isPermanentLlmFailure(error)).toBe(permanent);
  });
});

const config = { apiKey: "k", baseURL: "http://groq.test/openai/v1", defaultModel: "m", timeoutMs: 1000, maxRetries: 0, deadlineMs: 2000 };
const answer = (body: object, status = 200): typeof fetch => async () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const completion = (message: object, extra: object = {}) => ({
  id: "x", object: "chat.completion", created: 0, model: "openai/gpt-oss-20b-0805",
  choices: [{ index: 0, finish_reason: "tool_calls", message: { role: "assistant", content: null, ...message } }], ...extra,
});
const ask = (fakeGroq: typeof fetch, overrides: object = {}) =>
  createGroqLlm({ ...config, ...overrides }, fakeGroq).complete({
    model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "a person please" }], maxCompletionTokens: 300, tools: handOverTools(false),
  });

describe("a Groq answer that is not text", () => {
  it("sends the tools offered, and reads a hand-over call from the answer", async () => {
    let sent: Record<string, unknown> = {};
    const fakeGroq: typeof fetch = async (url, init) => {
      sent = JSON.parse(String(init?.body));
      return answer(completion({ tool_calls: [{ id: "c1", type: "function", function: { name: "hand_over_to_human", arguments: "{\"reason\":\"asked for a person\"}" } }] }))(url, init);
    };
    expect(await ask(fakeGroq)).toEqual({
      content: "", model: "openai/gpt-oss-20b-0805", promptTokens: null, completionTokens: null, finishReason: "tool_calls",
      handOver: { reason: "asked for a person", malformed: false },
    });
    expect(sent.tools).toEqual(handOverTools(false));
  });

  it("treats a call of another kind than a function as a malformed hand-over", async () => {
    const result = await ask(answer(completion({ tool_calls: [{ id: "c1", type: "custom", custom: { name: "hand_over_to_human", input: "{}" } }] })));
    expect(result.handOver).toEqual({ reason: MALFORMED_CALL_REASON, malformed: true });
  });

  it("reads an answer without choices as empty, with no finish reason", async () => {
    const result = await ask(answer({ id: "x", object: "chat.completion", created: 0, model: "m2", choices: [] }));
    expect(result).toEqual({ content: "", model: "m2", promptTokens: null, completionTokens: null, finishReason: null, handOver: null });
  });

  it("takes Groq's tool_use_failed refusal as a malformed hand-over", async () => {
    const result = await ask(answer({ error: { message: "Failed to call a function", type: "invalid_request_error", code: "tool_use_failed" } }, 400));
    expect(result).toEqual({
      content: "", model: "openai/gpt-oss-20b", promptTokens: null, completionTokens: null, finishReason: "tool_calls",
      handOver: { reason: MALFORMED_CALL_REASON, malformed: true },
    });
  });

  it("passes other refusals on as errors", async () => {
    const failed = await ask(answer({ error: { message: "bad", type: "invalid_request_error", code: "model_not_found" } }, 400)).catch((e: unknown) => e);
    expect(describeLlmError(failed)).toBe("http 400 model_not_found");
    expect(isPermanentLlmFailure(failed)).toBe(true);
  });

  it("gives up at the deadline, retries included", async () => {
    const never: typeof fetch = (_url, init) => new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(init.signal!.reason));
    });
    const started = Date.now();
    const failed = await ask(never, { deadlineMs: 100, timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(describeLlmError(failed)).toBe("deadline exceeded");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
