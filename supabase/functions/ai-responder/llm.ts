import OpenAI from "openai";
import type { ChatMessage } from "./prompt.ts";
import type { ResponderConfig } from "./config.ts";
import { type HandOver, handOverFrom, MALFORMED_CALL_REASON, type ToolCall } from "./hand-over.ts";
import { streamCompletion, StreamInterruptedError, StreamStalledError } from "./llm-stream.ts";

export type Completion = {
  content: string;
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
  /** "length" when the reply stopped at maxCompletionTokens. */
  finishReason: string | null;
  /** The model called hand_over_to_human (or made a malformed call): no reply text is posted. */
  handOver?: HandOver | null;
};

export type CompletionRequest = {
  model: string;
  messages: ChatMessage[];
  /** Longest reply asked for; reasoning tokens count against it too. */
  maxCompletionTokens: number;
  /** Streams the reply when given: called with the whole text so far as it grows. */
  onText?: (textSoFar: string) => void;
  /** Tools offered to the model (OpenAI format): the hand-over tool. */
  tools?: OpenAI.ChatCompletionTool[];
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
    async complete({ model, messages, maxCompletionTokens, onText, tools }) {
      const body = {
        model,
        messages,
        max_completion_tokens: maxCompletionTokens,
        ...(tools ? { tools } : {}),
        ...reasoningOptions(model),
      };
      try {
        if (onText) return await streamCompletion(client, body, config, onText);
        const response = await client.chat.completions.create(
          body satisfies OpenAI.ChatCompletionCreateParamsNonStreaming & GroqReasoningOptions,
          { signal: AbortSignal.timeout(config.deadlineMs) },
        );
        const choice = response.choices[0];
        const calls: ToolCall[] = (choice?.message.tool_calls ?? []).map((call) =>
          call.type === "function"
            ? { name: call.function.name, arguments: call.function.arguments }
            : { name: "", arguments: "" }
        );
        return {
          content: choice?.message.content?.trim() ?? "",
          model: response.model,
          promptTokens: response.usage?.prompt_tokens ?? null,
          completionTokens: response.usage?.completion_tokens ?? null,
          finishReason: choice?.finish_reason ?? null,
          handOver: handOverFrom(calls),
        };
      } catch (error) {
        // Groq refuses a tool call the model wrote badly (400, or a stream's error event, with
        // code tool_use_failed): the model
        // meant to call the only tool there is, so that is a hand-over too.
        if (error instanceof OpenAI.APIError && error.code === "tool_use_failed") {
          return {
            content: "",
            model,
            promptTokens: null,
            completionTokens: null,
            finishReason: "tool_calls",
            handOver: { reason: MALFORMED_CALL_REASON, malformed: true },
          };
        }
        throw error;
      }
    },
  };
}

/** Groq-only request properties; the SDK's types do not know them. */
export type GroqReasoningOptions = {
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
export { StreamInterruptedError, StreamStalledError };
