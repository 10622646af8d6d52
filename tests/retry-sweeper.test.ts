import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signatureMatches } from "../supabase/functions/ai-responder/signature.ts";
import { agentSays, aiRepliesOf, createProject, type ProjectSettings, startConversation, visitorSays } from "./helpers.ts";
import { runScheduled } from "./scheduled.ts";
import { setVault, startTestDatabase, type TestDatabase } from "./test-database.ts";

// The sweeper's SQL alone: no worker and no scheduler run here, so each call is the test's own.
let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());
beforeEach(async () => {
  await setVault(db.pool, "https://example-ref.supabase.co", "webhook-secret-for-tests");
});

const sweep = async (grace = "10 seconds", maxDispatches = 5) =>
  (await db.pool.query("select private.retry_unanswered_ai_replies(grace => $1::interval, max_dispatches => $2) as sent", [grace, maxDispatches])).rows[0].sent;
const job = async (messageId: string) =>
  (await db.pool.query("select dispatch_count, outcome, error, last_request_id from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0];
/** Makes the latest dispatch look `seconds` old. */
const age = (messageId: string, seconds: number) =>
  db.pool.query("update public.ai_reply_jobs set last_dispatched_at = now() - make_interval(secs => $2) where message_id = $1", [messageId, seconds]);
const queuedFor = async (messageId: string) =>
  (await db.pool.query("select count(*)::int as n from net.http_request_queue where convert_from(body, 'UTF8')::jsonb -> 'record' ->> 'id' = $1", [messageId])).rows[0].n;

async function unanswered(settings: ProjectSettings = {}) {
  const projectId = await createProject(db.pool, settings);
  const { visitorId, conversationId } = await startConversation(db.pool, projectId);
  const messageId = await visitorSays(db.pool, visitorId, conversationId, "Is anyone there?");
  return { projectId, visitorId, conversationId, messageId };
}

describe("the retry sweeper", () => {
  it("sends the webhook again for an unanswered message once the grace period has passed", async () => {
    const { messageId } = await unanswered();
    await age(messageId, 11);
    await sweep();
    expect(await job(messageId)).toMatchObject({ dispatch_count: 2, outcome: null });
    expect(await queuedFor(messageId)).toBe(2);
  });

  it("signs each re-dispatch afresh: a new timestamp, a signature valid for it", async () => {
    const { messageId } = await unanswered();
    await db.pool.query("update net.http_request_queue set headers = jsonb_set(headers, '{webhook-timestamp}', '\"1\"') where convert_from(body, 'UTF8')::jsonb -> 'record' ->> 'id' = $1", [messageId]);
    await age(messageId, 11);
    await sweep();
    const { rows } = await db.pool.query(
      "select headers, body from net.http_request_queue where convert_from(body, 'UTF8')::jsonb -> 'record' ->> 'id' = $1 order by id",
      [messageId],
    );
    expect(rows).toHaveLength(2);
    const resent = rows[1]!;
    expect(Math.abs(Number(resent.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(5);
    const signed = { id: resent.headers["webhook-id"], timestamp: Number(resent.headers["webhook-timestamp"]), signatures: [resent.headers["webhook-signature"]] };
    expect(signatureMatches(signed, resent.body, "webhook-secret-for-tests")).toBe(true);
    expect(signatureMatches(signed, resent.body, "webhook-secret-for-testS")).toBe(false);
  });

  it("closes a job whose conversation now awaits a person", async () => {
    const { conversationId, messageId } = await unanswered();
    await db.pool.query("select private.hand_over_to_human($1, 'test')", [conversationId]);
    await age(messageId, 11);
    await sweep();
    expect(await job(messageId)).toMatchObject({ dispatch_count: 1, outcome: "awaiting_human" });
  });

  it("waits for the grace period, doubling it after each dispatch", async () => {
    const { messageId } = await unanswered();
    await age(messageId, 5);
    await sweep();
    expect((await job(messageId)).dispatch_count).toBe(1);
    await db.pool.query("update public.ai_reply_jobs set dispatch_count = 3 where message_id = $1", [messageId]);
    await age(messageId, 30); // 3rd dispatch: next after 4 x 10 s
    await sweep();
    expect((await job(messageId)).dispatch_count).toBe(3);
    await age(messageId, 41);
    await sweep();
    expect((await job(messageId)).dispatch_count).toBe(4);
  });

  it("leaves a message alone while a run of the function holds it", async () => {
    const { messageId } = await unanswered();
    await db.pool.query("select public.ai_reply_context($1, 30)", [messageId]);
    await age(messageId, 11);
    await sweep();
    expect((await job(messageId)).dispatch_count).toBe(1);
  });

  it("never sends again for an answered message", async () => {
    const { messageId } = await unanswered();
    await db.pool.query("select public.ai_reply_context($1)", [messageId]);
    await db.pool.query("select public.ai_post_reply($1, 'answer')", [messageId]);
    await age(messageId, 60);
    await sweep();
    expect(await job(messageId)).toMatchObject({ dispatch_count: 1, outcome: "answered" });
  });

  it("closes instead of sending when the AI is off, a human took over, or a newer message came", async () => {
    const off = await unanswered();
    await db.pool.query("update public.projects set ai_enabled = false where id = $1", [off.projectId]);
    const taken = await unanswered();
    await agentSays(db.pool, taken.conversationId, "Agent here");
    const older = await unanswered();
    await visitorSays(db.pool, older.visitorId, older.conversationId, "newer");
    for (const { messageId } of [off, taken, older]) await age(messageId, 11);
    // As pg_cron runs it: the scheduled command, with production's defaults.
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    expect((await job(off.messageId)).outcome).toBe("ai_disabled");
    expect((await job(taken.messageId)).outcome).toBe("handed_off");
    expect((await job(older.messageId)).outcome).toBe("superseded");
    for (const { messageId } of [off, taken, older]) expect(await queuedFor(messageId)).toBe(1);
    // Later passes leave them closed and unsent.
    for (const { messageId } of [off, taken, older]) await age(messageId, 3600);
    await runScheduled(db.pool, "retry-unanswered-ai-replies");
    for (const { messageId } of [off, taken, older]) expect(await queuedFor(messageId)).toBe(1);
  });

  it("gives up after max_dispatches: posts the fallback text once and marks the job failed", async () => {
    const { conversationId, messageId } = await unanswered({ ai_fallback_message: "A person will answer soon." });
    await db.pool.query("update public.ai_reply_jobs set dispatch_count = 5, error = 'http 500' where message_id = $1", [messageId]);
    await age(messageId, 600);
    await sweep();
    await age(messageId, 600);
    await sweep();
    expect(await job(messageId)).toMatchObject({ outcome: "failed", error: "http 500; no reply after 5 dispatches, fallback posted" });
    expect((await aiRepliesOf(db.pool, conversationId)).map((r) => r.content)).toEqual(["A person will answer soon."]);
    const { rows } = await db.pool.query("select last_message from public.conversations where id = $1", [conversationId]);
    expect(rows[0].last_message).toBe("A person will answer soon.");
  });

  it("gives up without posting anything when the project has no fallback text", async () => {
    const { conversationId, messageId } = await unanswered({ ai_fallback_message: null });
    await db.pool.query("update public.ai_reply_jobs set dispatch_count = 5 where message_id = $1", [messageId]);
    await age(messageId, 600);
    await sweep();
    expect(await job(messageId)).toMatchObject({ outcome: "failed", error: "no reply after 5 dispatches" });
    expect(await aiRepliesOf(db.pool, conversationId)).toEqual([]);
  });

  it("sends once Vault is configured a message that arrived before it was", async () => {
    await setVault(db.pool, null, null);
    const { messageId } = await unanswered();
    expect(await job(messageId)).toMatchObject({ dispatch_count: 1, last_request_id: null });
    await setVault(db.pool, "https://example-ref.supabase.co", "webhook-secret-for-tests");
    await age(messageId, 11);
    await sweep();
    expect((await job(messageId)).last_request_id).not.toBeNull();
    expect(await queuedFor(messageId)).toBe(1);
  });
});
