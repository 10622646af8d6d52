import { describe, expect, it } from "vitest";
import { createBroadcaster, PREVIEW_INTERVAL_MS, type ReplyEvent } from "../../supabase/functions/ai-responder/broadcast.ts";

/** A publisher that records batches and answers when told, and a clock the test moves. */
function harness() {
  const batches: ReplyEvent[][] = [];
  const pending: (() => void)[] = [];
  let now = 1_000;
  const broadcaster = createBroadcaster(
    (_topic, events) => new Promise<void>((resolve) => {
      batches.push(events);
      pending.push(resolve);
    }),
    { now: () => now, sleep: async () => {} },
  );
  return { batches, pending, preview: broadcaster.forMessage("conversation-1", "message-1"), advance: (ms: number) => void (now += ms) };
}

describe("the reply preview's events", () => {
  it("go out in order, one batch at a time; text waiting behind a publish gives way to newer text", async () => {
    const h = harness();
    h.preview.typing(true);
    h.preview.text("Hel");
    h.advance(PREVIEW_INTERVAL_MS);
    h.preview.text("Hello");
    h.advance(PREVIEW_INTERVAL_MS);
    h.preview.text("Hello there");
    expect(h.batches).toEqual([[{ event: "typing", payload: { message_id: "message-1", seq: 1001, typing: true } }]]);
    h.pending.shift()!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(h.batches[1]).toEqual([{ event: "preview", payload: { message_id: "message-1", seq: 1004, text: "Hello there" } }]);
    expect(h.preview.events()).toBe(2);
  });

  it("withdraws shown text and stops typing when the run ends without a reply", async () => {
    const h = harness();
    h.preview.typing(true);
    h.preview.text("Hel");
    h.preview.withdraw("failed");
    for (let i = 0; i < 3; i++) {
      h.pending.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    expect(h.batches.flat().map((e) => e.event)).toEqual(["typing", "preview", "preview_end", "typing"]);
    expect(h.batches.flat().at(-1)!.payload).toMatchObject({ typing: false });
  });
});
