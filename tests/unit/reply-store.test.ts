import { afterEach, describe, expect, it, vi } from "vitest";
import { createReplyStore, DatabaseError, type ReplyToPost } from "../../supabase/functions/ai-responder/reply-store.ts";

const MESSAGE = "8a0a2c55-98f4-4f3e-9a43-6e1f7a5f0b11";
const CLAIM = "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const REPLY = "3b2f7a3e-8c1d-4e5f-9a6b-7c8d9e0f1a2b";
type Sent = { url: string; method: string; headers: Headers; body: unknown; signal: AbortSignal | null | undefined };

/** PostgREST as seen through fetch: records each request and answers with the given status and JSON. */
function fakePostgrest(status: number, answer: unknown) {
  const sent: Sent[] = [];
  vi.stubGlobal("fetch", async (url: string | URL, init: RequestInit = {}) => {
    sent.push({ url: String(url), method: init.method ?? "GET", headers: new Headers(init.headers), body: JSON.parse(String(init.body)), signal: init.signal });
    return new Response(JSON.stringify(answer), { status, headers: { "content-type": "application/json" } });
  });
  return sent;
}
afterEach(() => void vi.unstubAllGlobals());

const replyContext = {
  action: "reply", conversation_id: "0f0c1d5e-7a1b-4d55-8b8e-2f61b0f1c2d3", claim_token: CLAIM,
  project: {
    id: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", name: "Bakery", model: null, system_prompt: null, fallback_message: null,
    max_prompt_tokens: 4000, max_completion_tokens: 512, stream_replies: true, answer_only_from_knowledge: false,
  },
  history: [{ from_customer: true, content: "Rye?" }],
  knowledge: [{ id: REPLY, title: "Rye", url: null, content: "Fridays." }],
};
const reply: ReplyToPost = {
  messageId: MESSAGE, claimToken: CLAIM, content: "Yes.", isFallback: false, model: "m", promptTokens: 10, completionTokens: 2,
  llmLatencyMs: 321, error: null, failureIsPermanent: false, truncated: true,
};

