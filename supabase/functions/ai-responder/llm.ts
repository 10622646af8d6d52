import OpenAI from "openai";
import type { ChatMessage } from "./prompt.ts";
import type { ResponderConfig } from "./config.ts";

export type Completion = {
  content: string;
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
  /** "length" when the reply stopped at maxCompletionTokens. */
  finishReason: string | null;
};

export type CompletionRequest = {
  model: string;
  messages: ChatMessage[];
  /** Longest reply asked for; reasoning tokens count against it too. */
  maxCompletionTokens: number;
  /** Streams the reply when given: called with the whole text so far as it grows. */
  onText?: (textSoFar: string) => void;
};

export type Llm = {
  complete(request: CompletionRequest): Promise<Completion>;
};

/**
 * Groq through the OpenAI SDK. The SDK's defaults (10-minute timeout, 2 retries) are replaced
 * by explicit ones, and a deadline aborts everything, retry waits included (SDK 7.57+).
 * The SDK retries 408, 409, 429 and 5xx, honouring retry-after (capped at 60 s by the SDK).
 */
export function createGroqLlm(config: ResponderConfig["groq"], fetchImpl?: typeof fetch): Llm {
  const client = new OpenAI({
    apiKey: config.apiKey,
    baseURL: config.baseURL,
    timeout: config.timeoutMs,
    maxRetries: config.maxRetries,
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  });
  return {
    async complete({ model, messages, maxCompletionTokens, onText }) {
      const body = {
        model,
        messages,
        max_completion_tokens: maxCompletionTokens,
        ...reasoningOptions(model),
      };
      if (onText) return streamCompletion(client, body, config, onText);
      const response = await client.chat.completions.create(
        body satisfies OpenAI.ChatCompletionCreateParamsNonStreaming & GroqReasoningOptions,
        { signal: AbortSignal.timeout(config.deadlineMs) },
      );
      const choice = response.choices[0];
      return {
        content: choice?.message.content?.trim() ?? "",
        model: response.model,
        promptTokens: response.usage?.prompt_tokens ?? null,
        completionTokens: response.usage?.completion_tokens ?? null,
        finishReason: choice?.finish_reason ?? null,
      };
    },
  };
}

type Usage = { prompt_tokens?: number; completion_tokens?: number };

/**
 * The same request as a stream. Groq puts usage on the chunk with finish_reason (and in
 * x_groq.usage), and with include_usage on a last chunk without choices: the last one seen wins.
 * The SDK's timeout covers only the wait for headers, so a stream that then stalls for that
 * long is abandoned here (StreamStalledError); the deadline still bounds everything.
 */
async function streamCompletion(
  client: OpenAI,
  body: OpenAI.ChatCompletionCreateParamsNonStreaming & GroqReasoningOptions,
  config: ResponderConfig["groq"],
  onText: (textSoFar: string) => void,
): Promise<Completion> {
  const stalled = new AbortController();
  let stallTimer: ReturnType<typeof setTimeout> | undefined;
  const watchForStall = () => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => stalled.abort(), config.timeoutMs);
  };
  const signal = AbortSignal.any([AbortSignal.timeout(config.deadlineMs), stalled.signal]);
  let content = "";
  let model = body.model;
  let usage: Usage | undefined;
  let finishReason: string | null = null;
  try {
    const stream = await client.chat.completions.create({
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    }, { signal });
    // Until here the SDK's own timeout and retries apply (each attempt, waiting for headers).
    watchForStall();
    for await (const chunk of stream) {
      watchForStall();
      model = chunk.model ?? model;
      usage = chunk.usage ?? (chunk as GroqChunk).x_groq?.usage ?? usage;
      const choice = chunk.choices[0];
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      if (choice?.delta?.content) {
        content += choice.delta.content;
        onText(content);
      }
    }
  } catch (error) {
    if (stalled.signal.aborted) throw new StreamStalledError();
    if (error instanceof OpenAI.APIError) throw error;
    // The connection broke after the stream began (the SDK retries only before it begins).
    throw new StreamInterruptedError();
  } finally {
    clearTimeout(stallTimer);
  }
  // The SDK ends an aborted stream quietly; Groq always ends a whole one with a finish_reason.
  if (stalled.signal.aborted) throw new StreamStalledError();
  if (signal.aborted) throw new OpenAI.APIUserAbortError();
  if (finishReason === null) throw new StreamInterruptedError();
  return {
    content: content.trim(),
    model,
    promptTokens: usage?.prompt_tokens ?? null,
    completionTokens: usage?.completion_tokens ?? null,
    finishReason,
  };
}

type GroqChunk = { x_groq?: { usage?: Usage } };

/** Groq-only request properties; the SDK's types do not know them. */
type GroqReasoningOptions = {
  reasoning_effort?: "low" | "medium" | "high";
  include_reasoning?: boolean;
  reasoning_format?: "hidden" | "raw" | "parsed";
};

/**
 * Reasoning stays out of the visitor's reply: only message.content is used, and Groq is asked
 * not to return reasoning at all. Low effort keeps latency down. Other models get neither
 * property, since Groq answers 400 to properties a model does not support.
 */
export function reasoningOptions(model: string): GroqReasoningOptions {
  if (model.startsWith("openai/gpt-oss")) {
    return { reasoning_effort: "low", include_reasoning: false };
  }
  if (model.startsWith("qwen/qwen3")) return { reasoning_format: "hidden" };
  return {};
}

/** Why the LLM call failed, without content: safe to log and to record for admins. */
export function describeLlmError(error: unknown): string {
  if (error instanceof OpenAI.APIConnectionTimeoutError) return "timeout";
  if (error instanceof OpenAI.APIUserAbortError) return "deadline exceeded";
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    return `http ${error.status}${error.code ? ` ${error.code}` : ""}`;
  }
  if (error instanceof StreamStalledError) return "timeout";
  if (error instanceof StreamInterruptedError) return "stream interrupted";
  if (error instanceof OpenAI.APIConnectionError) return "connection error";
  // An error event inside a stream that had begun (Groq: `event: error`, then the error body).
  if (error instanceof OpenAI.APIError) return `stream error${error.code ? ` ${error.code}` : ""}`;
  if (error instanceof EmptyReplyError) return "empty reply";
  return "unexpected error";
}

/**
 * Whether retrying cannot fix the failure, so that it counts towards the project's circuit
 * breaker: a bad or revoked key (401, 403), a model that does not exist or was decommissioned
 * (404, or 400 with Groq's model codes), a request too large for the model (413). Timeouts,
 * 429 and 5xx pass by themselves.
 */
export function isPermanentLlmFailure(error: unknown): boolean {
  if (
    error instanceof OpenAI.AuthenticationError || error instanceof OpenAI.PermissionDeniedError ||
    error instanceof OpenAI.NotFoundError
  ) return true;
  if (error instanceof OpenAI.BadRequestError) {
    return error.code === "model_decommissioned" || error.code === "model_not_found";
  }
  return error instanceof OpenAI.APIError && error.status === 413;
}

export class EmptyReplyError extends Error {}
/** No chunk for GROQ_TIMEOUT_MS in a stream that had begun. */
export class StreamStalledError extends Error {}
/** The connection broke in the middle of a stream. */
export class StreamInterruptedError extends Error {}
