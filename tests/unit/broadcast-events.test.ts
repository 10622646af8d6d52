import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BROADCAST_TIMEOUT_MS, createBroadcaster, PREVIEW_INTERVAL_MS, type ReplyEvent, restPublisher, silentBroadcaster,
} from "../../supabase/functions/ai-responder/broadcast.ts";

/** A publisher that records each batch with its topic and answers at once, and a clock the test moves. */
function harness() {
  const batches: { topic: string; events: ReplyEvent[] }[] = [];
  let now = 5_000;
  const broadcaster = createBroadcaster(async (topic, events) => void batches.push({ topic, events }), { now: () => now, sleep: async () => {} });
  const preview = broadcaster.forMessage("c-1", "m-1");
  const sent = () => batches.flatMap((batch) => batch.events);
  return { batches, preview, sent, advance: (ms: number) => void (now += ms) };
}
const settle = () => vi.advanceTimersByTimeAsync(0);
afterEach(() => void vi.useRealTimers());

describe("the reply preview", () => {
  it("publishes on the conversation's topic and keeps publishing after a batch went out", async () => {
    vi.useFakeTimers();
    const h = harness();
    h.preview.typing(true);
    await settle();
    h.preview.text("Hi");
    await settle();
    expect(h.batches).toEqual([
      { topic: "conversation:c-1", events: [{ event: "typing", payload: { message_id: "m-1", seq: 5001, typing: true } }] },
      { topic: "conversation:c-1", events: [{ event: "preview", payload: { message_id: "m-1", seq: 5002, text: "Hi" } }] },
    ]);
  });

  it("sends text at most every 80 ms: text within the interval waits, and goes out when it ends", async () => {
    vi.useFakeTimers();
    const h = harness();
    h.preview.text("  ");
    h.preview.text("  Hel");
    h.advance(PREVIEW_INTERVAL_MS - 1);
    h.preview.text("Hello");
    await settle();
    expect(h.sent().map((e) => e.payload)).toEqual([{ message_id: "m-1", seq: 5001, text: "Hel" }]);
    h.advance(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.sent().map((e) => e.payload)).toEqual([{ message_id: "m-1", seq: 5001, text: "Hel" }, { message_id: "m-1", seq: 5002, text: "Hello" }]);
    h.advance(PREVIEW_INTERVAL_MS);
    h.preview.text("Hello there ");
    await settle();
    expect(h.sent().at(-1)!.payload).toEqual({ message_id: "m-1", seq: 5003, text: "Hello there " });
  });

  it("sends the final text only if text was shown or is waiting", async () => {
    vi.useFakeTimers();
    const quiet = harness();
    quiet.preview.typing(true);
    quiet.preview.finish("Yes.");
    await settle();
    expect(quiet.sent().map((e) => e.event)).toEqual(["typing"]);
    const waiting = harness();
    waiting.preview.text("Ye");
    waiting.preview.text("Yes");
    waiting.preview.finish("Yes.");
    await settle();
    expect(waiting.sent().map((e) => e.payload)).toEqual([{ message_id: "m-1", seq: 5001, text: "Ye" }, { message_id: "m-1", seq: 5002, text: "Yes." }]);
    await vi.advanceTimersByTimeAsync(PREVIEW_INTERVAL_MS);
    expect(waiting.sent()).toHaveLength(2);
    const shown = harness();
    shown.preview.text("Ye");
    shown.advance(PREVIEW_INTERVAL_MS * 2);
    shown.preview.finish("Yes.");
    await settle();
    expect(shown.sent().map((e) => e.payload)).toEqual([{ message_id: "m-1", seq: 5001, text: "Ye" }, { message_id: "m-1", seq: 5002, text: "Yes." }]);
  });

  it("sends text held after an earlier publish at the end of its own interval, not at an older timer's", async () => {
    vi.useFakeTimers();
    const h = harness();
    h.preview.text("a");
    h.preview.text("ab");
    h.advance(PREVIEW_INTERVAL_MS);
    await vi.advanceTimersByTimeAsync(PREVIEW_INTERVAL_MS / 2);
    h.preview.text("abc");
    h.preview.text("abcd");
    await vi.advanceTimersByTimeAsync(PREVIEW_INTERVAL_MS / 2);
    expect(h.sent().map((e) => (e.payload as { text: string }).text)).toEqual(["a", "abc"]);
    await vi.advanceTimersByTimeAsync(PREVIEW_INTERVAL_MS / 2);
    expect(h.sent().map((e) => (e.payload as { text: string }).text)).toEqual(["a", "abc", "abcd"]);
  });

  it("sends the final text when text is waiting, even after an earlier withdrawal", async () => {
    vi.useFakeTimers();
    const h = harness();
    h.preview.text("a");
    h.preview.withdraw("failed");
    h.preview.text("b");
    h.preview.finish("b.");
    await settle();
    expect(h.sent().map((e) => e.event)).toEqual(["preview", "preview_end", "preview"]);
    expect(h.sent().at(-1)!.payload).toEqual({ message_id: "m-1", seq: 5003, text: "b." });
  });

  it("withdraws shown text once, with the reason, and stops typing once", async () => {
    vi.useFakeTimers();
    const h = harness();
    h.preview.typing(true);
    h.preview.text("Hel");
    h.preview.withdraw("failed");
    h.preview.withdraw("failed");
    await settle();
    expect(h.sent()).toEqual([
      { event: "typing", payload: { message_id: "m-1", seq: 5001, typing: true } },
      { event: "preview", payload: { message_id: "m-1", seq: 5002, text: "Hel" } },
      { event: "preview_end", payload: { message_id: "m-1", seq: 5003, reason: "failed" } },
      { event: "typing", payload: { message_id: "m-1", seq: 5004, typing: false } },
    ]);
    expect(h.preview.events()).toBe(4);
  });

  it("withdraws nothing that was never shown", async () => {
    vi.useFakeTimers();
    const h = harness();
    h.preview.withdraw("skipped");
    await settle();
    expect(h.sent()).toEqual([]);
    expect(silentBroadcaster.forMessage("c", "m").events()).toBe(0);
  });
});

