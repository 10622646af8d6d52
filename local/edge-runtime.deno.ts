// Stands in for what the Supabase Edge Runtime sets up around a function (supabase/edge-runtime
// ext/runtime/js/bootstrap.js, runtime/mod.rs): EdgeRuntime.waitUntil; a cancelable
// `beforeunload` CustomEvent with detail.reason ("termination" here, on SIGTERM; "wall_clock",
// "cpu", "memory" or "early_drop" there) before the worker is torn down, with its background
// work; and Deno.serve bound where the runtime decides, whatever the function asks.
// Run by local/edge-function.ts: deno run ... edge-runtime.deno.ts <entrypoint> <port>
const [entrypoint, portArgument] = Deno.args;
if (!entrypoint) throw new Error("usage: edge-runtime.deno.ts <entrypoint> <port>");

/** How long the runtime lets beforeunload handlers' own background work run before exiting. */
const RETIREMENT_GRACE_MS = 2_000;

const background = new Set<Promise<unknown>>();
Object.defineProperty(globalThis, "EdgeRuntime", {
  value: {
    waitUntil<T>(work: Promise<T>): Promise<T> {
      background.add(work);
      work.then(() => background.delete(work), () => background.delete(work));
      return work;
    },
  },
});

type Handler = Deno.ServeHandler;
const serve = Deno.serve;
// deno-lint-ignore no-explicit-any -- Deno.serve's overloads: (handler), (options, handler), (options with handler)
(Deno as any).serve = (first: Handler | Deno.ServeOptions, second?: Handler) => {
  const handler = typeof first === "function" ? first : second ?? (first as { handler?: Handler }).handler;
  if (!handler) throw new TypeError("Deno.serve needs a handler");
  return serve({
    hostname: "127.0.0.1",
    port: Number(portArgument ?? 0),
    onListen: ({ port }) => console.log(`Listening on http://127.0.0.1:${port}/`),
  }, handler);
};

let retiring = false;
Deno.addSignalListener("SIGTERM", async () => {
  if (retiring) return;
  retiring = true;
  const before = new Set(background);
  globalThis.dispatchEvent(new CustomEvent("beforeunload", { cancelable: true, detail: { reason: "termination" } }));
  const started = [...background].filter((work) => !before.has(work));
  await Promise.race([
    Promise.allSettled(started),
    new Promise((resolve) => setTimeout(resolve, RETIREMENT_GRACE_MS)),
  ]);
  Deno.exit(0);
});

const module = await import(new URL(entrypoint, `file://${Deno.cwd()}/`).href);
// A function that wires itself only as the main module exports main(); others served on import.
if (typeof module.main === "function") module.main();
