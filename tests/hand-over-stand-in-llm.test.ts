// The stand-in LLM's tool use, as strict as Groq: malformed tools and tool_choice values are
// refused with 400; a scripted call comes back as Groq returns it (whole or streamed), and the
// function's Groq client turns it into a hand-over.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { type StandInLlm, startStandInLlm } from "../local/stand-in-llm.ts";
import { handOverTools } from "../supabase/functions/ai-responder/hand-over.ts";
import { createGroqLlm } from "../supabase/functions/ai-responder/llm.ts";

let llm: StandInLlm;
beforeAll(async () => {
  llm = await startStandInLlm();
});
afterAll(() => llm?.stop());

const post = (body: Record<string, unknown>) =>
  fetch(`${llm.baseURL}/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${llm.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "hi" }], ...body }),
  });
const groq = () => createGroqLlm({ apiKey: llm.apiKey, baseURL: llm.baseURL, defaultModel: "m", timeoutMs: 5000, maxRetries: 0, deadlineMs: 10_000 });
const tool = handOverTools(false);

describe("what the stand-in refuses, as Groq does", () => {
  it.each([
    ["tools that are not an array", { tools: {} }, "'tools' : value must be an array"],
    ["a tool of another type", { tools: [{ type: "retrieval" }] }, "'tools.0.type' : value is not one of the allowed values ['function']"],
    ["a function name with spaces", { tools: [{ type: "function", function: { name: "hand over" } }] }, "'tools.0.function.name' : value must be 1 to 64 letters, digits, underscores or dashes"],
    ["parameters that are not an object schema", { tools: [{ type: "function", function: { name: "f", parameters: { type: "string" } } }] }, "'tools.0.function.parameters' : value must be a JSON Schema object with type 'object'"],
    ["an unknown tool_choice", { tools: tool, tool_choice: "sometimes" }, "'tool_choice' : value is not one of the allowed values ['none', 'auto', 'required']"],
    ["a tool_choice naming a function not offered", { tools: tool, tool_choice: { type: "function", function: { name: "other" } } }, "'tool_choice' : function 'other' is not among the tools"],
    ["a tool_choice without tools", { tool_choice: "auto" }, "'tool_choice' : tool_choice is only allowed when tools are specified"],
  ])("400 for %s", async (_name, body, message) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message, type: "invalid_request_error" } });
  });

  it("accepts the function's own tools with every valid tool_choice", async () => {
    for (const choice of [undefined, "none", "auto", "required", { type: "function", function: { name: "hand_over_to_human" } }]) {
      expect((await post({ tools: tool, ...(choice ? { tool_choice: choice } : {}) })).status).toBe(200);
    }
  });
});

describe("a scripted tool call", () => {
  it("comes back whole as message.tool_calls with finish_reason tool_calls, and as one streamed delta", async () => {
    llm.script("whole-call", [{ toolCall: { name: "hand_over_to_human", arguments: "{\"reason\":\"asked\"}" } }]);
    const client = new OpenAI({ apiKey: llm.apiKey, baseURL: llm.baseURL });
    const whole = await client.chat.completions.create({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "whole-call" }], tools: tool });
    expect(whole.choices[0]!.finish_reason).toBe("tool_calls");
    expect(whole.choices[0]!.message.tool_calls).toEqual([{ id: expect.stringMatching(/^call_/), type: "function", function: { name: "hand_over_to_human", arguments: "{\"reason\":\"asked\"}" } }]);

    llm.script("streamed-call", [{ toolCall: { name: "hand_over_to_human", arguments: "{\"reason\":\"asked\"}" } }]);
    const texts: string[] = [];
    const streamed = await groq().complete({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "streamed-call" }], maxCompletionTokens: 100, tools: tool, onText: (t) => texts.push(t) });
    expect(streamed).toMatchObject({ content: "", finishReason: "tool_calls", handOver: { reason: "asked", malformed: false } });
    expect(texts).toEqual([]); // no preview text for a tool call
  });

  it("is not made when the request offers no tools or tool_choice is none: the reply is text", async () => {
    llm.script("no-tools", [{ toolCall: { name: "hand_over_to_human", arguments: "{}" } }]);
    const plain = await groq().complete({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "no-tools" }], maxCompletionTokens: 100 });
    expect(plain.handOver).toBeNull();
    expect(plain.content).toContain("no-tools");
  });

  it("fails as Groq's 400 tool_use_failed, which the function reads as a malformed hand-over", async () => {
    llm.script("bad-call", [{ toolUseFailed: "<function=hand_over_to_human>" }, { toolUseFailed: "<function=hand_over_to_human>" }]);
    const response = await post({ tools: tool, messages: [{ role: "user", content: "bad-call" }] });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: { message: "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.", type: "invalid_request_error", code: "tool_use_failed", failed_generation: "<function=hand_over_to_human>" } });
    const completion = await groq().complete({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "bad-call" }], maxCompletionTokens: 100, tools: tool });
    expect(completion.handOver).toMatchObject({ malformed: true });
  });
});
