// Reading a folder of help content for the knowledge base: Markdown, text and HTML files, each
// one article with a title (front matter `title:`, the first heading or <title>/<h1>, else the
// file name), a URL (front matter `url:`, else the base URL and the file's relative path) and
// its text (HTML turned into text, headings kept as `#` lines so passages split at them).
import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";

export type KnowledgeFile = { sourcePath: string; title: string; url: string | null; content: string };

export const KNOWLEDGE_EXTENSIONS = new Set([".md", ".markdown", ".txt", ".html", ".htm"]);

/** Every knowledge file under folder (hidden entries skipped), sorted by relative path. */
export async function listKnowledgeFiles(folder: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && KNOWLEDGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) found.push(path);
    }
  }
  await walk(folder);
  return found.map((path) => relative(folder, path).split(sep).join("/")).sort();
}

export async function readKnowledgeFile(folder: string, sourcePath: string, baseUrl?: string): Promise<KnowledgeFile> {
  const raw = (await readFile(join(folder, sourcePath), "utf8")).replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
  const extension = extname(sourcePath).toLowerCase();
  const parsed = extension === ".html" || extension === ".htm" ? fromHtml(raw) : fromText(raw, extension === ".txt");
  const fileName = sourcePath.split("/").at(-1)!.replace(/\.[^.]+$/, "");
  return {
    sourcePath,
    title: (parsed.title || fileName).slice(0, 500),
    url: parsed.url ?? (baseUrl ? urlFor(baseUrl, sourcePath) : null),
    content: parsed.content.trim() || parsed.title || fileName,
  };
}

/** base URL + relative path; Markdown and text lose their extension (pages are usually served without). */
export function urlFor(baseUrl: string, sourcePath: string): string {
  const path = /\.(md|markdown|txt)$/i.test(sourcePath) ? sourcePath.replace(/\.[^.]+$/, "") : sourcePath;
  return new URL(path.split("/").map(encodeURIComponent).join("/"), baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`).href;
}

type Parsed = { title: string | null; url: string | null; content: string };

function fromText(raw: string, plain: boolean): Parsed {
  let body = raw;
  const meta: Record<string, string> = {};
  const frontMatter = /^---\n([\s\S]*?)\n---\n?/.exec(raw);
  if (frontMatter) {
    body = raw.slice(frontMatter[0].length);
    for (const line of frontMatter[1]!.split("\n")) {
      const field = /^([A-Za-z_]+):\s*(.*)$/.exec(line);
      if (field) meta[field[1]!.toLowerCase()] = field[2]!.trim().replace(/^["']|["']$/g, "");
    }
  }
  const heading = plain ? /^\s*(\S.*)$/m.exec(body) : /^#{1,6}\s+(.+?)\s*#*\s*$/m.exec(body);
  return { title: meta.title || heading?.[1]?.trim() || null, url: meta.url || null, content: body };
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1]?.toLowerCase() === "x" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

const textOf = (html: string) => decodeEntities(html.replace(/<[^>]*>/g, "")).replace(/\s+/g, " ").trim();

function fromHtml(raw: string): Parsed {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(raw)?.[1] ?? /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(raw)?.[1];
  const canonical = /<link[^>]+rel=["']canonical["'][^>]*href=["']([^"']+)["']/i.exec(raw)?.[1] ?? null;
  const body = (/<body[^>]*>([\s\S]*)<\/body>/i.exec(raw)?.[1] ?? raw)
    .replace(/<(script|style|nav|header|footer|noscript|template)[^>]*>[\s\S]*?<\/\1>/gi, "")
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<h([1-6])[^>]*>([\s\S]*?)<\/h\1>/gi, (_, level: string, text: string) => `\n\n${"#".repeat(Number(level))} ${textOf(text)}\n\n`)
    .replace(/<li[^>]*>/gi, "\n- ")
    .replace(/<(br|\/p|\/div|\/li|\/ul|\/ol|\/table|\/tr|\/section|\/article)\b[^>]*>/gi, "\n\n");
  const content = decodeEntities(body.replace(/<[^>]*>/g, ""))
    .split("\n").map((line) => line.replace(/[ \t\u00a0]+/g, " ").trim()).join("\n")
    .replace(/\n{3,}/g, "\n\n");
  return { title: title ? textOf(title) : null, url: canonical, content };
}
