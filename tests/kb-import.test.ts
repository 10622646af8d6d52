// The knowledge importer (tools/kb-import.ts) against the local stack, through supabase-js with
// the secret key as an admin runs it: a folder of Markdown, text and HTML becomes articles;
// re-importing updates changed ones, leaves the others, and removes those whose file is gone.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../local/stack.ts";
import { importKnowledge } from "../tools/kb-import.ts";
import { createProject } from "./helpers.ts";

let stack: Stack;
let folder: string;
beforeAll(async () => {
  stack = await startStack();
  folder = await mkdtemp(join(tmpdir(), "kb-import-"));
});
afterAll(async () => {
  await stack?.stop();
  if (folder) await rm(folder, { recursive: true, force: true });
});

const articlesOf = async (projectId: string) =>
  (await stack.pool.query("select source_path, title, url, content from public.knowledge_articles where project_id = $1 order by source_path nulls first", [projectId])).rows;

async function run(projectId: string, baseUrl?: string) {
  const lines: string[] = [];
  const supabase = createClient(stack.gatewayUrl, stack.keys.secretKey, { auth: { persistSession: false } });
  const summary = await importKnowledge({ supabase, folder, projectId, baseUrl, log: (line) => lines.push(line) });
  return { summary, lines };
}

describe("npm run kb:import", () => {
  it("adds Markdown, text and HTML files, updates changed ones, and removes those whose file is gone, never touching rows added by hand", async () => {
    const projectId = await createProject(stack.pool);
    const other = await createProject(stack.pool);
    await stack.pool.query("insert into public.knowledge_articles (project_id, title, content) values ($1, 'Typed in the Table Editor', 'Kept.')", [projectId]);
    await stack.pool.query("insert into public.knowledge_articles (project_id, title, content, source_path) values ($1, 'Other project', 'Kept.', 'faq/returns.md')", [other]);
    await mkdir(join(folder, "faq"), { recursive: true });
    await writeFile(join(folder, "faq", "returns.md"), "---\nurl: https://shop.example/returns\n---\n# Returns\n\nReturns are free for 30 days.\n");
    await writeFile(join(folder, "shipping.txt"), "Shipping\n\nWe ship within two days.\n");
    await writeFile(join(folder, "warranty.html"), "<html><head><title>Warranty &amp; repairs</title><script>x()</script></head><body><h1>Warranty</h1><p>Two years, <b>parts</b> included.</p></body></html>");
    await writeFile(join(folder, "notes.pdf"), "not imported");

    const first = await run(projectId, "https://shop.example/help/");
    expect(first.summary).toEqual({ added: 3, updated: 0, unchanged: 0, removed: 0, failed: 0 });
    expect(first.lines.at(-1)).toBe("3 files: 3 added, 0 updated, 0 unchanged, 0 removed");
    expect(first.lines.filter((line) => line.includes("added"))).toHaveLength(4); // a line per file, and the summary
    expect(await articlesOf(projectId)).toEqual([
      { source_path: null, title: "Typed in the Table Editor", url: null, content: "Kept." },
      { source_path: "faq/returns.md", title: "Returns", url: "https://shop.example/returns", content: "# Returns\n\nReturns are free for 30 days." },
      { source_path: "shipping.txt", title: "Shipping", url: "https://shop.example/help/shipping", content: "Shipping\n\nWe ship within two days." },
      { source_path: "warranty.html", title: "Warranty & repairs", url: "https://shop.example/help/warranty.html", content: "# Warranty\n\nTwo years, parts included." },
    ]);
    const { rows: [{ count }] } = await stack.pool.query("select count(*)::int from private.knowledge_passages p join public.knowledge_articles a on a.id = p.article_id where a.project_id = $1", [projectId]);
    expect(count).toBe(4);

    await writeFile(join(folder, "shipping.txt"), "Shipping\n\nWe ship within one day.\n");
    await rm(join(folder, "warranty.html"));
    const second = await run(projectId, "https://shop.example/help/");
    expect(second.summary).toEqual({ added: 0, updated: 1, unchanged: 1, removed: 1, failed: 0 });
    expect(second.lines).toContain("  removed    warranty.html");
    expect((await articlesOf(projectId)).map((a) => [a.source_path, a.content])).toEqual([
      [null, "Kept."],
      ["faq/returns.md", "# Returns\n\nReturns are free for 30 days."],
      ["shipping.txt", "Shipping\n\nWe ship within one day."],
    ]);
    expect((await articlesOf(other)).map((a) => a.title)).toEqual(["Other project"]);
  });

  it("is refused with the publishable key: only the secret key may write articles", async () => {
    const projectId = await createProject(stack.pool);
    const supabase = createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false } });
    const { error } = await supabase.from("knowledge_articles").insert({ project_id: projectId, title: "x", content: "y" });
    expect(error?.message).toBe("permission denied for table knowledge_articles");
    await expect(importKnowledge({ supabase, folder, projectId, log: () => {} })).rejects.toThrow("permission denied for table knowledge_articles");
  });
});
