import { describe, expect, it } from "vitest";
import { createInFlight, releaseClaimsOnRetirement } from "../../supabase/functions/ai-responder/in-flight.ts";

function retiring(releaseClaims: (tokens: string[]) => Promise<number>) {
  const inFlight = createInFlight();
  const kept: Promise<unknown>[] = [];
  const logs: Record<string, unknown>[] = [];
  const released: string[][] = [];
  const runtime = new EventTarget();
  releaseClaimsOnRetirement(inFlight, { releaseClaims: (tokens) => (released.push(tokens), releaseClaims(tokens)) }, (work) => void kept.push(work), (line) => void logs.push(line), runtime);
  return { inFlight, kept, logs, released, retire: (event: Event) => runtime.dispatchEvent(event) };
}

describe("in-flight messages", () => {
  it("records a claim only for a message still in flight", async () => {
    const inFlight = createInFlight();
    inFlight.claimed("gone", "token-gone");
    expect(inFlight.ids()).toEqual([]);
    expect(inFlight.claimTokens()).toEqual([]);
    const work = inFlight.track("m1", Promise.resolve("done"));
    inFlight.claimed("m1", "token-1");
    expect(inFlight.claimTokens()).toEqual(["token-1"]);
    expect(await work).toBe("done");
    expect(inFlight.ids()).toEqual([]);
  });
});

describe("retirement", () => {
  it("releases nothing, and says so, when no claim is held", () => {
    const r = retiring(async () => 0);
    r.retire(new Event("beforeunload"));
    expect(r.released).toEqual([]);
    expect(r.kept).toEqual([]);
    expect(r.logs).toEqual([{ event: "retiring", reason: "unknown", released: 0 }]);
  });

  it("logs a release that fails, with its error", async () => {
    const r = retiring(() => Promise.reject(new Error("ai_release_claims failed: timeout")));
    void r.inFlight.track("m1", new Promise(() => {}));
    r.inFlight.claimed("m1", "token-1");
    r.retire(new CustomEvent("beforeunload", { detail: { reason: "cpu_time" } }));
    await Promise.all(r.kept);
    expect(r.released).toEqual([["token-1"]]);
    expect(r.logs).toEqual([{ event: "retiring", reason: "cpu_time", released: 0, error: "ai_release_claims failed: timeout" }]);
    const odd = retiring(() => Promise.reject("not an Error"));
    void odd.inFlight.track("m1", new Promise(() => {}));
    odd.inFlight.claimed("m1", "token-1");
    odd.retire(new CustomEvent("beforeunload", {}));
    await Promise.all(odd.kept);
    expect(odd.logs).toEqual([{ event: "retiring", reason: "unknown", released: 0, error: "unknown error" }]);
  });
});
