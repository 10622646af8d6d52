import type { ReplyStore } from "./reply-store.ts";

/** The visitor messages this instance is answering right now. */
export type InFlight = {
  ids(): string[];
  /** Counts a message as in flight until its work settles. */
  track<T>(messageId: string, work: Promise<T>): Promise<T>;
};

export function createInFlight(): InFlight {
  const ids = new Set<string>();
  return {
    ids: () => [...ids],
    track(messageId, work) {
      ids.add(messageId);
      return work.finally(() => ids.delete(messageId));
    },
  };
}

type RetirementEvent = Event & { detail?: { reason?: string } };

/**
 * The Edge Runtime retires a worker (wall clock, CPU or memory limit, or shutdown) with a
 * `beforeunload` event, and its background work dies with it. Its claims would then hold
 * those messages until they lapse; giving them back lets the retry sweeper send them to a
 * fresh instance on its next pass.
 */
export function releaseClaimsOnRetirement(
  inFlight: InFlight,
  store: Pick<ReplyStore, "releaseClaims">,
  keepAlive: (work: Promise<unknown>) => void,
  log: (line: Record<string, unknown>) => void,
  runtime: EventTarget = globalThis,
): void {
  runtime.addEventListener("beforeunload", (event: RetirementEvent) => {
    const ids = inFlight.ids();
    const reason = event.detail?.reason ?? "unknown";
    if (ids.length === 0) return log({ event: "retiring", reason, released: 0 });
    keepAlive(
      store.releaseClaims(ids).then(
        (released) => log({ event: "retiring", reason, released }),
        (error: unknown) =>
          log({
            event: "retiring",
            reason,
            released: 0,
            error: error instanceof Error ? error.message : "unknown error",
          }),
      ),
    );
  });
}
