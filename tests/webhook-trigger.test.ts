import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Buffer } from "node:buffer";
import { signatureMatches } from "../supabase/functions/ai-responder/signature.ts";
import { agentSays, createProject, startConversation, visitorSays } from "./helpers.ts";
import { sweepConversation } from "./scheduled.ts";
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

type QueuedRequest = { method: string; url: string; headers: Record<string, string>; body: unknown; raw: Buffer; timeout_milliseconds: number };
async function queued(): Promise<QueuedRequest[]> {
  const { rows } = await db.pool.query(
    "select method, url, headers, convert_from(body, 'UTF8')::jsonb as body, body as raw, timeout_milliseconds from net.http_request_queue order by id",
  );
  return rows;
}
/** What the function checks: the signature over exactly the bytes pg_net will send. */
const signedFor = (request: QueuedRequest, secret: string) =>
  signatureMatches(
    { id: request.headers["webhook-id"]!, timestamp: Number(request.headers["webhook-timestamp"]), signatures: request.headers["webhook-signature"]!.split(" ") },
    request.raw,
    secret,
  );

describe("the dispatch_ai_reply trigger", () => {
  it("queues exactly one Database Webhook payload per visitor message, signed, with a timeout, and never the key", async () => {
    const projectId = await createProject(db.pool, { ai_reply_delay_ms: 750 });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const before = Math.floor(Date.now() / 1000);
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "Do you deliver?");
    const { rows: [row] } = await db.pool.query("select to_jsonb(m) as record from public.messages m where id = $1", [messageId]);

    const [request, ...others] = await queued();
    expect(others).toEqual([]);
    expect(request).toMatchObject({
      method: "POST",
      url: "https://example-ref.supabase.co/functions/v1/ai-responder",
      headers: {
        "Content-Type": "application/json",
        "webhook-id": messageId,
        "webhook-timestamp": expect.stringMatching(/^\d+$/),
        "webhook-signature": expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/),
        "x-reply-delay-ms": "750",
      },
      body: { type: "INSERT", table: "messages", schema: "public", record: row.record, old_record: null },
      timeout_milliseconds: 5000,
    });
    expect(Object.keys(request!.headers).sort()).toEqual(["Content-Type", "webhook-id", "webhook-signature", "webhook-timestamp", "x-reply-delay-ms"]);
    expect(Math.abs(Number(request!.headers["webhook-timestamp"]) - before)).toBeLessThanOrEqual(5);
    expect(signedFor(request!, "webhook-secret-for-tests")).toBe(true);
    // A key that differs from the right one in its last character only.
    expect(signedFor(request!, "webhook-secret-for-testS")).toBe(false);
    const { rows: [everything] } = await db.pool.query("select count(*)::int as n from net.http_request_queue q where q::text like '%webhook-secret-for-tests%'");
    expect(everything.n).toBe(0);
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
    await sweepConversation(db.pool, conversationId, 2); // nor later, from the retry sweeper
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
    await sweepConversation(db.pool, conversationId, 2);
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

  it("sends one webhook per conversation per statement: the newest visitor message, the others superseded at once", async () => {
    const projectId = await createProject(db.pool);
    const first = await startConversation(db.pool, projectId);
    const second = await startConversation(db.pool, projectId);
    // As an agents' tool or an import with the service role would: many rows in one statement.
    const { rows } = await db.pool.query<{ id: string; conversation_id: string }>(
      `insert into public.messages (conversation_id, sender_id, from_customer, content, created_at)
       select c, v, true, 'line ' || n, now() + make_interval(secs => n)
       from (values ($1::uuid, $2::text), ($3::uuid, $4::text)) as t(c, v), generate_series(1, 1500) as n
       returning id, conversation_id`,
      [first.conversationId, first.visitorId, second.conversationId, second.visitorId],
    );
    expect(rows).toHaveLength(3000);
    const requests = await queued();
    expect(requests.map((r) => (r.body as { record: { content: string; conversation_id: string } }).record)
      .map((r) => [r.conversation_id, r.content]).sort()).toEqual([[first.conversationId, "line 1500"], [second.conversationId, "line 1500"]].sort());
    const { rows: jobs } = await db.pool.query(
      "select outcome, count(*)::int as n, sum(dispatch_count)::int as dispatches from public.ai_reply_jobs where conversation_id = any($1) group by outcome order by outcome nulls first",
      [[first.conversationId, second.conversationId]],
    );
    expect(jobs).toEqual([{ outcome: null, n: 2, dispatches: 2 }, { outcome: "superseded", n: 2998, dispatches: 0 }]);
  });

  it("sends nothing for a statement mixing an agent's message with the visitor's: the agent took over first", async () => {
    const projectId = await createProject(db.pool);
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await db.pool.query(
      "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, true, 'hi'), ($1, 'agent-1', false, 'Ana here')",
      [conversationId, visitorId],
    );
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
