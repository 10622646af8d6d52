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
