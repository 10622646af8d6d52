// What the knowledge base costs: ai_reply_context timed over SQL as the function calls it
// (service_role), in a project with `passages` passages, with retrieval and with it off
// (ai_knowledge_max_tokens 0), each message a turn of its own; and the prompt an answer with sources sends to the LLM.
import type pg from "pg";
import { withClaims } from "../local/visitor.ts";
import type { Stack } from "../local/stack.ts";
import { createProject, startConversation, visitorSays } from "../tests/helpers.ts";
import { percentiles, type replyWatcher } from "./measure.ts";

const TOPICS = ["password", "billing", "invoice", "refund", "shipping", "delivery", "account", "login", "subscription", "cancel",
  "warranty", "return", "discount", "coupon", "payment", "card", "address", "order", "tracking", "customs",
  "allergy", "gluten", "opening", "hours", "holiday", "gift", "voucher", "privacy", "cookie", "newsletter",
  "export", "import", "integration", "webhook", "api", "token", "security", "team", "invite", "role",
  "upgrade", "downgrade", "trial", "plan", "storage", "backup", "restore", "mobile", "desktop", "language"];

/** A project with `count` one-passage articles of about 600 bytes: 3 topic words among 90 filler words each. */
async function projectWithPassages(pool: pg.Pool, count: number): Promise<string> {
  const projectId = await createProject(pool, { ai_enabled: true });
  await pool.query(`
    insert into public.knowledge_articles (project_id, title, content)
    select $1, 'Article ' || i || ' about ' || t[1 + i % 50],
           (select string_agg(case when j % 30 = 0 then t[1 + (i * 7 + j) % 50] else 'w' || ((i * 31 + j * 17) % 3000) end, ' ')
            from generate_series(1, 90) j)
    from generate_series(1, $2) i, (select $3::text[] as t) topics`, [projectId, count, TOPICS]);
  return projectId;
}

async function timeContexts(pool: pg.Pool, visitorId: string, conversationId: string, questions: string[]): Promise<number[]> {
  const times: number[] = [];
  for (const question of questions) {
    const messageId = await visitorSays(pool, visitorId, conversationId, question);
    await withClaims(pool, { role: "service_role" }, async (client) => {
      const started = performance.now();
      const { rows: [{ context }] } = await client.query("select public.ai_reply_context($1) as context", [messageId]);
      times.push(performance.now() - started);
      // Answered, as the function would: the next message starts a new turn (its own question).
      await client.query("select public.ai_post_reply(message_id => $1, content => 'ok', claim_token => $2)", [messageId, context.claim_token]);
    });
  }
  return times;
}

/** Run with the pg_net worker stopped (the trigger's webhooks stay queued; the caller clears them). */
export async function retrievalCost(pool: pg.Pool, passages: number, rounds: number) {
  const projectId = await projectWithPassages(pool, passages);
  const { rows: [stats] } = await pool.query<{ passages: number }>(
    "select count(*)::int as passages from private.knowledge_passages where project_id = $1", [projectId]);
  await pool.query("analyze private.knowledge_passages");
  const { visitorId, conversationId } = await startConversation(pool, projectId);
  const questions = Array.from({ length: rounds }, (_, i) =>
    `How do I change my ${TOPICS[i % 50]} and ${TOPICS[(i * 3 + 1) % 50]} settings for the ${TOPICS[(i * 7 + 2) % 50]}?`);
  await timeContexts(pool, visitorId, conversationId, questions.slice(0, 5)); // warm-up
  const withKnowledge = await timeContexts(pool, visitorId, conversationId, questions);
  await pool.query("update public.projects set ai_knowledge_max_tokens = 0 where id = $1", [projectId]);
  const without = await timeContexts(pool, visitorId, conversationId, questions);
  const { rows: [matching] } = await pool.query<{ n: number }>(
    "select count(*)::int as n from private.knowledge_passages where project_id = $1 and search_vector @@ private.knowledge_query('english', $2)",
    [projectId, questions[0]]);
  return { passages: stats!.passages, passages_matching_a_question: matching!.n, with_knowledge: percentiles(withKnowledge), without_knowledge: percentiles(without) };
}

/** One answer with sources through the pipeline (default budgets): the prompt the LLM receives. */
export async function promptWithSources(stack: Stack, watcher: ReturnType<typeof replyWatcher>) {
  const projectId = await projectWithPassages(stack.pool, 200);
  const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
  const marker = `sources-${Date.now()}`;
  await watcher.replyTo(await visitorSays(stack.pool, visitorId, conversationId, `How do I reset my password? ${marker}`));
  const request = stack.llm!.requestsMentioning(marker)[0]!;
  const system = request.body.messages[0]!.content;
  return {
    sources: (system.match(/^\[\d+\] /gm) ?? []).length,
    system_prompt_bytes: Buffer.byteLength(system),
    request_bytes: Buffer.byteLength(JSON.stringify(request.body)),
    tool_bytes: Buffer.byteLength(JSON.stringify(request.body.tools)),
  };
}
