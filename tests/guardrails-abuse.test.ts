// The limits hold against a script: two scripted visitors flood for a few seconds through
// supabase-js (anonymous sign-in, PostgREST, the real triggers), one in one conversation, one
// trying 50, with the product's default limits. Counts are asserted exactly; what a 60 s flood
// costs a bystander is a measurement, not a test: `node bench/abuse.ts` (RELIABILITY.md).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, marker } from "./helpers.ts";
import { flood, hostileVisitor, PRODUCT_DEFAULTS, settledProjects, startMany, usageOf } from "./abuse-script.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ auth: { anonymousSignInsPerHour: 1000 } });
});
afterAll(() => stack?.stop());

const FLOOD_MS = 4_000;

describe("one hostile visitor", () => {
  it("gets exactly the limits, with one or with 50 conversations: 10 messages a minute, 3 conversations an hour, at most 10 LLM calls", async () => {
    const oneProject = await createProject(stack.pool, PRODUCT_DEFAULTS);
    const manyProject = await createProject(stack.pool, PRODUCT_DEFAULTS);
    const [one, many] = [await hostileVisitor(stack), await hostileVisitor(stack)];
    const single = await startMany(one, oneProject, 1);
    const started = await startMany(many, manyProject, 50);
    expect(started.statuses).toEqual({ 201: 3, 429: 47 });

    const until = Date.now() + FLOOD_MS;
    const [oneStatuses, manyStatuses] = await Promise.all([
      flood(one, single.ids, `hostile-one ${marker()}`, until),
      flood(many, started.ids, `hostile-many ${marker()}`, until),
    ]);
    await settledProjects(stack, [oneProject, manyProject]);

    // A script sends far more than 10 in 4 s; exactly 10 get through, every other one is a 429.
    for (const statuses of [oneStatuses, manyStatuses]) {
      expect(Object.keys(statuses).sort()).toEqual(["201", "429"]);
      expect(statuses[201]).toBe(10);
      expect(statuses[429]).toBeGreaterThan(10);
    }
    const [oneUsage, manyUsage] = [await usageOf(stack, oneProject), await usageOf(stack, manyProject)];
    expect(oneUsage.calls).toBeGreaterThanOrEqual(1);
    expect(oneUsage.calls).toBeLessThanOrEqual(10);
    expect(manyUsage.calls).toBeGreaterThanOrEqual(3); // one per conversation at least
    expect(manyUsage.calls).toBeLessThanOrEqual(10);

    const fresh = await hostileVisitor(stack);
    const batch = await fresh.supabase.from("conversations")
      .insert(Array.from({ length: 500 }, () => ({ project_id: manyProject, visitor_id: fresh.id })));
    expect(batch.status).toBe(429); // the 4th row already exceeds 3 conversations an hour
    expect((await stack.pool.query("select count(*)::int as n from public.conversations where visitor_id = $1", [fresh.id])).rows[0].n).toBe(0);
  }, 60_000);
});