describe("restPublisher", () => {
  function publisher(answer: () => Promise<Response>) {
    const requests: { url: string; init: RequestInit }[] = [];
    const kept: Promise<unknown>[] = [];
    const logs: Record<string, unknown>[] = [];
    const publish = restPublisher("https://ref.supabase.co/", "sb_secret_x", (work) => void kept.push(work), (line) => void logs.push(line), async (url, init) => {
      requests.push({ url: String(url), init: init! });
      return answer();
    });
    return { publish, requests, kept, logs };
  }
  const events: ReplyEvent[] = [{ event: "typing", payload: { message_id: "m-1", seq: 1, typing: true } }];

  it("posts the batch to Realtime's broadcast endpoint as private messages, with the service key", async () => {
    const p = publisher(async () => new Response(null, { status: 202 }));
    await p.publish("conversation:c-1", events);
    expect(p.kept).toHaveLength(1);
    expect(p.requests[0]!.url).toBe("https://ref.supabase.co/realtime/v1/api/broadcast");
    expect(p.requests[0]!.init.method).toBe("POST");
    expect(p.requests[0]!.init.headers).toEqual({ apikey: "sb_secret_x", Authorization: "Bearer sb_secret_x", "Content-Type": "application/json" });
    expect(JSON.parse(String(p.requests[0]!.init.body))).toEqual({ messages: [{ topic: "conversation:c-1", event: "typing", payload: events[0]!.payload, private: true }] });
    expect(p.requests[0]!.init.signal).toBeInstanceOf(AbortSignal);
    expect(BROADCAST_TIMEOUT_MS).toBe(2_000);
    expect(p.logs).toEqual([]);
  });

  it("logs a refused or failed publish and carries on", async () => {
    const refused = publisher(async () => new Response("{}", { status: 403 }));
    await refused.publish("conversation:c-1", events);
    expect(refused.logs).toEqual([{ event: "broadcast_failed", status: 403, events: 1 }]);
    const failed = publisher(() => Promise.reject(new DOMException("timed out", "TimeoutError")));
    await failed.publish("conversation:c-1", events);
    expect(failed.logs).toEqual([{ event: "broadcast_failed", error: "TimeoutError", events: 1 }]);
    const odd = publisher(() => Promise.reject("not an Error"));
    await odd.publish("conversation:c-1", events);
    expect(odd.logs).toEqual([{ event: "broadcast_failed", error: "unknown error", events: 1 }]);
  });
});
