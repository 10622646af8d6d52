// The knowledge base in SQL alone: articles split into passages by the trigger, retrieval
// (ranking with titles weighted, the byte budget, disabled articles, other projects never),
// the project's text-search configuration, and ai_reply_context / ai_post_reply carrying the
// passages and recording them on the job.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withClaims } from "../local/visitor.ts";
import { createProject, startConversation, visitorSays } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());

const asService = <T>(sql: string, values: unknown[]) =>
  withClaims(db.pool, { role: "service_role" }, async (client) => (await client.query(sql, values)).rows as T[]);

async function addArticle(projectId: string, title: string, content: string, extra: { url?: string; enabled?: boolean } = {}): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(
    "insert into public.knowledge_articles (project_id, title, content, url, enabled) values ($1, $2, $3, $4, $5) returning id",
    [projectId, title, content, extra.url ?? null, extra.enabled ?? true],
  );
  return rows[0]!.id;
}

type Found = { id: string; article_id: string; title: string; url: string | null; content: string; rank: number };
const retrieve = (projectId: string, question: string, budget = 4000) =>
  asService<Found>("select * from private.retrieve_knowledge($1, $2, $3)", [projectId, question, budget]);
const passagesOf = async (articleId: string) =>
  (await db.pool.query<{ id: string; ordinal: number; title: string; body: string }>(
    "select id, ordinal, title, body from private.knowledge_passages where article_id = $1 order by ordinal", [articleId],
  )).rows;

describe("passages", () => {
  it("splits an article at headings and between paragraphs into passages of about 800 bytes, each titled with the article and its heading", async () => {
    const projectId = await createProject(db.pool);
    const paragraph = (n: number) => `Paragraph ${n} ${"lorem ipsum dolor ".repeat(20).trim()}.`;
    const id = await addArticle(projectId, "Shipping", `Intro line.\n# Rates\n${paragraph(1)}\n\n${paragraph(2)}\n\n${paragraph(3)}\n\n## Customs\nDuties are paid by the recipient.`);
    const passages = await passagesOf(id);
    expect(passages.map((p) => p.title)).toEqual(["Shipping", "Shipping: Rates", "Shipping: Rates", "Shipping: Customs"]);
    expect(passages[0]!.body).toBe("Intro line.");
    expect(passages[1]!.body).toBe(`${paragraph(1)}\n\n${paragraph(2)}`);
    expect(passages.every((p) => Buffer.byteLength(p.body) <= 800)).toBe(true);
    expect(passages[3]!.body).toBe("Duties are paid by the recipient.");
  });

  it("cuts a paragraph longer than a passage at spaces, keeps the ids of passages an edit did not change, and drops a disabled article's passages", async () => {
    const projectId = await createProject(db.pool);
    const id = await addArticle(projectId, "Long", `First part.\n\n# Words\n${"word ".repeat(500)}`);
    const before = await passagesOf(id);
    expect(before.length).toBe(5); // "First part." and 2,500 bytes of words in pieces of at most 800
    expect(before.slice(1).every((p) => Buffer.byteLength(p.body) <= 800 && !p.body.startsWith(" ") && p.body.startsWith("word"))).toBe(true);

    await db.pool.query("update public.knowledge_articles set content = $2 where id = $1", [id, `First part, edited.\n\n# Words\n${"word ".repeat(500)}`]);
    const after = await passagesOf(id);
    expect(after[0]!.id).not.toBe(before[0]!.id);
    expect(after.slice(1).map((p) => p.id)).toEqual(before.slice(1).map((p) => p.id));

    await db.pool.query("update public.knowledge_articles set enabled = false where id = $1", [id]);
    expect(await passagesOf(id)).toEqual([]);
  });
});

describe("private.retrieve_knowledge", () => {
  it("ranks a match in the title above the same match in the text, and ignores stop words", async () => {
    const projectId = await createProject(db.pool);
    const inText = await addArticle(projectId, "Account help", "To change your password, open Settings and choose Security.");
    const inTitle = await addArticle(projectId, "Changing your password", "Open Settings and choose Security.");
    await addArticle(projectId, "Opening hours", "We are open from 9 to 5, and how we work is simple.");
    const found = await retrieve(projectId, "How do I change my password?");
    expect(found.map((f) => f.article_id)).toEqual([inTitle, inText]);
    expect(found[0]!.rank).toBeGreaterThan(found[1]!.rank);
  });

  it("returns the best passages that fit the budget in bytes (title, URL and text), best first", async () => {
    const projectId = await createProject(db.pool);
    const body = (topic: string) => `${topic} refunds are possible within 30 days. ${"x".repeat(300)}`;
    await addArticle(projectId, "Refunds for orders", body("Order"), { url: "https://help.example.com/refunds" });
    await addArticle(projectId, "Shipping", body("Shipping"));
    await addArticle(projectId, "Gift cards", body("Gift card"));
    const all = await retrieve(projectId, "refunds");
    expect(all).toHaveLength(3);
    expect(all[0]!.title).toBe("Refunds for orders");
    expect(all[0]!.url).toBe("https://help.example.com/refunds");
    const cost = (f: Found) => Buffer.byteLength(f.title) + Buffer.byteLength(f.url ?? "") + Buffer.byteLength(f.content) + 16;
    const budget = cost(all[0]!) + cost(all[1]!) + 10;
    expect((await retrieve(projectId, "refunds", budget)).map((f) => f.id)).toEqual(all.slice(0, 2).map((f) => f.id));
    expect(await retrieve(projectId, "refunds", 50)).toEqual([]);
  });

  it("never returns disabled articles or another project's articles, and nothing for a question without words", async () => {
    const projectId = await createProject(db.pool);
    const otherProject = await createProject(db.pool);
    await addArticle(projectId, "Warranty", "The warranty lasts two years.", { enabled: false });
    await addArticle(otherProject, "Warranty", "The warranty lasts two years.");
    expect(await retrieve(projectId, "warranty")).toEqual([]);
    expect(await retrieve(otherProject, "warranty")).toHaveLength(1);
    expect(await retrieve(otherProject, "?? !!")).toEqual([]);
    expect(await retrieve(otherProject, "")).toEqual([]);
  });

  it("finds a German article with the project's 'german' configuration (stemming), and re-indexes when it changes", async () => {
    const projectId = await createProject(db.pool);
    await addArticle(projectId, "Rücksendungen", "Rücksendungen sind innerhalb von vierzehn Tagen kostenlos.");
    expect(await retrieve(projectId, "Wie funktioniert eine Rücksendung?")).toEqual([]); // 'english' does not stem German
    await db.pool.query("update public.projects set knowledge_ts_config = 'german' where id = $1", [projectId]);
    const found = await retrieve(projectId, "Wie funktioniert eine Rücksendung?");
    expect(found.map((f) => f.title)).toEqual(["Rücksendungen"]);
  });
});

