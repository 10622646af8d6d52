import type { ReplyStore } from "./reply-store.ts";

/** The visitor messages this instance is answering right now, and the claims it holds. */
export type InFlight = {
  ids(): string[];
  /** The claim tokens of the in-flight messages claimed so far. */
  claimTokens(): string[];
  /** Counts a message as in flight until its work settles. */
  track<T>(messageId: string, work: Promise<T>): Promise<T>;
  /** Records the claim ai_reply_context gave this run for an in-flight message. */
  claimed(messageId: string, claimToken: string): void;
};

export function createInFlight(): InFlight {
  const claims = new Map<string, string | null>();
  return {
    ids: () => [...claims.keys()],
    claimTokens: () => [...claims.values()].filter((token): token is string => token !== null),
    track(messageId, work) {
      claims.set(messageId, null);
      return work.finally(() => claims.delete(messageId));
    },
    claimed(messageId, claimToken) {
      if (claims.has(messageId)) claims.set(messageId, claimToken);
    },
  };
}

type RetirementEvent = Event & { detail?: { reason?: string } };

/**
 * The Edge Runtime retires a worker (wall clock, CPU or memory limit, or shutdown) with a
 * `beforeunload` event, and its background work dies with it. Its claims would then hold
 * those messages until they lapse; giving them back lets the retry sweeper send them to a
 * fresh instance on its next pass. Only this instance's own claims are released (by token).
 */
export function releaseClaimsOnRetirement(
  inFlight: InFlight,
  store: Pick<ReplyStore, "releaseClaims">,
  keepAlive: (work: Promise<unknown>) => void,
  log: (line: Record<string, unknown>) => void,
  runtime: EventTarget = globalThis,
): void {
  runtime.addEventListener("beforeunload", (event: RetirementEvent) => {
    const tokens = inFlight.claimTokens();
    const reason = event.detail?.reason ?? "unknown";
    if (tokens.length === 0) return log({ event: "retiring", reason, released: 0 });
    keepAlive(
      store.releaseClaims(tokens).then(
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
