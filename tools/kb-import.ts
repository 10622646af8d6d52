// Imports a folder of help content into a project's knowledge base (public.knowledge_articles)
// through supabase-js with the secret key, so it works against the local stack and a hosted
// project alike:
//   npm run kb:import -- <folder> --project <project id> [--base-url https://help.example.com/]
// SUPABASE_URL and SUPABASE_SECRET_KEY come from the environment; without them, the local
// stack's (npm start: http://127.0.0.1:54321 and .local/api-keys.json). Articles are keyed by
// their file's path: re-importing updates changed ones and removes those whose file is gone.
// Only rows the importer made (source_path set) are ever updated or removed.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { listKnowledgeFiles, readKnowledgeFile } from "./knowledge-files.ts";

export type ImportSummary = { added: number; updated: number; unchanged: number; removed: number; failed: number };

type Existing = { id: string; source_path: string | null; title: string; url: string | null; content: string };

export async function importKnowledge(options: {
  supabase: SupabaseClient;
  folder: string;
  projectId: string;
  baseUrl?: string;
  log?: (line: string) => void;
}): Promise<ImportSummary> {
  const { supabase, folder, projectId, baseUrl, log = console.log } = options;
  const summary: ImportSummary = { added: 0, updated: 0, unchanged: 0, removed: 0, failed: 0 };

  const { data: rows, error } = await supabase
    .from("knowledge_articles")
    .select("id, source_path, title, url, content")
    .eq("project_id", projectId);
  if (error) throw new Error(`could not read the project's articles: ${error.message}`);
  const existing = new Map((rows as Existing[]).filter((r) => r.source_path).map((r) => [r.source_path!, r]));

  const paths = await listKnowledgeFiles(folder);
  for (const path of paths) {
    try {
      const file = await readKnowledgeFile(folder, path, baseUrl);
      const row = { title: file.title, url: file.url, content: file.content };
      const before = existing.get(path);
      existing.delete(path);
      if (before && before.title === row.title && before.url === row.url && before.content === row.content) {
        summary.unchanged++;
        log(`  unchanged  ${path}`);
        continue;
      }
      const { error: writeError } = before
        ? await supabase.from("knowledge_articles").update(row).eq("id", before.id)
        : await supabase.from("knowledge_articles").insert({ project_id: projectId, source_path: path, ...row });
      if (writeError) throw new Error(writeError.message);
      summary[before ? "updated" : "added"]++;
      log(`  ${before ? "updated  " : "added    "}  ${path}  (${file.title})`);
    } catch (failure) {
      summary.failed++;
      log(`  FAILED     ${path}: ${failure instanceof Error ? failure.message : String(failure)}`);
    }
  }

  for (const [path, gone] of existing) {
    const { error: deleteError } = await supabase.from("knowledge_articles").delete().eq("id", gone.id);
    if (deleteError) {
      summary.failed++;
      log(`  FAILED     ${path}: ${deleteError.message}`);
    } else {
      summary.removed++;
      log(`  removed    ${path}`);
    }
  }
  log(`${paths.length} files: ${summary.added} added, ${summary.updated} updated, ${summary.unchanged} unchanged, ${summary.removed} removed${summary.failed ? `, ${summary.failed} FAILED` : ""}`);
  return summary;
}

async function localSecretKey(): Promise<string | undefined> {
  try {
    const keys = JSON.parse(await readFile(join(import.meta.dirname, "..", ".local", "api-keys.json"), "utf8"));
    return typeof keys.secretKey === "string" ? keys.secretKey : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { project: { type: "string" }, "base-url": { type: "string" } },
  });
  const folder = positionals[0];
  if (!folder || !values.project) {
    console.error("usage: npm run kb:import -- <folder> --project <project id> [--base-url https://help.example.com/]");
    return 2;
  }
  const url = process.env.SUPABASE_URL ?? "http://127.0.0.1:54321";
  const key = process.env.SUPABASE_SECRET_KEY ?? (process.env.SUPABASE_URL ? undefined : await localSecretKey());
  if (!key) {
    console.error("SUPABASE_SECRET_KEY is missing (Dashboard > Project Settings > API Keys > Secret keys)");
    return 2;
  }
  console.log(`Importing ${folder} into project ${values.project} at ${url}`);
  const supabase = createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false } });
  const summary = await importKnowledge({ supabase, folder, projectId: values.project, baseUrl: values["base-url"] });
  return summary.failed > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().then((code) => process.exit(code), (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
