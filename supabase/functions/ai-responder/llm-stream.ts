// Groq's streamed chat completion: the reply's text as it grows, tool calls assembled from
// their deltas, usage from the last chunk that carries it.
import OpenAI from "openai";
import type { ResponderConfig } from "./config.ts";
import { handOverFrom, type ToolCall } from "./hand-over.ts";
import type { Completion, GroqReasoningOptions } from "./llm.ts";

/** No chunk for GROQ_TIMEOUT_MS in a stream that had begun. */
export class StreamStalledError extends Error {}
/** The connection broke in the middle of a stream. */
export class StreamInterruptedError extends Error {}

type Usage = { prompt_tokens?: number; completion_tokens?: number };

/**
 * The same request as a stream. Groq puts usage on the chunk with finish_reason (and in
 * x_groq.usage), and with include_usage on a last chunk without choices: the last one seen wins.
 * The SDK's timeout covers only the wait for headers, so a stream that then stalls for that
 * long is abandoned here (StreamStalledError); the deadline still bounds everything.
 */
export async function streamCompletion(
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
  // Tool calls come in pieces keyed by index: the name first, the arguments appended.
  const calls: ToolCall[] = [];
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
      for (const delta of choice?.delta?.tool_calls ?? []) {
        const call = calls[delta.index] ??= { name: "", arguments: "" };
        call.name += delta.function?.name ?? "";
        call.arguments += delta.function?.arguments ?? "";
      }
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
    handOver: handOverFrom(calls.filter(Boolean)),
  };
}

type GroqChunk = { x_groq?: { usage?: Usage } };
