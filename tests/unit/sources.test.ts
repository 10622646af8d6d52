import { describe, expect, it } from "vitest";
import { handOverFrom, handOverTools, MALFORMED_CALL_REASON } from "../../supabase/functions/ai-responder/hand-over.ts";
import { withSources } from "../../supabase/functions/ai-responder/sources.ts";

const passage = (n: number, url: string | null = null) => ({ id: `id-${n}`, title: `Title ${n}`, url, content: `Text ${n}.` });

describe("withSources", () => {
  it("leaves the system prompt as it is without sources, unless the project answers only from its knowledge", () => {
    expect(withSources("Sys", [], false)).toBe("Sys");
    expect(withSources("Sys", [], true)).toMatch(/^Sys\n\nAnswer only from this website's knowledge base\..*do not answer from general knowledge: say that you do not know, and offer to bring in a person/s);
  });

  it("numbers the sources with their titles and URLs, and asks for the URL to be cited", () => {
    const prompt = withSources("Sys", [passage(1, "https://x.example/a"), passage(2)], false);
    expect(prompt).toContain("Sources:\n[1] Title 1\nURL: https://x.example/a\nText 1.\n\n[2] Title 2\nText 2.");
    expect(prompt).toContain("Answer from the numbered sources below");
    expect(prompt).toContain("cite that URL");
    expect(withSources("Sys", [passage(1)], true)).toContain("Answer only from the numbered sources below");
  });
});

describe("handOverFrom", () => {
  it("reads the reason of a well-formed call, and treats anything else as a malformed hand-over", () => {
    expect(handOverFrom([])).toBeNull();
    expect(handOverFrom([{ name: "hand_over_to_human", arguments: "{\"reason\":\" wants a person \"}" }])).toEqual({ reason: "wants a person", malformed: false });
    for (const call of [{ name: "hand_over_to_human", arguments: "{" }, { name: "hand_over_to_human", arguments: "{\"reason\":\"\"}" }, { name: "other", arguments: "{}" }]) {
      expect(handOverFrom([call])).toEqual({ reason: MALFORMED_CALL_REASON, malformed: true });
    }
  });

  it("offers one function tool in the OpenAI format, mentioning uncovered questions only when answering only from knowledge", () => {
    const [tool] = handOverTools(false);
    expect(tool).toMatchObject({ type: "function", function: { name: "hand_over_to_human", parameters: { type: "object", required: ["reason"] } } });
    expect(tool!.function.description).not.toMatch(/sources/);
    expect(handOverTools(true)[0]!.function.description).toMatch(/sources do not cover the question/);
  });
});

describe("the knowledge and hand-over texts, word for word", () => {
  it("is the sources section", () => {
    expect(withSources("Sys", [passage(1)], false)).toBe([
      "Sys",
      "",
      "Answer from the numbered sources below (this website's knowledge base) when they cover the question.",
      "When you use a source that has a URL, cite that URL in your reply.",
      "If the sources do not cover the question, say that you do not know, and offer to bring in a person from the team (call hand_over_to_human if the visitor wants one).",
      "",
      "Sources:",
      "[1] Title 1\nText 1.",
    ].join("\n"));
  });

  it("is the hand-over tool", () => {
    const tool = (coverage: string) => [{
      type: "function",
      function: {
        name: "hand_over_to_human",
        description: "Hand this conversation over to a person from the team, who will answer here. " +
          `Use it when the visitor asks for a person (a human, an agent, someone from the team) ${coverage}` +
          "Write no reply with it: the visitor is told that a person will reply.",
        parameters: {
          type: "object",
          properties: { reason: { type: "string", description: "Why, in a few words, for the agent (e.g. visitor asked for a person)." } },
          required: ["reason"],
          additionalProperties: false,
        },
      },
    }];
    expect(handOverTools(false)).toEqual(tool("or is upset or frustrated. "));
    expect(handOverTools(true)).toEqual(tool("or is upset or frustrated, or when the sources do not cover the question and the visitor wants an answer anyway. "));
  });

  it("stores a reason of at most 200 characters, and says so when the call was of another tool", () => {
    expect(handOverFrom([{ name: "hand_over_to_human", arguments: JSON.stringify({ reason: "r".repeat(300) }) }])).toEqual({ reason: "r".repeat(200), malformed: false });
    expect(handOverFrom([{ name: "search_web", arguments: "{\"reason\":\"looks fine\"}" }])).toEqual({ reason: MALFORMED_CALL_REASON, malformed: true });
    expect(MALFORMED_CALL_REASON).toBe("the AI asked for a person (its hand-over call was malformed)");
  });
});
