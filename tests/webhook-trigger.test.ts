import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { agentSays, createProject, startConversation, visitorSays } from "./helpers.ts";
import { setVault, startTestDatabase, type TestDatabase } from "./test-database.ts";

// No pg_net worker runs here: queued requests stay in net.http_request_queue to be read.
let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());
beforeEach(async () => {
  await setVault(db.pool, "https://example-ref.supabase.co/", "webhook-secret-for-tests");
  await db.pool.query("truncate net.http_request_queue");
});

type QueuedRequest = { method: string; url: string; headers: Record<string, string>; body: unknown; timeout_milliseconds: number };
async function queued(): Promise<QueuedRequest[]> {
  const { rows } = await db.pool.query(
    "select method, url, headers, convert_from(body, 'UTF8')::jsonb as body, timeout_milliseconds from net.http_request_queue order by id",
  );
  return rows;
}

describe("the dispatch_ai_reply trigger", () => {
  it("queues exactly one Database Webhook payload per visitor message, with the secret and a timeout", async () => {
    const projectId = await createProject(db.pool, { ai_reply_delay_ms: 750 });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "Do you deliver?");
    const { rows: [row] } = await db.pool.query("select to_jsonb(m) as record from public.messages m where id = $1", [messageId]);

    expect(await queued()).toEqual([{
      method: "POST",
      url: "https://example-ref.supabase.co/functions/v1/ai-responder",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Bearer webhook-secret-for-tests",
        "x-reply-delay-ms": "750",
      },
      body: { type: "INSERT", table: "messages", schema: "public", record: row.record, old_record: null },
      timeout_milliseconds: 5000,
    }]);
    expect((await queued())[0]!.body).toMatchObject({
      record: { id: messageId, conversation_id: conversationId, sender_id: visitorId, from_customer: true, content: "Do you deliver?" },
    });
  });

  it("records the dispatch, so an unanswered message can be found later", async () => {
    const projectId = await createProject(db.pool);
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "Hello");
    const { rows } = await db.pool.query(
      "select j.dispatch_count, j.outcome, j.last_request_id = q.id as same_request from public.ai_reply_jobs j, net.http_request_queue q where j.message_id = $1",
      [messageId],
    );
    expect(rows).toEqual([{ dispatch_count: 1, outcome: null, same_request: true }]);
  });

  it("queues nothing for human agent messages or AI replies", async () => {
    const projectId = await createProject(db.pool);
    const { conversationId } = await startConversation(db.pool, projectId);
    await agentSays(db.pool, conversationId, "Hi, I am Ana from support");
    await db.pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'AI_BOT', false, 'Hello from the AI')",
      [conversationId],
    );
    expect(await queued()).toEqual([]);
  });

  it("queues nothing while the project's AI is off, and again as soon as it is on", async () => {
    const projectId = await createProject(db.pool, { ai_enabled: false });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await visitorSays(db.pool, visitorId, conversationId, "Anyone there?");
    expect(await queued()).toEqual([]);

    await db.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    await visitorSays(db.pool, visitorId, conversationId, "Hello?");
    expect(await queued()).toHaveLength(1);
  });

  it("queues nothing once a human agent has taken the conversation over", async () => {
    const projectId = await createProject(db.pool);
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await agentSays(db.pool, conversationId, "Ana here, I'll take it from here", "agent-ana");
    await visitorSays(db.pool, visitorId, conversationId, "Thanks Ana");
    expect(await queued()).toEqual([]);
    const { rows } = await db.pool.query("select handed_off_to from public.conversations where id = $1", [conversationId]);
    expect(rows[0].handed_off_to).toBe("agent-ana");
  });

  it("keeps the visitor's message when Vault is not configured, with a warning and a job left open for a retry", async () => {
    await setVault(db.pool, null, null);
    const projectId = await createProject(db.pool);
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const warnings: string[] = [];
    const client = await db.pool.connect();
    client.on("notice", (notice) => warnings.push(notice.message ?? ""));
    try {
      await client.query("begin");
      await client.query("set local role authenticated");
      await client.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify({ role: "authenticated", sub: visitorId })]);
      await client.query(
        "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'Still saved?')",
        [conversationId, visitorId],
      );
      await client.query("commit");
    } finally {
      client.release();
    }
    expect(warnings.join("\n")).toMatch(/set the Vault secrets project_url and ai_responder_webhook_secret/);
    const { rows } = await db.pool.query(
      "select m.content, j.dispatch_count, j.last_request_id, j.outcome from public.messages m join public.ai_reply_jobs j on j.message_id = m.id where m.conversation_id = $1",
      [conversationId],
    );
    expect(rows).toEqual([{ content: "Still saved?", dispatch_count: 1, last_request_id: null, outcome: null }]);
    expect(await queued()).toEqual([]);
  });

  it("keeps conversations.last_message current with every message", async () => {
    const projectId = await createProject(db.pool, { ai_enabled: false });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await visitorSays(db.pool, visitorId, conversationId, "first");
    await agentSays(db.pool, conversationId, "second, from an agent");
    const { rows } = await db.pool.query("select last_message, last_message_at is not null as has_time from public.conversations where id = $1", [conversationId]);
    expect(rows).toEqual([{ last_message: "second, from an agent", has_time: true }]);
  });
});
