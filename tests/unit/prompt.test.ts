import { describe, expect, it } from "vitest";
import { buildPrompt, defaultSystemPrompt, type HistoryMessage } from "../../supabase/functions/ai-responder/prompt.ts";

const visitor = (content: string): HistoryMessage => ({ from_customer: true, content });
const ai = (content: string): HistoryMessage => ({ from_customer: false, content });
const agent = (content: string): HistoryMessage => ({ from_customer: false, content });

describe("buildPrompt", () => {
  it("puts the system prompt first, then the conversation oldest first with visitor = user, AI and agents = assistant", () => {
    expect(buildPrompt("Sys", [visitor("hi"), ai("hello"), agent("agent here"), visitor("ok")])).toEqual([
      { role: "system", content: "Sys" },
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "assistant", content: "agent here" },
      { role: "user", content: "ok" },
    ]);
  });

  it("drops the oldest messages first to stay within the budget", () => {
    const prompt = buildPrompt("Sys", [visitor("a".repeat(60)), ai("b".repeat(30)), visitor("c".repeat(30))], 70);
    expect(prompt.map((m) => m.content[0])).toEqual(["S", "b", "c"]);
  });

  it("always keeps the newest message, even alone above the budget", () => {
    const prompt = buildPrompt("Sys", [visitor("old"), visitor("x".repeat(500))], 100);
    expect(prompt).toEqual([{ role: "system", content: "Sys" }, { role: "user", content: "x".repeat(500) }]);
  });
});

describe("defaultSystemPrompt", () => {
  it("names the project, keeps to its topic, and never claims to be human", () => {
    const prompt = defaultSystemPrompt("Demo Bakery");
    expect(prompt).toContain("Demo Bakery");
    expect(prompt).toMatch(/never claim or imply that you are a human/);
    expect(prompt).toMatch(/decline anything unrelated/);
  });
});
