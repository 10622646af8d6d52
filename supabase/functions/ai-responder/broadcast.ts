// The reply as it is written, published to the conversation's private Realtime topic through
// Realtime's REST batch endpoint (POST /realtime/v1/api/broadcast, service role). A preview:
// the reply row posted at the end is what counts, and these events never fail or delay it.
import type { Clock } from "./responder.ts";

/** Text updates go out at most this often (the first at once): ~12 a second reads as smooth. */
export const PREVIEW_INTERVAL_MS = 80;
/** A publish that takes longer is given up; later events are sent after it, in order. */
export const BROADCAST_TIMEOUT_MS = 2_000;

export type ReplyEvent =
  | { event: "typing"; payload: { message_id: string; seq: number; typing: boolean } }
  | { event: "preview"; payload: { message_id: string; seq: number; text: string } }
  | { event: "preview_end"; payload: { message_id: string; seq: number; reason: string } };

/** What one run publishes about the visitor message it answers. */
export type ReplyPreview = {
  typing(on: boolean): void;
  /** The reply's whole text so far (a lost event costs nothing: the next one has it all). */
  text(textSoFar: string): void;
  /** The final text, sent at once, so the last preview matches the row that follows. */
  finish(finalText: string): void;
  /** The run ends without its reply: the preview (if any) is withdrawn, typing stops. */
  withdraw(reason: string): void;
  /** How many events this run publishes. */
  events(): number;
};

export type Broadcaster = { forMessage(conversationId: string, messageId: string): ReplyPreview };

/** Sends events of one topic, in order; each call resolves when the batch is sent or given up. */
export type Publish = (topic: string, events: ReplyEvent[]) => Promise<void>;

/** Publishes nothing: for projects and tests that need no events. */
export const silentBroadcaster: Broadcaster = {
  forMessage: () => ({ typing() {}, text() {}, finish() {}, withdraw() {}, events: () => 0 }),
};

/**
 * Realtime's REST batch endpoint with the service key (which bypasses RLS on
 * realtime.messages); keepAlive holds the instance open while a publish is under way.
 */
export function restPublisher(
  supabaseUrl: string,
  serviceKey: string,
  keepAlive: (work: Promise<unknown>) => void,
  log: (line: Record<string, unknown>) => void,
  fetchImpl: typeof fetch = fetch,
): Publish {
  const url = `${supabaseUrl.replace(/\/$/, "")}/realtime/v1/api/broadcast`;
  return (topic, events) => {
    const sent = fetchImpl(url, {
      method: "POST",
      headers: {
        apikey: serviceKey,
        Authorization: `Bearer ${serviceKey}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({
        messages: events.map(({ event, payload }) => ({ topic, event, payload, private: true })),
      }),
      signal: AbortSignal.timeout(BROADCAST_TIMEOUT_MS),
    }).then(
      async (response) => {
        await response.body?.cancel();
        if (response.status !== 202) {
          log({ event: "broadcast_failed", status: response.status, events: events.length });
        }
      },
      (error: unknown) =>
        log({
          event: "broadcast_failed",
          error: error instanceof Error ? error.name : "unknown error",
          events: events.length,
        }),
    );
    keepAlive(sent);
    return sent;
  };
}

/**
 * One sender per visitor message: events queue in order and go out one batch at a time; text
 * waiting behind a publish in flight is replaced by newer text. seq starts at the run's start
 * time in ms and grows by one per event, so a retry's events outrank those of a run that died.
 */
export function createBroadcaster(publish: Publish, clock: Clock): Broadcaster {
  return {
    forMessage(conversationId, messageId) {
      const topic = `conversation:${conversationId}`;
      let seq = clock.now();
      let count = 0;
      const queue: ReplyEvent[] = [];
      let sending = false;
      let typingOn = false;
      let previewShown = false;
      let lastTextAt = -Infinity;
      let heldText: string | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;

      const drain = async () => {
        sending = true;
        while (queue.length > 0) await publish(topic, queue.splice(0));
        sending = false;
      };
      const enqueue = (event: ReplyEvent) => {
        // Whole text each time: text still waiting can give way to newer text.
        if (event.event === "preview" && queue.at(-1)?.event === "preview") queue.pop();
        else count++;
        queue.push(event);
        if (!sending) void drain();
      };
      const sendText = (text: string) => {
        clearTimeout(timer);
        timer = undefined;
        heldText = undefined;
        lastTextAt = clock.now();
        previewShown = true;
        enqueue({ event: "preview", payload: { message_id: messageId, seq: ++seq, text } });
      };

      const typing = (on: boolean) => {
        typingOn = on;
        enqueue({ event: "typing", payload: { message_id: messageId, seq: ++seq, typing: on } });
      };

      return {
        typing,
        text(textSoFar) {
          const text = textSoFar.trimStart();
          if (!text) return;
          const wait = lastTextAt + PREVIEW_INTERVAL_MS - clock.now();
          if (wait <= 0) return sendText(text);
          heldText = text;
          timer ??= setTimeout(() => heldText !== undefined && sendText(heldText), wait);
        },
        finish(finalText) {
          if (previewShown || heldText !== undefined) sendText(finalText);
        },
        withdraw(reason) {
          clearTimeout(timer);
          heldText = undefined;
          if (previewShown) {
            previewShown = false;
            enqueue({
              event: "preview_end",
              payload: { message_id: messageId, seq: ++seq, reason },
            });
          }
          if (typingOn) typing(false);
        },
        events: () => count,
      };
    },
  };
}
