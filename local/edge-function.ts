// Stands in for Supabase's Edge Runtime: serves one function's real index.ts on real Deno of
// the version the hosted runtime embeds (2.1.4: supabase/edge-runtime deno/Cargo.toml; the
// deno-edge-runtime package), from
// the function's folder so that its own deno.json and deno.lock resolve the npm: imports, with
// only the environment the platform would inject, inside local/edge-runtime.deno.ts (the
// runtime's globals and its retirement event).
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { trackChild } from "./processes.ts";

const root = join(import.meta.dirname, "..");

export type EdgeFunction = {
  name: string;
  /** Where the function listens (the port is the one it got at its first start). */
  readonly url: string;
  /** Every line the function printed (its structured logs), in order. */
  logs: string[];
  /** The running Deno process's id, if it runs. */
  pid(): number | undefined;
  /** Retires the instance as the runtime does (beforeunload, then exit): SIGTERM. */
  stop(): Promise<void>;
  /** Kills the process at once, as a crashed instance would be: no beforeunload. */
  kill(): Promise<void>;
  start(): Promise<void>;
};

export type EdgeFunctionOptions = {
  name: string;
  /** 0 or absent: a free port, chosen by the system at the first start and kept. */
  port?: number;
  env: Record<string, string>;
  onLog?: (line: string) => void;
  /** How long a start may take (the first start may download npm packages). */
  startTimeoutMs?: number;
};

/**
 * The Deno that runs the function: the hosted Edge Runtime's own version (the optional
 * dependency deno-edge-runtime, Linux x64 only) where it is installed, else the tools' Deno
 * (the deno package), announced once, since behaviour can differ between the two.
 */
export function denoPath(): string {
  const require = createRequire(import.meta.url);
  try {
    return join(require.resolve("deno-edge-runtime/package.json"), "..", "deno");
  } catch {
    if (!warnedAboutDeno) {
      warnedAboutDeno = true;
      console.warn("! deno-edge-runtime (Deno 2.1.4, as on Supabase) is not installed here: the function runs on the deno package's newer Deno.");
    }
    return join(require.resolve("deno/package.json"), "..", "deno");
  }
}
let warnedAboutDeno = false;

/**
 * Deno 2.1 trusts only its bundled Mozilla roots by default; machines that reach the npm
 * registry through an inspecting proxy need the system's store too (npm uses it already).
 */
export const DENO_TLS_ENV = { DENO_TLS_CA_STORE: "system,mozilla" };

export async function serveEdgeFunction(options: EdgeFunctionOptions): Promise<EdgeFunction> {
  const logs: string[] = [];
  let child: ChildProcess | undefined;
  let port = options.port ?? 0;

  async function start(): Promise<void> {
    const process_ = spawn(
      denoPath(),
      [
        "run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", "--no-prompt", "--node-modules-dir=none",
        "--config", "deno.json", join(root, "local", "edge-runtime.deno.ts"), "./index.ts", String(port),
      ],
      {
        cwd: join(root, "supabase", "functions", options.name),
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          ...(process.env.DENO_DIR ? { DENO_DIR: process.env.DENO_DIR } : {}),
          NO_COLOR: "1",
          ...DENO_TLS_ENV,
          ...options.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child = process_;
    trackChild(process_);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not start within ${options.startTimeoutMs ?? 120_000} ms:\n${logs.join("\n")}`)),
        options.startTimeoutMs ?? 120_000,
      );
      const onLine = (line: string) => {
        logs.push(line);
        options.onLog?.(line);
        const listening = /^Listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
        if (listening) {
          port = Number(listening[1]);
          clearTimeout(timer);
          resolve();
        }
      };
      for (const stream of [process_.stdout!, process_.stderr!]) {
        let buffered = "";
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => {
          buffered += chunk;
          const lines = buffered.split("\n");
          buffered = lines.pop() ?? "";
          lines.forEach(onLine);
        });
      }
      process_.once("error", (error) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} could not be started: ${error.message}`));
      });
      process_.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited with code ${code} before serving:\n${logs.join("\n")}`));
      });
    });
    await ready;
  }

  async function stopWith(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill(signal);
    await exited;
  }

  await start();
  return {
    name: options.name,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    logs,
    pid: () => child?.pid,
    start,
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
  };
}