describe("ai_reply_context and ai_post_reply", () => {
  it("gives the passages matching the visitor's messages of the turn, and records the ones used on the job", async () => {
    const projectId = await createProject(db.pool, { ai_reply_delay_ms: 0 });
    await addArticle(projectId, "Opening hours", "We open at 7 every day.", { url: "https://bakery.example/hours" });
    await addArticle(projectId, "Gluten", "Our rye bread contains gluten.");
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await visitorSays(db.pool, visitorId, conversationId, "Does the rye bread have gluten?");
    await db.pool.query("insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, 'AI_BOT', false, 'It does.')", [conversationId]);
    await visitorSays(db.pool, visitorId, conversationId, "Thanks.");
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "When do you open?");
    const context = (await asService<{ c: any }>("select public.ai_reply_context($1) as c", [messageId]))[0]!.c;
    expect(context.knowledge).toEqual([{ id: expect.any(String), title: "Opening hours", url: "https://bakery.example/hours", content: "We open at 7 every day." }]);
    expect(context.project.answer_only_from_knowledge).toBe(false);

    await asService("select public.ai_post_reply(message_id => $1, content => 'At 7.', claim_token => $2, knowledge_passage_ids => $3)",
      [messageId, context.claim_token, [context.knowledge[0].id]]);
    const { rows: [job] } = await db.pool.query("select outcome, knowledge_passage_ids from public.ai_reply_jobs where message_id = $1", [messageId]);
    expect(job).toEqual({ outcome: "answered", knowledge_passage_ids: [context.knowledge[0].id] });
  });

  it("gives no knowledge when nothing matches or the project's knowledge budget is 0", async () => {
    const projectId = await createProject(db.pool, { ai_reply_delay_ms: 0 });
    await addArticle(projectId, "Opening hours", "We open at 7 every day.");
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const unrelated = await visitorSays(db.pool, visitorId, conversationId, "Do you sell bicycles?");
    expect((await asService<{ c: any }>("select public.ai_reply_context($1) as c", [unrelated]))[0]!.c.knowledge).toEqual([]);
    await db.pool.query("update public.projects set ai_knowledge_max_tokens = 0 where id = $1", [projectId]);
    const matching = await visitorSays(db.pool, visitorId, conversationId, "When do you open?");
    expect((await asService<{ c: any }>("select public.ai_reply_context($1) as c", [matching]))[0]!.c.knowledge).toEqual([]);
  });

  it("hands over through ai_post_reply: the hand-over text as the reply, the conversation marked with the reason, the job handed_over", async () => {
    const projectId = await createProject(db.pool, { ai_handover_message: "A person will reply here." });
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "I want a human");
    const context = (await asService<{ c: any }>("select public.ai_reply_context($1) as c", [messageId]))[0]!.c;
    const r = (await asService<{ r: any }>(
      "select public.ai_post_reply(message_id => $1, claim_token => $2, hand_over => true, hand_over_reason => 'visitor asked for a person', knowledge_passage_ids => '{}') as r",
      [messageId, context.claim_token],
    ))[0]!.r;
    expect(r).toEqual({ posted: true, handed_over: true, reply_id: expect.any(String) });
    const { rows: [reply] } = await db.pool.query("select id, content, reply_to, sender_id from public.messages where reply_to = $1", [messageId]);
    expect(reply).toEqual({ id: r.reply_id, content: "A person will reply here.", reply_to: messageId, sender_id: "AI_BOT" });
    const { rows: [conversation] } = await db.pool.query("select awaiting_human_since is not null as waiting, awaiting_human_reason from public.conversations where id = $1", [conversationId]);
    expect(conversation).toEqual({ waiting: true, awaiting_human_reason: "visitor asked for a person" });
    const { rows: [job] } = await db.pool.query("select outcome, knowledge_passage_ids from public.ai_reply_jobs where message_id = $1", [messageId]);
    expect(job).toEqual({ outcome: "handed_over", knowledge_passage_ids: [] });
    const next = await visitorSays(db.pool, visitorId, conversationId, "Hello?");
    expect((await asService<{ c: any }>("select public.ai_reply_context($1) as c", [next]))[0]!.c).toEqual({ action: "skip", reason: "awaiting_human" });
  });
});
