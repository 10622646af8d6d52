import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StandInLlm, startStandInLlm } from "../local/stand-in-llm.ts";

// The stand-in must behave like Groq's OpenAI-compatible API, as the openai SDK sees it.
let llm: StandInLlm;
let client: OpenAI;
beforeAll(async () => {
  llm = await startStandInLlm();
  client = new OpenAI({ apiKey: llm.apiKey, baseURL: llm.baseURL, maxRetries: 0 });
});
afterAll(() => llm?.stop());

describe("the stand-in LLM", () => {
  it("answers a chat completion with Groq's usage fields and rate-limit headers", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "hi there" }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toContain("hi there");
    expect(data.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(data.usage).toHaveProperty("queue_time");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("14399");
  });

  it("streams chunks, the last with finish_reason and usage, then [DONE]", async () => {
    const stream = await client.chat.completions.create({
      model: "openai/gpt-oss-20b", messages: [{ role: "user", content: "stream me" }], stream: true, stream_options: { include_usage: true },
    });
    let text = "";
    const finishes: (string | null)[] = [];
    let usageChunks = 0;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.choices[0]) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.choices.length === 0 && chunk.usage) usageChunks++;
    }
    expect(text).toContain("stream me");
    expect(finishes.at(-1)).toBe("stop");
    expect(usageChunks).toBe(1);
  });

  it("refuses what Groq refuses: a wrong key, unsupported properties, decommissioned models", async () => {
    const wrongKey = new OpenAI({ apiKey: "nope", baseURL: llm.baseURL, maxRetries: 0 });
    await expect(wrongKey.chat.completions.create({ model: "m", messages: [{ role: "user", content: "x" }] }))
      .rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    await expect(client.chat.completions.create({ model: "m", store: true, messages: [{ role: "user", content: "x" }] }))
      .rejects.toMatchObject({ status: 400 });
    await expect(client.chat.completions.create({ model: "m", n: 2, messages: [{ role: "user", content: "x" }] }))
      .rejects.toMatchObject({ status: 400 });
    await expect(client.chat.completions.create({ model: "llama-3.3-70b-versatile", messages: [{ role: "user", content: "x" }] }))
      .rejects.toMatchObject({ status: 400, code: "model_decommissioned" });
  });

  it("plays scripted failures for matching requests only, in order", async () => {
    llm.script("flaky", [{ status: 429, retryAfterSeconds: 3 }, { status: 500 }]);
    const ask = (content: string) => client.chat.completions.create({ model: "m", messages: [{ role: "user", content }] });
    await expect(ask("flaky one")).rejects.toMatchObject({ status: 429, headers: expect.anything() });
    await expect(ask("steady")).resolves.toBeTruthy();
    await expect(ask("flaky two")).rejects.toMatchObject({ status: 500 });
    await expect(ask("flaky three")).resolves.toBeTruthy();
  });
});
