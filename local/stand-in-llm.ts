// Stands in for Groq's OpenAI-compatible API (POST /openai/v1/chat/completions): the same
// request checks (API key, Groq's 400 for unsupported properties, decommissioned models),
// the same response shape (usage with Groq's timing fields, x_groq, rate-limit headers,
// SSE streams ending in [DONE], paced word by word when a pace is set, finish_reason "length" at
// max_completion_tokens), and error injection for tests: 429 with retry-after, 500, Groq's
// 401/403/404/413 error bodies, slow answers or failures, and streams that fail midway with
// Groq's `event: error` frame. Replies are canned text, clearly marked as not from Groq.
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { mayCallTools, toolCallOf, type ToolBehaviour, toolsProblem, toolUseFailed } from "./stand-in-llm/tools.ts";

type ChatMessage = { role: string; content: string; name?: string };
export type { ToolBehaviour };
export type RecordedRequest = { at: number; body: { model: string; messages: ChatMessage[]; [key: string]: unknown } };

/** What the stand-in does with one request. */
export type Behaviour =
  | { status: 429; retryAfterSeconds: number }
  | { status: 400 | 401 | 403 | 404 | 413 | 500 | 503; delayMs?: number }
  | { delayMs: number; content?: string }
  | { content: string }
  /** A stream that breaks after this many words: Groq's `event: error` frame, then the end. */
  | { content?: string; streamErrorAfterWords: number }
  /** Calls a tool (when the request offers tools), or fails to as Groq does (400 tool_use_failed). */
  | ToolBehaviour;

/** Groq's error bodies for the statuses a test can inject (observed from api.groq.com). */
function groqError(status: number, model: string): { message: string; type: string; code?: string } {
  switch (status) {
    case 400:
      return { message: `The model \`${model}\` has been decommissioned and is no longer supported.`, type: "invalid_request_error", code: "model_decommissioned" };
    case 401:
      return { message: "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key" };
    case 403:
      return { message: "Forbidden", type: "permission_error" };
    case 404:
      return { message: `The model \`${model}\` does not exist or you do not have access to it.`, type: "invalid_request_error", code: "model_not_found" };
    case 413:
      return {
        message: `Request too large for model \`${model}\` on tokens per minute (TPM): Limit 8000, Requested 12000, please reduce your message size and try again.`,
        type: "tokens",
        code: "rate_limit_exceeded",
      };
    default:
      return { message: "Internal Server Error", type: "internal_server_error" };
  }
}

/** How fast answers come: Groq-like pacing is about 200 ms to the first token, then ~300 tokens/s. */
export type Pace = { firstTokenMs: number; tokensPerSecond: number };

export type StandInLlm = {
  /** The baseURL to give the OpenAI SDK (like https://api.groq.com/openai/v1). */
  baseURL: string;
  apiKey: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Requests whose messages contain `text` anywhere. */
  requestsMentioning(text: string): RecordedRequest[];
  /**
   * Scripts the next requests whose messages contain `text`: one behaviour per request, in
   * order; with `always`, the last behaviour repeats until cleared. Tests stay independent
   * by matching a marker of their own.
   */
  script(text: string, behaviours: Behaviour[], options?: { always?: boolean }): void;
  clearScript(text: string): void;
  /** Every request not scripted gets this behaviour (an outage), until set back to null. */
  setOutage(behaviour: Behaviour | null): void;
  setPace(pace: Pace | null): void;
  stop(): Promise<void>;
};

const UNSUPPORTED = ["store", "logprobs", "logit_bias", "top_logprobs", "messages[].name"] as const;
const DECOMMISSIONED = new Set(["llama-3.3-70b-versatile", "llama-3.1-8b-instant"]);

