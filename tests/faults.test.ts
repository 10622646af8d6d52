import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, marker, type ProjectSettings, startConversation, visitorSays, waitFor } from "./helpers.ts";
import { settled } from "./outcomes.ts";

// Real faults on the real stack: processes killed and restarted, the gateway down, the LLM
// failing. The sweeper runs every second here (grace 1 s) so that recovery plays out quickly.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    functionEnv: { GROQ_TIMEOUT_MS: "1500", GROQ_MAX_RETRIES: "2", AI_RESPONDER_LLM_DEADLINE_MS: "4000" },
  });
  await stack.pool.query(
    "select cron.schedule('retry-unanswered-ai-replies', '1 seconds', $$select private.retry_unanswered_ai_replies(grace => interval '1 second', max_dispatches => 8)$$)",
  );
});
afterAll(() => stack?.stop());

/** One message in each of `count` new conversations of a new project. */
async function visitorsWrite(count: number, text: string, settings: ProjectSettings = {}): Promise<string[]> {
  const projectId = await createProject(stack.pool, settings);
  return Promise.all(Array.from({ length: count }, async (_, i) => {
    const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
    return visitorSays(stack.pool, visitorId, conversationId, `${text} #${i}`);
  }));
}

function report(scenario: string, started: number, outcomes: object): void {
  console.log(JSON.stringify({ scenario, ...outcomes, seconds: Math.round((Date.now() - started) / 100) / 10 }));
}

describe("nothing lost, nothing twice, whatever fails", () => {
  it("the function killed while replies are in flight, then restarted", async () => {
    const started = Date.now();
    const text = `in flight ${marker()}`;
    stack.llm!.script(text, [{ delayMs: 1000 }], { always: true });
    const ids = await visitorsWrite(10, text);
    await waitFor("LLM calls in flight", async () => stack.llm!.requestsMentioning(text).length >= 5);
    await stack.edgeFunction.kill();
    await stack.edgeFunction.start();

    const outcomes = await settled(stack.pool, ids);
    report("function killed mid-flight", started, outcomes);
    expect(outcomes).toMatchObject({ messages: 10, answered: 10, unanswered: 0, duplicated: 0 });
    stack.llm!.clearScript(text);
  }, 180_000);

  it("the gateway down when the trigger fires", async () => {
    const started = Date.now();
    await stack.gateway.stop();
    const ids = await visitorsWrite(10, `gateway down ${marker()}`);
    await waitFor("pg_net to record the failed deliveries", async () => {
      const { rows } = await stack.pool.query(
        "select count(*)::int as n from public.ai_reply_jobs j join net._http_response r on r.id = j.last_request_id where j.message_id = any($1) and r.error_msg is not null",
        [ids],
      );
      return rows[0].n === 10;
    });
    await stack.gateway.start();

    const outcomes = await settled(stack.pool, ids);
    report("gateway down at dispatch", started, outcomes);
    expect(outcomes).toMatchObject({ messages: 10, answered: 10, unanswered: 0, duplicated: 0 });
  }, 180_000);

  it("the LLM failing with 500 for 30 seconds, then recovering", async () => {
    const started = Date.now();
    stack.llm!.setOutage({ status: 500 });
    const withoutFallback = await visitorsWrite(10, `outage ${marker()}`, { ai_fallback_message: null });
    const withFallback = await visitorsWrite(5, `outage with fallback ${marker()}`, { ai_fallback_message: "We will get back to you." });
    await new Promise((resolve) => setTimeout(resolve, 30_000)); // the outage itself
    stack.llm!.setOutage(null);

    const outcomes = await settled(stack.pool, [...withoutFallback, ...withFallback]);
    report("LLM 500 for 30 s", started, outcomes);
    expect(outcomes).toMatchObject({ messages: 15, answered: 15, unanswered: 0, duplicated: 0 });
    const { rows } = await stack.pool.query(
      "select outcome, count(*)::int as n from public.ai_reply_jobs where message_id = any($1) group by outcome order by outcome",
      [[...withoutFallback, ...withFallback]],
    );
    expect(rows).toEqual([{ outcome: "answered", n: 10 }, { outcome: "fallback", n: 5 }]);
  }, 180_000);

  it("a storm of 429s with retry-after", async () => {
    const started = Date.now();
    stack.llm!.setOutage({ status: 429, retryAfterSeconds: 1 });
    const ids = await visitorsWrite(20, `rate limited ${marker()}`, { ai_fallback_message: null });
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    stack.llm!.setOutage(null);

    const outcomes = await settled(stack.pool, ids);
    report("429 storm for 5 s", started, outcomes);
    expect(outcomes).toMatchObject({ messages: 20, answered: 20, unanswered: 0, duplicated: 0 });
  }, 180_000);

  it("PostgreSQL crashing with webhooks still queued (pg_net's unlogged queue is lost)", async () => {
    const started = Date.now();
    await stack.pgNetWorker.stop();
    const ids = await visitorsWrite(10, `crash ${marker()}`);
    const queued = async () => (await stack.pool.query("select count(*)::int as n from net.http_request_queue")).rows[0].n;
    expect(await queued()).toBe(10);
    await stack.database.crash();
    await waitFor("crash recovery to finish", async () => {
      try {
        return (await queued()) === 0; // recovery resets unlogged tables: the queued webhooks are gone
      } catch {
        return false;
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await stack.pgNetWorker.start();

    const outcomes = await settled(stack.pool, ids);
    report("PostgreSQL crash, queued webhooks lost", started, outcomes);
    expect(outcomes).toMatchObject({ messages: 10, answered: 10, unanswered: 0, duplicated: 0 });
  }, 180_000);

  it("PostgreSQL restarted mid-run", async () => {
    const started = Date.now();
    const startedAt = async () => (await stack.pool.query("select pg_postmaster_start_time() as t")).rows[0].t.getTime();
    const before = await startedAt();
    const projectId = await createProject(stack.pool);
    const text = `db restart ${marker()}`;
    const ids: string[] = [];
    let restart: Promise<void> | undefined;
    for (let i = 0; i < 20; i++) {
      if (i === 8) restart = stack.database.restart();
      // A visitor whose send fails sends again, as the widget would; what was never written is not lost.
      const id = await waitFor("the visitor's message to be saved", async () => {
        try {
          const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
          return await visitorSays(stack.pool, visitorId, conversationId, `${text} #${i}`);
        } catch {
          return undefined;
        }
      }, { timeoutMs: 60_000, intervalMs: 200 });
      ids.push(id);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await restart;
    expect(await startedAt()).toBeGreaterThan(before);

    const outcomes = await settled(stack.pool, ids);
    report("PostgreSQL restarted mid-run", started, outcomes);
    expect(outcomes).toMatchObject({ messages: 20, answered: 20, unanswered: 0, duplicated: 0 });
  }, 180_000);
});
