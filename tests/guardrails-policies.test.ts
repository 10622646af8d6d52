// The visitors' select policies read through indexes: an unfiltered read of messages or
// conversations costs the visitor's own rows, not every customer's. Proven by the plans
// PostgreSQL chooses for a visitor over 2,000 conversations and 50,000 messages, and by the
// plan the previous `exists` policy got on the same data (a scan of every message).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asVisitor } from "../local/visitor.ts";
import { createProject, createVisitor } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
let visitorId: string;
beforeAll(async () => {
  db = await startTestDatabase();
  const projectId = await createProject(db.pool, { ai_enabled: false });
  visitorId = await createVisitor(db.pool);
  // 2,000 conversations (one of them the visitor's), 25 messages each, written as an import would.
  await db.pool.query(
    `insert into public.conversations (project_id, visitor_id)
     select $1, case when n = 1 then $2::uuid end from generate_series(1, 2000) n`,
    [projectId, visitorId],
  );
  await db.pool.query(
    `insert into public.messages (conversation_id, sender_id, from_customer, content)
     select c.id, 'agent-1', false, 'message ' || n from public.conversations c, generate_series(1, 25) n
     where c.project_id = $1`,
    [projectId],
  );
  await db.pool.query("analyze public.conversations, public.messages");
}, 120_000);
afterAll(() => db?.stop());

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; "Plan Rows": number; Plans?: PlanNode[] };
const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

async function visitorPlan(sql: string): Promise<PlanNode[]> {
  return asVisitor(db.pool, visitorId, async (client) => {
    const { rows } = await client.query(`explain (format json) ${sql}`);
    return nodes(rows[0]["QUERY PLAN"][0].Plan);
  });
}
const scans = (plan: PlanNode[], table: string) =>
  plan.filter((node) => node["Relation Name"] === table).map((node) => `${node["Node Type"]}${node["Index Name"] ? ` ${node["Index Name"]}` : ""}`);

describe("a visitor's unfiltered read", () => {
  it("of messages uses messages_conversation_latest_idx, never a scan of every message, and estimates only their rows", async () => {
    const plan = await visitorPlan("select * from public.messages");
    expect(scans(plan, "messages")).toEqual([expect.stringMatching(/^(Index Scan|Bitmap Heap Scan|Bitmap Index Scan)/)]);
    expect(plan.some((node) => node["Index Name"] === "messages_conversation_latest_idx")).toBe(true);
    expect(scans(plan, "messages").join()).not.toMatch(/Seq Scan/);
    // What Prefer: count=planned would reveal: a small estimate, not half of 50,000.
    expect(plan[0]!["Plan Rows"]).toBeLessThan(2_500);
    const { rows } = await asVisitor(db.pool, visitorId, (client) => client.query("select count(*)::int as n from public.messages"));
    expect(rows[0].n).toBe(25);
  });

  it("of conversations uses conversations_visitor_id_idx", async () => {
    const plan = await visitorPlan("select * from public.conversations");
    // With the agents' policy beside the visitors' (OR-ed), a bitmap of both indexes.
    expect(scans(plan, "conversations").join()).not.toMatch(/Seq Scan/);
    expect(plan.some((node) => node["Index Name"] === "conversations_visitor_id_idx")).toBe(true);
  });

  it("would scan every message under the previous per-row exists policy (the test tells the two apart)", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query(`alter policy "visitors read messages of their own conversations" on public.messages
        using (exists (select 1 from public.conversations c where c.id = conversation_id and c.visitor_id = (select auth.uid())))`);
      await client.query("set local role authenticated");
      await client.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify({ role: "authenticated", sub: visitorId })]);
      const { rows } = await client.query("explain (format json) select * from public.messages");
      expect(scans(nodes(rows[0]["QUERY PLAN"][0].Plan), "messages")).toEqual(["Seq Scan"]);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
});
