// `node bench/abuse.ts`: what one hostile visitor can make the AI spend in 60 s, and what it
// costs everyone else (RELIABILITY.md's "abuse" table). Two scripted visitors flood through
// supabase-js, one in one conversation, one trying 50, while a bystander in another project
// writes once a second; prints one JSON line and writes bench/results/latest-abuse.json.
// The limits themselves are asserted, in a few seconds, by tests/guardrails-abuse.test.ts.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startStack } from "../local/stack.ts";
import { createProject, marker } from "../tests/helpers.ts";
import { bystanderLatencies, flood, hostileVisitor, p50, PRODUCT_DEFAULTS, settledProjects, startMany, usageOf } from "../tests/abuse-script.ts";

const FLOOD_MS = Number(process.env.ABUSE_FLOOD_MS ?? 60_000);
const SENDERS = Number(process.env.ABUSE_SENDERS ?? 1);

const stack = await startStack({ auth: { anonymousSignInsPerHour: 1000 }, seed: false });
try {
  const bystanderProject = await createProject(stack.pool);
  const idle = await bystanderLatencies(stack, bystanderProject, 20, 200);

  const oneProject = await createProject(stack.pool, PRODUCT_DEFAULTS);
  const manyProject = await createProject(stack.pool, PRODUCT_DEFAULTS);
  const [one, many] = [await hostileVisitor(stack), await hostileVisitor(stack)];
  const single = await startMany(one, oneProject, 1);
  const started = await startMany(many, manyProject, 50);

  const until = Date.now() + FLOOD_MS;
  const [oneStatuses, manyStatuses, busy] = await Promise.all([
    flood(one, single.ids, `hostile-one ${marker()}`, until, SENDERS),
    flood(many, started.ids, `hostile-many ${marker()}`, until, SENDERS),
    bystanderLatencies(stack, bystanderProject, Math.max(1, Math.round(FLOOD_MS / 1500)), 1000),
  ]);
  await settledProjects(stack, [oneProject, manyProject]);
  const [oneUsage, manyUsage] = [await usageOf(stack, oneProject), await usageOf(stack, manyProject)];
  const figures = {
    figure: "abuse",
    scenario: `one hostile visitor, ${FLOOD_MS / 1000} s`,
    concurrent_requests_per_visitor: SENDERS,
    one_conversation: { inserts: oneStatuses, llm_calls: oneUsage.calls, tokens: oneUsage.tokens },
    fifty_conversations: { started: started.statuses, inserts: manyStatuses, llm_calls: manyUsage.calls, tokens: manyUsage.tokens },
    bystander_p50_ms: { idle: p50(idle), during_flood: p50(busy), ratio: Math.round((p50(busy) / p50(idle)) * 100) / 100 },
  };
  console.log(JSON.stringify(figures));
  const results = join(import.meta.dirname, "results");
  await mkdir(results, { recursive: true });
  await writeFile(join(results, "latest-abuse.json"), `${JSON.stringify(figures)}\n`);
} finally {
  await stack.stop();
}
