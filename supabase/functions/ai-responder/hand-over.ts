// The one tool the model is offered: hand the conversation over to a person. The posted reply
// is then the project's hand-over text (ai_post_reply with hand_over), never the model's words.
import { z } from "zod";

export const HAND_OVER_TOOL_NAME = "hand_over_to_human";

/** The reason stored for the agents when the model's call could not be read. */
export const MALFORMED_CALL_REASON = "the AI asked for a person (its hand-over call was malformed)";

/** A tool call as the OpenAI format returns it (whole, or assembled from streamed deltas). */
export type ToolCall = { name: string; arguments: string };

export type HandOver = { reason: string; malformed: boolean };

/** The tools array for the request (OpenAI format; Groq supports it on gpt-oss). */
export function handOverTools(answerOnlyFromKnowledge: boolean) {
  return [{
    type: "function" as const,
    function: {
      name: HAND_OVER_TOOL_NAME,
      description: "Hand this conversation over to a person from the team, who will answer here. " +
        "Use it when the visitor asks for a person (a human, an agent, someone from the team) " +
        (answerOnlyFromKnowledge
          ? "or is upset or frustrated, or when the sources do not cover the question and the visitor wants an answer anyway. "
          : "or is upset or frustrated. ") +
        "Write no reply with it: the visitor is told that a person will reply.",
      parameters: {
        type: "object",
        properties: {
          reason: {
            type: "string",
            description: "Why, in a few words, for the agent (e.g. visitor asked for a person).",
          },
        },
        required: ["reason"],
        additionalProperties: false,
      },
    },
  }];
}

const Arguments = z.object({ reason: z.string().trim().min(1).max(1000) });

/**
 * Any tool call means the model wants a person: the right one with a reason is taken at its
 * word; another name or unreadable arguments is still a hand-over (the safe reading).
 */
export function handOverFrom(calls: readonly ToolCall[]): HandOver | null {
  const call = calls[0];
  if (!call) return null;
  if (call.name !== HAND_OVER_TOOL_NAME) return { reason: MALFORMED_CALL_REASON, malformed: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(call.arguments);
  } catch {
    return { reason: MALFORMED_CALL_REASON, malformed: true };
  }
  const args = Arguments.safeParse(parsed);
  if (!args.success) return { reason: MALFORMED_CALL_REASON, malformed: true };
  return { reason: args.data.reason.slice(0, 200), malformed: false };
}