describe("the reply store (PostgREST rpc with the service key)", () => {
  it("asks ai_reply_context for the message, claiming it for the given seconds, as supabase-js would", async () => {
    const sent = fakePostgrest(200, replyContext);
    const store = createReplyStore("https://ref.supabase.co/", "sb_secret_key", 75);
    expect(await store.replyContext(MESSAGE)).toEqual(replyContext);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.url).toBe("https://ref.supabase.co/rest/v1/rpc/ai_reply_context");
    expect(sent[0]!.method).toBe("POST");
    expect(sent[0]!.headers.get("apikey")).toBe("sb_secret_key");
    expect(sent[0]!.headers.get("authorization")).toBe("Bearer sb_secret_key");
    expect(sent[0]!.body).toEqual({ message_id: MESSAGE, claim_seconds: 75 });
    expect(sent[0]!.signal).toBeInstanceOf(AbortSignal);
    expect(sent[0]!.signal!.aborted).toBe(false);
  });

  it("reads a skip with its reason", async () => {
    fakePostgrest(200, { action: "skip", reason: "handed over" });
    expect(await createReplyStore("https://ref.supabase.co", "k", 60).replyContext(MESSAGE)).toEqual({ action: "skip", reason: "handed over" });
  });

  it("posts the reply with every column ai_post_reply takes", async () => {
    const sent = fakePostgrest(200, { posted: true, reply_id: REPLY });
    const store = createReplyStore("https://ref.supabase.co", "k", 60);
    expect(await store.postReply(reply)).toEqual({ posted: true, reply_id: REPLY });
    expect(sent[0]!.url).toBe("https://ref.supabase.co/rest/v1/rpc/ai_post_reply");
    expect(sent[0]!.body).toEqual({
      message_id: MESSAGE, content: "Yes.", model: "m", prompt_tokens: 10, completion_tokens: 2, llm_latency_ms: 321, is_fallback: false,
      error: null, claim_token: CLAIM, failure_is_permanent: false, truncated: true, hand_over: false, hand_over_reason: null, knowledge_passage_ids: [],
    });
  });

  it("posts a hand-over with its reason and the passages given as sources", async () => {
    const sent = fakePostgrest(200, { posted: true, reply_id: null, handed_over: true });
    const store = createReplyStore("https://ref.supabase.co", "k", 60);
    const posted = await store.postReply({ ...reply, content: null, handOverReason: "wants a person", knowledgePassageIds: [REPLY] });
    expect(posted).toEqual({ posted: true, reply_id: null, handed_over: true });
    expect(sent[0]!.body).toMatchObject({ content: null, hand_over: true, hand_over_reason: "wants a person", knowledge_passage_ids: [REPLY] });
  });

  it("reads a declined post with its reason", async () => {
    fakePostgrest(200, { posted: false, reason: "claim lost" });
    expect(await createReplyStore("https://ref.supabase.co", "k", 60).postReply(reply)).toEqual({ posted: false, reason: "claim lost" });
  });

  it("gives claims back by token and answers how many were released", async () => {
    const sent = fakePostgrest(200, 2);
    const store = createReplyStore("https://ref.supabase.co", "k", 60);
    expect(await store.releaseClaims([CLAIM, REPLY])).toBe(2);
    expect(sent[0]!.url).toBe("https://ref.supabase.co/rest/v1/rpc/ai_release_claims");
    expect(sent[0]!.body).toEqual({ claim_tokens: [CLAIM, REPLY] });
  });

  it("fails with the function's name, the SQLSTATE and PostgREST's message", async () => {
    fakePostgrest(403, { code: "42501", message: "permission denied for function ai_reply_context", details: null, hint: null });
    const failed = await createReplyStore("https://ref.supabase.co", "k", 60).replyContext(MESSAGE).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DatabaseError);
    expect((failed as Error).message).toBe("ai_reply_context failed: 42501 permission denied for function ai_reply_context");
  });

  it("fails without a code when PostgREST gives none", async () => {
    fakePostgrest(500, { message: "boom" });
    await expect(createReplyStore("https://ref.supabase.co", "k", 60).releaseClaims([CLAIM])).rejects.toThrow(/^ai_release_claims failed: {2}boom$/);
  });

  it("says no more than the code when PostgREST's message is empty", async () => {
    fakePostgrest(400, { code: "P0001", message: "" });
    await expect(createReplyStore("https://ref.supabase.co", "k", 60).releaseClaims([CLAIM])).rejects.toThrow(/^ai_release_claims failed: P0001$/);
  });

  it.each([
    ["ai_reply_context", (s: ReturnType<typeof createReplyStore>) => s.replyContext(MESSAGE), { action: "reply", conversation_id: "x" }],
    ["ai_reply_context", (s: ReturnType<typeof createReplyStore>) => s.replyContext(MESSAGE), { action: "", reason: "x" }],
    ["ai_reply_context", (s: ReturnType<typeof createReplyStore>) => s.replyContext(MESSAGE), { ...replyContext, project: { ...replyContext.project, max_prompt_tokens: 0 } }],
    ["ai_reply_context", (s: ReturnType<typeof createReplyStore>) => s.replyContext(MESSAGE), { ...replyContext, project: { ...replyContext.project, max_completion_tokens: 1.5 } }],
    ["ai_post_reply", (s: ReturnType<typeof createReplyStore>) => s.postReply(reply), { posted: true, reply_id: "not-a-uuid" }],
    ["ai_post_reply", (s: ReturnType<typeof createReplyStore>) => s.postReply(reply), { posted: true, reply_id: null }],
    ["ai_post_reply", (s: ReturnType<typeof createReplyStore>) => s.postReply(reply), { posted: false }],
    ["ai_release_claims", (s: ReturnType<typeof createReplyStore>) => s.releaseClaims([CLAIM]), 1.5],
  ])("refuses an answer of %s in an unexpected shape (%#)", async (fn, call, answer) => {
    fakePostgrest(200, answer);
    await expect(call(createReplyStore("https://ref.supabase.co", "k", 60))).rejects.toThrow(new DatabaseError(`${fn} returned an unexpected shape`));
  });
});
