import { describe, expect, it } from "vitest";
import { createHandler, type LogLine } from "../../supabase/functions/ai-responder/handler.ts";
import { jsonDepth } from "../../supabase/functions/ai-responder/http.ts";
import type { Llm } from "../../supabase/functions/ai-responder/llm.ts";
import { silentBroadcaster } from "../../supabase/functions/ai-responder/broadcast.ts";
import type { ReplyStore, ReplyToPost } from "../../supabase/functions/ai-responder/reply-store.ts";
import { createInFlight, releaseClaimsOnRetirement } from "../../supabase/functions/ai-responder/in-flight.ts";
import { signWebhook } from "../../supabase/functions/ai-responder/signature.ts";

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
const CLAIM = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

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
      return {
        action: "reply", conversation_id: message.conversation_id, claim_token: CLAIM,
        project: { id: message.id, name: "Bakery", model: null, system_prompt: null, fallback_message: null, max_prompt_tokens: 4000, max_completion_tokens: 1024, stream_replies: true, answer_only_from_knowledge: false },
        history: [{ from_customer: true, content: message.content }],
        knowledge: [],
      };
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
      return { content: "Yes, on Fridays.", model, promptTokens: 20, completionTokens: 5, finishReason: "stop" };
    },
  };
  const now = Date.parse(message.created_at) + 100;
  const inFlight = createInFlight();
  const handler = createHandler({
    webhookSecret: SECRET, store, llm, defaultModel: "openai/gpt-oss-20b", broadcaster: silentBroadcaster,
    clock: { now: () => now, sleep: async (ms) => void slept.push(ms) },
    runInBackground: (work) => void background.push(work),
    inFlight,
    log: (line) => void logs.push(line),
  });
  /** A delivery signed as the trigger signs it (secret null: no signature headers at all). */
  const request = (init: RequestInit & { secret?: string | null; signedBody?: string; id?: string; at?: number } = {}) => {
    const sent = init.body === undefined ? body : init.body;
    const id = init.id ?? message.id;
    const at = init.at ?? Math.floor(now / 1000);
    const signature: Record<string, string> = init.secret === null ? {} : {
      "webhook-id": id,
      "webhook-timestamp": String(at),
      "webhook-signature": signWebhook(id, at, init.signedBody ?? (typeof sent === "string" ? sent : ((sent as Uint8Array | null) ?? "")), init.secret ?? SECRET),
    };
    return handler(new Request("http://function.test/", {
      method: "POST",
      ...init,
      body: sent,
      headers: { ...signature, ...(init.headers as Record<string, string> | undefined) },
    }));
  };
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
    expect(h.posted[0]).toMatchObject({ messageId: message.id, claimToken: CLAIM, content: "Yes, on Fridays.", isFallback: false, promptTokens: 20, truncated: false, failureIsPermanent: false });
    expect(h.logs.at(-1)).toMatchObject({ event: "handled", message_id: message.id, outcome: "answered" });
  });

  it("checks in order: method, then signature, then body; nothing is parsed before the signature matches", async () => {
    const h = harness();
    expect((await h.request({ method: "GET", body: null })).status).toBe(405);
    expect((await h.request({ secret: null })).status).toBe(401);
    expect((await h.request({ secret: "wrong", body: "{not json" })).status).toBe(401);
    expect((await h.request({ body: "{not json" })).status).toBe(400);
    expect(h.calls).toEqual([]);
    expect(h.background).toEqual([]);
  });

  it.each([
    ["no signature headers", { secret: null }, "unauthorized: webhook-id, webhook-timestamp and webhook-signature headers are required"],
    ["a key of the same length and prefix", { secret: SECRET.slice(0, -1) + "X" }, "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)"],
    ["a timestamp 5 minutes and 1 second old", { at: Math.floor((Date.parse(message.created_at) + 100) / 1000) - 301 }, "unauthorized: webhook-timestamp is more than 5 minutes from now"],
    ["a timestamp 5 minutes and 1 second ahead", { at: Math.floor((Date.parse(message.created_at) + 100) / 1000) + 301 }, "unauthorized: webhook-timestamp is more than 5 minutes from now"],
    ["a body changed by one character", { signedBody: body, body: body.replace("rye", "rie") }, "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)"],
  ])("refuses %s with 401, before any work", async (_name, init, error) => {
    const h = harness();
    const response = await h.request(init);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error });
    expect(h.calls).toEqual([]);
  });

  it("refuses a signed delivery replayed under another webhook-id", async () => {
    const h = harness();
    const at = Math.floor((Date.parse(message.created_at) + 100) / 1000);
    const signature = signWebhook(message.id, at, body, SECRET);
    const replay = await h.request({ secret: null, headers: { "webhook-id": "another-message", "webhook-timestamp": String(at), "webhook-signature": signature } });
    expect(replay.status).toBe(401);
    const genuine = await h.request({ secret: null, headers: { "webhook-id": message.id, "webhook-timestamp": String(at), "webhook-signature": signature } });
    expect(genuine.status).toBe(202);
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
    void h.inFlight.track("not-claimed-yet", new Promise<void>(() => {}));
    h.inFlight.claimed(message.id, CLAIM);
    runtime.dispatchEvent(new CustomEvent("beforeunload", { detail: { reason: "wall_clock" } }));
    await Promise.all(kept);
    expect(h.calls).toContain(`release ${CLAIM}`);
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

describe("the webhook handler's answers", () => {
  it("refuses other methods with 405 and Allow: POST, and logs each refusal with its status", async () => {
    const h = harness();
    const response = await h.request({ method: "PUT" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(await response.json()).toEqual({ error: "method not allowed: send the webhook with POST" });
    expect(h.logs).toEqual([{ event: "rejected", status: 405, error: "method not allowed: send the webhook with POST", ms: 0 }]);
  });

  it("answers 413 to a body over 64 KiB, and takes one of exactly 64 KiB", async () => {
    const h = harness();
    const padded = (size: number) => body + " ".repeat(size - body.length);
    const over = await h.request({ body: padded(64 * 1024 + 1) });
    expect(over.status).toBe(413);
    expect(await over.json()).toEqual({ error: "payload too large: body is larger than 65536 bytes" });
    expect((await h.request({ body: padded(64 * 1024) })).status).toBe(202);
  });

  it("takes 16 levels of nesting and refuses 17", async () => {
    const h = harness();
    const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
    const sixteen = await h.request({ body: nested(16) });
    expect(await sixteen.json()).toEqual({ error: "bad request: payload: Invalid input: expected object, received array" });
    const seventeen = await h.request({ body: nested(17) });
    expect(await seventeen.json()).toEqual({ error: "bad request: body nests more than 16 levels deep" });
  });

  it("names what is wrong with a body that is not JSON or not a webhook", async () => {
    const h = harness();
    const notJson = await h.request({ body: "{not json" });
    expect(await notJson.json()).toEqual({ error: "bad request: body is not valid JSON" });
    const invalid = await h.request({ body: JSON.stringify({ type: "INSERT", table: "messages", schema: "public", record: { ...message, id: 7 }, old_record: null }) });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toEqual({ error: "bad request: record.id: Invalid UUID" });
    expect(h.calls).toEqual([]);
  });

  it("answers 200 to a webhook it has nothing to do for, and logs why", async () => {
    const h = harness();
    const response = await h.request({ body: JSON.stringify({ type: "UPDATE", table: "messages", schema: "public", record: message, old_record: message }) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ skipped: "not an insert (UPDATE)" });
    expect(h.logs).toEqual([{ event: "skipped", status: 200, reason: "not an insert (UPDATE)" }]);
    expect(h.background).toEqual([]);
  });

  it("records the claim of the message in flight, so that retirement can give it back", async () => {
    const h = harness();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const original = h.store.postReply;
    h.store.postReply = async (reply) => { await gate; return original(reply); };
    await h.request();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(h.inFlight.claimTokens()).toEqual([CLAIM]);
    release();
    await Promise.all(h.background);
  });

  it("ignores a reply delay header that is not a number", async () => {
    const h = harness();
    await h.request({ headers: { "x-reply-delay-ms": "soon" } });
    await Promise.all(h.background);
    expect(h.slept).toEqual([]);
  });

  it("logs a run that fails with its error, and the total time", async () => {
    const h = harness();
    h.store.replyContext = async () => { throw new Error("ai_reply_context failed: 57014 canceling statement"); };
    await h.request();
    await Promise.all(h.background);
    expect(h.logs.at(-1)).toEqual({ event: "handled", message_id: message.id, outcome: "error", error: "ai_reply_context failed: 57014 canceling statement", total_ms: 0 });
    const odd = harness();
    odd.store.replyContext = () => Promise.reject("not an Error");
    await odd.request();
    await Promise.all(odd.background);
    expect(odd.logs.at(-1)).toMatchObject({ outcome: "error", error: "unknown error" });
  });

  it("logs a handled message with its outcome and total time", async () => {
    const h = harness();
    await h.request();
    await Promise.all(h.background);
    expect(h.logs.at(-1)).toEqual({ event: "handled", message_id: message.id, outcome: "answered", broadcast_events: 0, timings: { wait_ms: 0, context_ms: 0, llm_ms: 0, post_ms: 0 }, total_ms: 0 });
  });
});
