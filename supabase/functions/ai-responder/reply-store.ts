// PostgREST's client alone (what supabase-js uses for rpc): the function needs nothing else of
// supabase-js, and every npm package a function imports is deployed whole (bundle size).
import { PostgrestClient } from "@supabase/postgrest-js";
import { z } from "zod";

/** What ai_reply_context answers: skip (with why), or everything needed to reply. */
export const ReplyContext = z.discriminatedUnion("action", [
  z.object({ action: z.literal("skip"), reason: z.string() }),
  z.object({
    action: z.literal("reply"),
    conversation_id: z.guid(),
    /** This run's claim: only it may release the claim or record a failure against it. */
    claim_token: z.guid(),
    project: z.object({
      id: z.guid(),
      name: z.string(),
      model: z.string().nullable(),
      system_prompt: z.string().nullable(),
      fallback_message: z.string().nullable(),
      max_prompt_tokens: z.number().int().positive(),
      max_completion_tokens: z.number().int().positive(),
      /** Publish the reply's text as it is written (projects.ai_stream_replies). */
      stream_replies: z.boolean(),
      /** Answer only from the knowledge base (projects.ai_answer_only_from_knowledge). */
      answer_only_from_knowledge: z.boolean(),
    }),
    history: z.array(z.object({ from_customer: z.boolean(), content: z.string() })),
    /** Knowledge passages matching the visitor's messages of this turn, best first. */
    knowledge: z.array(z.object({
      id: z.guid(),
      title: z.string(),
      url: z.string().nullable(),
      content: z.string(),
    })),
  }),
]);
export type ReplyContext = z.infer<typeof ReplyContext>;

export const PostReplyResult = z.union([
  /** Handed over: reply_id is the hand-over text, null when the project has none. */
  z.object({
    posted: z.literal(true),
    reply_id: z.guid().nullable(),
    handed_over: z.literal(true),
  }),
  z.object({ posted: z.literal(true), reply_id: z.guid() }),
  z.object({ posted: z.literal(false), reason: z.string() }),
]);
export type PostReplyResult = z.infer<typeof PostReplyResult>;

export type ReplyToPost = {
  messageId: string;
  claimToken: string;
  /** null when the LLM failed and there is no fallback text: only the failure is recorded. */
  content: string | null;
  isFallback: boolean;
  model: string;
  promptTokens: number | null;
  completionTokens: number | null;
  llmLatencyMs: number;
  error: string | null;
  /** The LLM failed in a way retrying cannot fix (counts towards the circuit breaker). */
  failureIsPermanent: boolean;
  /** The reply stopped at the token limit and was trimmed. */
  truncated: boolean;
  /** The model asked for a person: the project's hand-over text is posted instead of content. */
  handOverReason?: string | null;
  /** The knowledge passages the prompt gave as sources. */
  knowledgePassageIds?: string[];
};

/** The function's two database calls; every rule is decided inside them, in SQL. */
export type ReplyStore = {
  replyContext(messageId: string): Promise<ReplyContext>;
  postReply(reply: ReplyToPost): Promise<PostReplyResult>;
  /** When the instance retires: gives its own claims back; answers how many were released. */
  releaseClaims(claimTokens: string[]): Promise<number>;
};

export class DatabaseError extends Error {}

/** A database call that takes longer is abandoned; the claim lapses and a retry takes over. */
const DATABASE_CALL_TIMEOUT_MS = 10_000;

/**
 * claimSeconds: how long a run holds a message it answers (ai_reply_context's claim_seconds):
 * more than the LLM deadline, so that duplicate deliveries stand back while it works.
 */
export function createReplyStore(
  supabaseUrl: string,
  serviceKey: string,
  claimSeconds: number,
): ReplyStore {
  // As supabase-js sends a key without a user session: apikey, and the key as the bearer.
  const supabase = new PostgrestClient(`${supabaseUrl.replace(/\/$/, "")}/rest/v1`, {
    headers: { apikey: serviceKey, Authorization: `Bearer ${serviceKey}` },
  });

  async function call<T>(
    fn: string,
    args: Record<string, unknown>,
    schema: z.ZodType<T>,
  ): Promise<T> {
    const { data, error } = await supabase.rpc(fn, args).abortSignal(
      AbortSignal.timeout(DATABASE_CALL_TIMEOUT_MS),
    );
    if (error) throw new DatabaseError(`${fn} failed: ${error.code ?? ""} ${error.message}`.trim());
    const parsed = schema.safeParse(data);
    if (!parsed.success) throw new DatabaseError(`${fn} returned an unexpected shape`);
    return parsed.data;
  }

  return {
    replyContext: (messageId) =>
      call(
        "ai_reply_context",
        { message_id: messageId, claim_seconds: claimSeconds },
        ReplyContext,
      ),
    postReply: (reply) =>
      call("ai_post_reply", {
        message_id: reply.messageId,
        content: reply.content,
        model: reply.model,
        prompt_tokens: reply.promptTokens,
        completion_tokens: reply.completionTokens,
        llm_latency_ms: reply.llmLatencyMs,
        is_fallback: reply.isFallback,
        error: reply.error,
        claim_token: reply.claimToken,
        failure_is_permanent: reply.failureIsPermanent,
        truncated: reply.truncated,
        hand_over: reply.handOverReason != null,
        hand_over_reason: reply.handOverReason ?? null,
        knowledge_passage_ids: reply.knowledgePassageIds ?? [],
      }, PostReplyResult),
    releaseClaims: (claimTokens) =>
      call("ai_release_claims", { claim_tokens: claimTokens }, z.number().int()),
  };
}