export async function startStandInLlm(options: { port?: number; apiKey?: string; pace?: Pace } = {}): Promise<StandInLlm> {
  const apiKey = options.apiKey ?? `stand-in-${randomUUID()}`;
  const requests: RecordedRequest[] = [];
  const scripts = new Map<string, { behaviours: Behaviour[]; always: boolean }>();
  let pace: Pace | null = options.pace ?? null;
  let outage: Behaviour | null = null;

  function behaviourFor(body: RecordedRequest["body"]): Behaviour | undefined {
    const text = body.messages.map((m) => m.content).join("\n");
    for (const [marker, script] of scripts) {
      if (!text.includes(marker)) continue;
      const next = script.always && script.behaviours.length === 1 ? script.behaviours[0] : script.behaviours.shift();
      if (!script.always && script.behaviours.length === 0) scripts.delete(marker);
      return next;
    }
    return outage ?? undefined;
  }

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(body));
    };
    const fail = (status: number, message: string, type: string, code?: string) =>
      send(status, { error: { message, type, ...(code ? { code } : {}) } });

    if (request.method !== "POST" || !request.url?.endsWith("/chat/completions")) {
      return fail(404, "Unknown request URL. Please check the URL for typos.", "invalid_request_error", "unknown_url");
    }
    if (request.headers.authorization !== `Bearer ${apiKey}`) {
      return fail(401, "Invalid API Key", "invalid_request_error", "invalid_api_key");
    }
    let body: RecordedRequest["body"];
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (typeof body.model !== "string" || !Array.isArray(body.messages)) throw new Error();
    } catch {
      return fail(400, "'messages' : property 'messages' is missing", "invalid_request_error");
    }
    requests.push({ at: Date.now(), body });

    const unsupported = UNSUPPORTED.find((property) =>
      property === "messages[].name" ? body.messages.some((m) => "name" in m) : property in body
    ) ?? (body.n !== undefined && body.n !== 1 ? "n" : undefined);
    if (unsupported) {
      return fail(400, `property '${unsupported}' is unsupported`, "invalid_request_error");
    }
    if (DECOMMISSIONED.has(body.model)) {
      return fail(400, `The model \`${body.model}\` has been decommissioned and is no longer supported.`, "invalid_request_error", "model_decommissioned");
    }

    const toolProblem = toolsProblem(body);
    if (toolProblem) return fail(400, toolProblem, "invalid_request_error");

    const behaviour = behaviourFor(body);
    if (behaviour && "toolUseFailed" in behaviour) return send(400, toolUseFailed(behaviour.toolUseFailed));
    const toolCall = behaviour && "toolCall" in behaviour && mayCallTools(body)
      ? toolCallOf(behaviour.toolCall, `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`)
      : undefined;
    if (behaviour && "status" in behaviour) {
      if (behaviour.status === 429) {
        response.writeHead(429, { "content-type": "application/json", "retry-after": String(behaviour.retryAfterSeconds) });
        return response.end(JSON.stringify({
          error: {
            message: `Rate limit reached for model \`${body.model}\` on tokens per minute (TPM). Please try again in ${behaviour.retryAfterSeconds}s.`,
            type: "tokens",
            code: "rate_limit_exceeded",
          },
        }));
      }
      if ("delayMs" in behaviour && behaviour.delayMs) await new Promise((resolve) => setTimeout(resolve, behaviour.delayMs));
      const error = groqError(behaviour.status, body.model);
      return fail(behaviour.status, error.message, error.type, error.code);
    }

    const lastUser = [...body.messages].reverse().find((m) => m.role === "user")?.content ?? "";
    let content = (behaviour && "content" in behaviour && behaviour.content) ||
      `[stand-in LLM, not Groq] Thanks for your message: "${lastUser.slice(0, 120)}"`;
    const promptTokens = Math.ceil(body.messages.reduce((sum, m) => sum + m.content.length, 0) / 4);
    // Groq stops at max_completion_tokens with finish_reason "length" (about 4 characters a token here).
    const maxTokens = typeof body.max_completion_tokens === "number" ? body.max_completion_tokens : Infinity;
    const finishReason = toolCall ? "tool_calls" : Math.ceil(content.length / 4) > maxTokens ? "length" : "stop";
    if (toolCall) content = "";
    if (finishReason === "length") content = content.slice(0, maxTokens * 4);
    const completionTokens = Math.ceil((toolCall ? toolCall.function.arguments.length + 20 : content.length) / 4);
    const extraDelayMs = behaviour && "delayMs" in behaviour ? behaviour.delayMs : 0;
    const closed = new Promise<"closed">((resolve) => response.once("close", () => resolve("closed")));
    /** Waits, unless the caller hangs up first (then answers false). */
    const wait = async (ms: number) =>
      ms <= 0 || (await Promise.race([new Promise((r) => setTimeout(r, ms)).then(() => "waited" as const), closed])) === "waited";
    // A stream's words come as they are "generated"; a whole answer comes when all are.
    const streamed = body.stream === true;
    const delayMs = extraDelayMs + (pace ? pace.firstTokenMs + (streamed ? 0 : (completionTokens / pace.tokensPerSecond) * 1000) : 0);
    if (!(await wait(delayMs))) return;

    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const seconds = (delayMs + (pace ? (completionTokens / pace.tokensPerSecond) * 1000 : 0)) / 1000;
    const usage = {
      queue_time: 0.01, prompt_tokens: promptTokens, prompt_time: 0.001,
      completion_tokens: completionTokens, completion_time: seconds, total_tokens: promptTokens + completionTokens,
      total_time: seconds + 0.001,
    };
    const rateLimitHeaders = {
      "x-ratelimit-limit-requests": "14400", "x-ratelimit-remaining-requests": "14399",
      "x-ratelimit-limit-tokens": "6000", "x-ratelimit-remaining-tokens": String(6000 - usage.total_tokens),
      "x-ratelimit-reset-requests": "6s", "x-ratelimit-reset-tokens": "1s",
    };

    if (body.stream === true) {
      response.writeHead(200, { "content-type": "text/event-stream", ...rateLimitHeaders });
      const chunk = (delta: object, finish: string | null, extra: object = {}) =>
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra })}\n\n`;
      response.write(chunk({ role: "assistant", content: "" }, null, { x_groq: { id: `req_${randomUUID()}` } }));
      const failAfter = behaviour && "streamErrorAfterWords" in behaviour ? behaviour.streamErrorAfterWords : Infinity;
      // A tool call comes whole in one delta, with no text (as Groq streams them).
      if (toolCall) response.write(chunk({ tool_calls: [{ index: 0, ...toolCall }] }, null));
      const words = content.match(/\S+\s*/g) ?? [];
      // Against one schedule from the first token, so timer lateness never accumulates.
      const firstTokenAt = Date.now();
      let tokensSoFar = 0;
      for (const [i, word] of words.entries()) {
        if (i === failAfter) {
          // What Groq sends when generation fails after the stream began (status 200 already sent).
          response.write(`event: error\ndata: ${JSON.stringify({ error: { message: "Internal Server Error", type: "internal_server_error" } })}\n\n`);
          return response.end();
        }
        if (pace && i > 0 && !(await wait(firstTokenAt + (tokensSoFar / pace.tokensPerSecond) * 1000 - Date.now()))) return;
        tokensSoFar += Math.ceil(word.length / 4);
        response.write(chunk({ content: word }, null));
      }
      response.write(chunk({}, finishReason, { x_groq: { id: `req_${randomUUID()}`, usage }, usage }));
      const streamOptions = body.stream_options as { include_usage?: boolean } | undefined;
      if (streamOptions?.include_usage) {
        response.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage })}\n\n`);
      }
      return response.end("data: [DONE]\n\n");
    }

    send(200, {
      id, object: "chat.completion", created, model: body.model,
      choices: [{ index: 0, message: toolCall ? { role: "assistant", tool_calls: [toolCall] } : { role: "assistant", content }, logprobs: null, finish_reason: finishReason }],
      usage, usage_breakdown: null, system_fingerprint: "fp_stand_in", x_groq: { id: `req_${randomUUID()}` },
    }, rateLimitHeaders);
  });

  server.listen(options.port ?? 0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  return {
    baseURL: `http://127.0.0.1:${port}/openai/v1`,
    apiKey,
    requests,
    requestsMentioning: (text) => requests.filter((r) => r.body.messages.some((m) => m.content.includes(text))),
    script: (text, behaviours, { always = false } = {}) => scripts.set(text, { behaviours: [...behaviours], always }),
    clearScript: (text) => void scripts.delete(text),
    setPace: (next) => void (pace = next),
    setOutage: (behaviour) => void (outage = behaviour),
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, "close").catch(() => {});
    },
  };
}
