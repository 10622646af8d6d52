// Answers from the customer's knowledge, through the whole pipeline: what the LLM receives
// (sources, instructions, the hand-over tool) and what the job records.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { aiRepliesOf, createProject, marker, type ProjectSettings, startConversation, visitorSays, waitFor } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function projectWithArticles(settings: ProjectSettings & { knowledge_ts_config?: string; ai_answer_only_from_knowledge?: boolean }, articles: { title: string; content: string; url?: string }[]) {
  const { knowledge_ts_config, ai_answer_only_from_knowledge, ...rest } = settings;
  const projectId = await createProject(stack.pool, rest);
  await stack.pool.query(
    "update public.projects set knowledge_ts_config = coalesce($2::regconfig, knowledge_ts_config), ai_answer_only_from_knowledge = coalesce($3, false) where id = $1",
    [projectId, knowledge_ts_config ?? null, ai_answer_only_from_knowledge ?? null],
  );
  const ids: string[] = [];
  for (const a of articles) {
    const { rows } = await stack.pool.query<{ id: string }>(
      "insert into public.knowledge_articles (project_id, title, content, url) values ($1, $2, $3, $4) returning id",
      [projectId, a.title, a.content, a.url ?? null],
    );
    ids.push(rows[0]!.id);
  }
  return { projectId, articleIds: ids, ...(await startConversation(stack.pool, projectId)) };
}

const systemPromptOf = (text: string) => {
  const [request] = stack.llm!.requestsMentioning(text);
  return { system: request!.body.messages[0]!.content, request: request! };
};
const jobOf = async (messageId: string) =>
  (await stack.pool.query("select outcome, knowledge_passage_ids from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0];

describe("with a matching article", () => {
  it("gives its passage to the LLM as a numbered source with title and URL, asks for the URL to be cited, and records the passage on the job", async () => {
    const { articleIds, visitorId, conversationId } = await projectWithArticles({}, [
      { title: "Opening hours", content: "The bakery opens at 7 every morning, Sundays at 9.", url: "https://bakery.example/hours" },
      { title: "Allergens", content: "Our rye bread contains gluten." },
    ]);
    const question = `When do you open on Sundays? ${marker()}`;
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);

    const { system, request } = systemPromptOf(question);
    expect(system).toContain("[1] Opening hours\nURL: https://bakery.example/hours\nThe bakery opens at 7 every morning, Sundays at 9.");
    expect(system).not.toContain("Allergens");
    expect(system).toMatch(/cite that URL/);
    expect(system).toMatch(/say that you do not know, and offer to bring in a person/);
    expect(request.body.tools).toEqual([expect.objectContaining({ type: "function", function: expect.objectContaining({ name: "hand_over_to_human" }) })]);

    const { rows: passages } = await stack.pool.query("select id from private.knowledge_passages where article_id = $1", [articleIds[0]]);
    const job = await waitFor("the job's outcome", async () => { const j = await jobOf(messageId); return j?.outcome && j; });
    expect(job).toEqual({ outcome: "answered", knowledge_passage_ids: passages.map((p) => p.id) });
  });

  it("finds a German article with the project's 'german' configuration", async () => {
    const { visitorId, conversationId } = await projectWithArticles({ knowledge_ts_config: "german" }, [
      { title: "Rücksendungen", content: "Rücksendungen sind innerhalb von vierzehn Tagen kostenlos.", url: "https://shop.example/de/ruecksendungen" },
    ]);
    const question = `Wie funktioniert eine Rücksendung? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
    expect(systemPromptOf(question).system).toContain("[1] Rücksendungen\nURL: https://shop.example/de/ruecksendungen\nRücksendungen sind innerhalb");
  });
});

describe("with no matching article", () => {
  it("adds nothing to the prompt, and records no passage", async () => {
    const { visitorId, conversationId } = await projectWithArticles({ ai_system_prompt: "You are the bakery's assistant." }, [
      { title: "Opening hours", content: "The bakery opens at 7." },
    ]);
    const question = `Do you repair bicycles? ${marker()}`;
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
    expect(systemPromptOf(question).system).toBe("You are the bakery's assistant.");
    expect(await waitFor("the job's outcome", async () => { const j = await jobOf(messageId); return j?.outcome && j; }))
      .toEqual({ outcome: "answered", knowledge_passage_ids: [] });
  });

  it("with answer-only-from-knowledge, tells the AI not to answer from general knowledge but to say it does not know and offer a person, with the tool offered", async () => {
    const { visitorId, conversationId } = await projectWithArticles({ ai_answer_only_from_knowledge: true, ai_system_prompt: "You are the bakery's assistant." }, [
      { title: "Opening hours", content: "The bakery opens at 7." },
    ]);
    const question = `What is the capital of France? ${marker()}`;
    await visitorSays(stack.pool, visitorId, conversationId, question);
    await waitFor("the reply", async () => (await aiRepliesOf(stack.pool, conversationId)).length === 1);
    const { system, request } = systemPromptOf(question);
    expect(system).toMatch(/^You are the bakery's assistant\.\n\nAnswer only from this website's knowledge base\. No article of it matches this question,\nso do not answer from general knowledge: say that you do not know, and offer to bring in a person from the team \(call hand_over_to_human if the visitor wants one\)\.$/);
    const tool = (request.body.tools as { function: { name: string; description: string } }[])[0]!.function;
    expect(tool.name).toBe("hand_over_to_human");
    expect(tool.description).toMatch(/when the sources do not cover the question/);
  });
});
