import { describe, expect, it } from "vitest";
import { createHandler, type LogLine } from "../../supabase/functions/ai-responder/handler.ts";
import { jsonDepth } from "../../supabase/functions/ai-responder/http.ts";
import type { Llm } from "../../supabase/functions/ai-responder/llm.ts";
import type { ReplyStore, ReplyToPost } from "../../supabase/functions/ai-responder/reply-store.ts";
import { createInFlight, releaseClaimsOnRetirement } from "../../supabase/functions/ai-responder/in-flight.ts";

const SECRET = "handler-test-secret-0123456789";
const message = {
  id: "8a0a2c55-98f4-4f3e-9a43-6e1f7a5f0b11",
  conversation_id: "0f0c1d5e-7a1b-4d55-8b8e-2f61b0f1c2d3",
  sender_id: "visitor",
  from_customer: true,
  content: "Do you bake rye?",
  created_at: "2026-11-24T10:00:00.000+00:00",
};
const body = JSON.stringify({ type: "INSERT", table: "messages", schema: "public", record: message, old_record: null });

/** The handler with recording fakes for what lies outside it: database calls, LLM, clock. */
function harness() {
  const calls: string[] = [];
  const posted: ReplyToPost[] = [];
  const slept: number[] = [];
  const background: Promise<unknown>[] = [];
  const logs: LogLine[] = [];
  const store: ReplyStore = {
    async replyContext(id) {
      calls.push(`context ${id}`);
      return { action: "reply", conversation_id: message.conversation_id, project: { id: message.id, name: "Bakery", model: null, system_prompt: null, fallback_message: null }, history: [{ from_customer: true, content: message.content }] };
    },
    async postReply(reply) {
      calls.push("post");
      posted.push(reply);
      return { posted: true, reply_id: message.id };
    },
    async releaseClaims(ids) {
      calls.push(`release ${ids.join(",")}`);
      return ids.length;
    },
  };
  const llm: Llm = {
    async complete({ model, messages }) {
      calls.push(`llm ${model} ${messages.length}`);
      return { content: "Yes, on Fridays.", model, promptTokens: 20, completionTokens: 5 };
    },
  };
  const now = Date.parse(message.created_at) + 100;
  const inFlight = createInFlight();
  const handler = createHandler({
    webhookSecret: SECRET, store, llm, defaultModel: "openai/gpt-oss-20b",
    clock: { now: () => now, sleep: async (ms) => void slept.push(ms) },
    runInBackground: (work) => void background.push(work),
    inFlight,
    log: (line) => void logs.push(line),
  });
  const request = (init: RequestInit & { secret?: string | null } = {}) =>
    handler(new Request("http://function.test/", {
      method: "POST",
      body,
      ...init,
      headers: { ...(init.secret === null ? {} : { Authorization: `Bearer ${init.secret ?? SECRET}` }), ...init.headers },
    }));
  return { request, calls, posted, slept, background, logs, inFlight, store };
}

describe("the webhook handler", () => {
  it("answers 202 at once and does the work in the background: wait out the delay, context, LLM, post", async () => {
    const h = harness();
    const response = await h.request({ headers: { "x-reply-delay-ms": "600" } });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ accepted: message.id });
    await Promise.all(h.background);
    expect(h.slept).toEqual([500]); // 600 ms after created_at, 100 ms of which have passed
    expect(h.calls).toEqual([`context ${message.id}`, "llm openai/gpt-oss-20b 2", "post"]);
    expect(h.posted[0]).toMatchObject({ messageId: message.id, content: "Yes, on Fridays.", isFallback: false, promptTokens: 20 });
    expect(h.logs.at(-1)).toMatchObject({ event: "handled", message_id: message.id, outcome: "answered" });
  });

  it("checks in order: method, then secret, then body; nothing is read before the secret matches", async () => {
    const h = harness();
    expect((await h.request({ method: "GET", body: null })).status).toBe(405);
    expect((await h.request({ secret: null })).status).toBe(401);
    expect((await h.request({ secret: "wrong", body: "{not json" })).status).toBe(401);
    expect((await h.request({ body: "{not json" })).status).toBe(400);
    expect(h.calls).toEqual([]);
    expect(h.background).toEqual([]);
  });

  it("refuses deeply nested JSON before parsing it", async () => {
    const h = harness();
    const response = await h.request({ body: "[".repeat(10_000) + "]".repeat(10_000) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "bad request: body nests more than 16 levels deep" });
  });

  it("refuses a body that is not UTF-8", async () => {
    const h = harness();
    const response = await h.request({ body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "bad request: body is not valid UTF-8" });
  });

  it("logs outcomes without the message's content", async () => {
    const h = harness();
    await h.request();
    await Promise.all(h.background);
    expect(JSON.stringify(h.logs)).not.toContain(message.content);
    expect(JSON.stringify(h.logs)).not.toContain(SECRET);
  });
});

describe("retirement", () => {
  it("counts a message as in flight from its 202 until its reply is posted", async () => {
    const h = harness();
    await h.request();
    expect(h.inFlight.ids()).toEqual([message.id]);
    await Promise.all(h.background);
    expect(h.inFlight.ids()).toEqual([]);
  });

  it("gives the in-flight messages' claims back when the runtime says beforeunload", async () => {
    const h = harness();
    const kept: Promise<unknown>[] = [];
    const logs: Record<string, unknown>[] = [];
    const runtime = new EventTarget();
    releaseClaimsOnRetirement(h.inFlight, h.store, (work) => void kept.push(work), (line) => void logs.push(line), runtime);
    let finish!: () => void;
    void h.inFlight.track(message.id, new Promise<void>((resolve) => (finish = resolve)));
    runtime.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason: "wall_clock" } }));
    await Promise.all(kept);
    expect(h.calls).toContain(`release ${message.id}`);
    expect(logs).toContainEqual({ event: "retiring", reason: "wall_clock", released: 1 });
    finish();
  });
});

describe("jsonDepth", () => {
  it("counts nesting of arrays and objects, not brackets inside strings", () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('{"a":"[[[[{{{{\\"]]]"}')).toBe(1);
    expect(jsonDepth("42")).toBe(0);
  });
});
