// Builds widget/dist/chat-widget.js: one minified IIFE with supabase-js inside, for one
// <script async> tag on any website. `npm run build:widget`; npm start and the browser tests
// call buildWidgetIfStale() so that the bundle always matches widget/src.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { readFile } from "node:fs/promises";
import { build } from "esbuild";

const widget = import.meta.dirname;
export const widgetBundlePath = join(widget, "dist", "chat-widget.js");

export type BundleSize = { bytes: number; gzipBytes: number };

export async function buildWidget(): Promise<BundleSize> {
  await build({
    entryPoints: [join(widget, "src", "index.ts")],
    outfile: widgetBundlePath,
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    legalComments: "none",
    logLevel: "warning",
  });
  return bundleSize();
}

export async function bundleSize(): Promise<BundleSize> {
  const code = await readFile(widgetBundlePath);
  return { bytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length };
}

/** Missing, or older than a source file (or than this script, or supabase-js). */
export function widgetIsStale(): boolean {
  const built = mtimeOf(widgetBundlePath);
  if (built === undefined) return true;
  const sources = [
    ...readdirSync(join(widget, "src")).map((name) => join(widget, "src", name)),
    fileURLToPath(import.meta.url),
    join(widget, "..", "node_modules", "@supabase", "supabase-js", "package.json"),
  ];
  return sources.some((source) => (mtimeOf(source) ?? Infinity) > built);
}

export async function buildWidgetIfStale(): Promise<BundleSize> {
  return widgetIsStale() ? buildWidget() : bundleSize();
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

export const describeSize = ({ bytes, gzipBytes }: BundleSize) =>
  `${(bytes / 1024).toFixed(1)} KiB minified, ${(gzipBytes / 1024).toFixed(1)} KiB gzipped`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const size = await buildWidget();
  console.log(`widget/dist/chat-widget.js: ${describeSize(size)}`);
}
