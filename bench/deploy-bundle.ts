// What `supabase functions deploy` would upload for a function, estimated without Docker or the
// network: the function's own files plus, as edge-runtime's eszip does for npm: specifiers,
// every npm package of its lockfile whole (crates/deno_facade/eszip/vfs.rs adds each package
// folder recursively), brotli-compressed as the CLI compresses the eszip before uploading it.
import { execFileSync } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";
import { DENO_TLS_ENV, denoPath } from "../local/edge-function.ts";

export type DeployBundle = { packages: string[]; files: number; raw_mb: number; brotli_mb: number };

export async function measureDeployBundle(functionDir: string): Promise<DeployBundle> {
  const lock = JSON.parse(await readFile(join(functionDir, "deno.lock"), "utf8")) as { npm?: Record<string, unknown> };
  const info = JSON.parse(execFileSync(denoPath(), ["info", "--json"], { env: { ...process.env, ...DENO_TLS_ENV } }).toString()) as { npmCache: string };
  const packages = Object.keys(lock.npm ?? {}).map((key) => {
    const at = key.indexOf("@", 1);
    return { name: key.slice(0, at), version: key.slice(at + 1).split("_")[0]! };
  });
  const files: Buffer[] = [];
  for (const file of await readdir(functionDir)) {
    if (/\.(ts|json|lock)$/.test(file)) files.push(await readFile(join(functionDir, file)));
  }
  for (const { name, version } of packages) {
    const folder = join(info.npmCache, "registry.npmjs.org", name, version);
    if (!(await stat(folder).then(() => true, () => false))) throw new Error(`${name}@${version} is not in Deno's cache: run deno install first`);
    for (const file of await allFiles(folder)) files.push(await readFile(file));
  }
  const raw = Buffer.concat(files);
  const compressed = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 6 } });
  const mb = (bytes: number) => Math.round((bytes / 1_000_000) * 100) / 100;
  return {
    packages: packages.map(({ name, version }) => `${name}@${version}`),
    files: files.length,
    raw_mb: mb(raw.length),
    brotli_mb: mb(compressed.length),
  };
}

async function allFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}
