import type { Broadcaster } from "./broadcast.ts";
import { describeLlmError, EmptyReplyError, isPermanentLlmFailure, type Llm } from "./llm.ts";
import type { VisitorMessage } from "./payload.ts";
import { handOverTools } from "./hand-over.ts";
import { buildPrompt, defaultSystemPrompt, tokenBound, trimToLastSentence } from "./prompt.ts";
import type { ReplyStore, ReplyToPost } from "./reply-store.ts";
import { withSources } from "./sources.ts";

export type Clock = { now(): number; sleep(ms: number): Promise<void> };

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export type ResponderDeps = {
  store: ReplyStore;
  llm: Llm;
  clock: Clock;
  defaultModel: string;
  /** The typing indicator and the text as it is written, on the conversation's topic. */
  broadcaster: Broadcaster;
};

/** What happened to one visitor message; logged, never shown to the visitor. */
export type Outcome = {
  outcome: "answered" | "fallback" | "handed_over" | "skipped" | "failed";
  reason?: string;
  truncated?: boolean;
  /** Realtime events published about this reply (typing, previews). */
  broadcast_events?: number;
  timings: { wait_ms: number; context_ms: number; llm_ms?: number; post_ms?: number };
};

/** Longest coalescing wait honoured, whatever the x-reply-delay-ms header says. */
export const MAX_REPLY_DELAY_MS = 10_000;

/**
 * Answers one visitor message: waits until the project's reply delay has passed since the
 * message was written (so a burst gets one answer), asks the database whether and with what to
 * answer (claiming the message: onClaimed hears of the claim), calls the LLM, and posts the
 * reply, or the project's fallback text if the LLM failed, or the project's hand-over text if the
 * model called hand_over_to_human. The prompt gives the knowledge passages retrieved with the
 * context as numbered sources, and offers the hand-over tool. Once claimed, the visitor sees that
 * the AI is typing, and (if the project streams replies) the text as it is written; the row
 * posted at the end replaces that preview, and a run that posts nothing withdraws it.
 */
export async function answerVisitorMessage(
  deps: ResponderDeps,
  message: VisitorMessage,
  replyDelayMs: number,
  onClaimed: (claimToken: string) => void = () => {},
): Promise<Outcome> {
  const { store, llm, clock } = deps;
  let mark = clock.now();
  const lap = () => {
    const now = clock.now();
    const elapsed = now - mark;
    mark = now;
    return elapsed;
  };

  const delay = Math.min(Math.max(replyDelayMs, 0), MAX_REPLY_DELAY_MS);
  const wait = Math.min(delay, Date.parse(message.created_at) + delay - clock.now());
  if (wait > 0) await clock.sleep(wait);
  const wait_ms = lap();

  const context = await store.replyContext(message.id);
  const context_ms = lap();
  if (context.action === "skip") {
    return { outcome: "skipped", reason: context.reason, timings: { wait_ms, context_ms } };
  }

  onClaimed(context.claim_token);
  const { project, history, knowledge } = context;
  const preview = deps.broadcaster.forMessage(context.conversation_id, message.id);
  preview.typing(true);
  const model = project.model ?? deps.defaultModel;
  const tools = handOverTools(project.answer_only_from_knowledge);
  const systemPrompt = withSources(
    project.system_prompt ?? defaultSystemPrompt(project.name),
    knowledge,
    project.answer_only_from_knowledge,
  );
  // The tool's definition is part of the prompt Groq counts.
  const messages = buildPrompt(
    systemPrompt,
    history,
    project.max_prompt_tokens - tokenBound(JSON.stringify(tools)),
  );
  const knowledgePassageIds = knowledge.map((passage) => passage.id);

  let reply: Omit<ReplyToPost, "messageId" | "claimToken">;
  try {
    const completion = await llm.complete({
      model,
      messages,
      maxCompletionTokens: project.max_completion_tokens,
      tools,
      ...(project.stream_replies ? { onText: preview.text } : {}),
    });
    if (completion.handOver) {
      // The project's hand-over text is posted, not whatever text came with the call.
      preview.withdraw("handed_over");
      reply = {
        content: null,
        isFallback: false,
        model: completion.model,
        promptTokens: completion.promptTokens,
        completionTokens: completion.completionTokens,
        llmLatencyMs: lap(),
        error: null,
        failureIsPermanent: false,
        truncated: false,
        handOverReason: completion.handOver.reason,
        knowledgePassageIds,
      };
    } else {
      if (!completion.content) throw new EmptyReplyError();
      const truncated = completion.finishReason === "length";
      const llm_ms = lap();
      const content = truncated ? trimToLastSentence(completion.content) : completion.content;
      preview.finish(content);
      reply = {
        content,
        isFallback: false,
        model: completion.model,
        promptTokens: completion.promptTokens,
        completionTokens: completion.completionTokens,
        llmLatencyMs: llm_ms,
        error: null,
        failureIsPermanent: false,
        truncated,
        knowledgePassageIds,
      };
    }
  } catch (error) {
    preview.withdraw("failed");
    reply = {
      content: project.fallback_message,
      isFallback: true,
      model,
      promptTokens: null,
      completionTokens: null,
      llmLatencyMs: lap(),
      error: describeLlmError(error),
      failureIsPermanent: isPermanentLlmFailure(error),
      truncated: false,
      knowledgePassageIds,
    };
  }
  const posted = await store.postReply({
    messageId: message.id,
    claimToken: context.claim_token,
    ...reply,
  });
  const timings = { wait_ms, context_ms, llm_ms: reply.llmLatencyMs, post_ms: lap() };
  if (!posted.posted) preview.withdraw(posted.reason);
  const broadcast_events = preview.events();
  if (!posted.posted) {
    // Nothing to post (LLM failed, no fallback text): the LLM's error; otherwise why SQL declined.
    if (reply.content === null && !reply.handOverReason) {
      return { outcome: "failed", reason: reply.error ?? posted.reason, broadcast_events, timings };
    }
    return { outcome: "skipped", reason: posted.reason, broadcast_events, timings };
  }
  return {
    outcome: "handed_over" in posted ? "handed_over" : reply.isFallback ? "fallback" : "answered",
    ...(reply.error ? { reason: reply.error } : {}),
    ...(reply.truncated ? { truncated: true } : {}),
    broadcast_events,
    timings,
  };
}
