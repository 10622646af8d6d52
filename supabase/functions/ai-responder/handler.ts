import { BodyError, decodeUtf8, json, jsonDepth, readBody } from "./http.ts";
import type { InFlight } from "./in-flight.ts";
import { parseWebhook } from "./payload.ts";
import { answerVisitorMessage, type Outcome, type ResponderDeps } from "./responder.ts";
import { signatureMatches, signedHeaders } from "./signature.ts";

/** A visitor message is at most 4,000 characters: 64 KiB is ample for its webhook. */
export const MAX_BODY_BYTES = 64 * 1024;
/** A webhook nests 3 levels; a record's values are flat. */
export const MAX_JSON_DEPTH = 16;

export type LogLine = Record<string, unknown>;

export type HandlerDeps = ResponderDeps & {
  webhookSecret: string;
  /** Keeps work going after the response (EdgeRuntime.waitUntil on Supabase). */
  runInBackground(work: Promise<unknown>): void;
  /** The messages being answered, given back if the instance retires mid-answer. */
  inFlight: InFlight;
  log(line: LogLine): void;
};

/**
 * The webhook endpoint: method, signature, body, payload, in that order; then 202 at once,
 * since pg_net gives up after its timeout, and the answer is worked out in the background.
 * The signature covers the body, so the body is read (bounded) before it is checked, and
 * parsed only after.
 */
export function createHandler(deps: HandlerDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const started = deps.clock.now();
    const reject = (status: number, error: string, headers?: HeadersInit) => {
      deps.log({ event: "rejected", status, error, ms: deps.clock.now() - started });
      return json(status, { error }, headers);
    };

    if (request.method !== "POST") {
      return reject(405, "method not allowed: send the webhook with POST", { Allow: "POST" });
    }
    const headers = signedHeaders(request.headers, deps.clock.now());
    if (!headers.ok) return reject(401, `unauthorized: ${headers.problem}`);

    let body: unknown;
    try {
      const bytes = await readBody(request, MAX_BODY_BYTES);
      if (!signatureMatches(headers.signed, bytes, deps.webhookSecret)) {
        return reject(
          401,
          "unauthorized: webhook-signature does not match (signed with AI_RESPONDER_WEBHOOK_SECRET over webhook-id.webhook-timestamp.body)",
        );
      }
      const text = decodeUtf8(bytes);
      if (jsonDepth(text) > MAX_JSON_DEPTH) {
        throw new BodyError(`body nests more than ${MAX_JSON_DEPTH} levels deep`);
      }
      body = JSON.parse(text);
    } catch (error) {
      if (error instanceof BodyError && error.status === 413) {
        return reject(413, `payload too large: ${error.message}`);
      }
      const problem = error instanceof BodyError ? error.message : "body is not valid JSON";
      return reject(400, `bad request: ${problem}`);
    }

    const webhook = parseWebhook(body);
    if (webhook.kind === "invalid") return reject(400, `bad request: ${webhook.problem}`);
    if (webhook.kind === "skipped") {
      deps.log({ event: "skipped", status: 200, reason: webhook.reason });
      return json(200, { skipped: webhook.reason });
    }

    const { message } = webhook;
    const replyDelayMs = Number(request.headers.get("x-reply-delay-ms")) || 0;
    deps.runInBackground(
      deps.inFlight.track(
        message.id,
        answerVisitorMessage(
          deps,
          message,
          replyDelayMs,
          (claimToken) => deps.inFlight.claimed(message.id, claimToken),
        ),
      ).then(
        (result: Outcome) =>
          deps.log({
            event: "handled",
            message_id: message.id,
            ...result,
            total_ms: deps.clock.now() - started,
          }),
        (error: unknown) =>
          deps.log({
            event: "handled",
            message_id: message.id,
            outcome: "error",
            error: error instanceof Error ? error.message : "unknown error",
            total_ms: deps.clock.now() - started,
          }),
      ),
    );
    return json(202, { accepted: message.id });
  };
}
