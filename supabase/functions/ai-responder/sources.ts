// The customer's knowledge in the prompt: the passages ai_reply_context retrieved, as numbered
// sources with their titles and URLs, and what the model is to do with them.
import { HAND_OVER_TOOL_NAME } from "./hand-over.ts";

/** A knowledge passage as ai_reply_context returns it (best match first). */
export type KnowledgePassage = { id: string; title: string; url: string | null; content: string };

/** Bytes a source costs beyond its title, URL and text; the SQL (knowledge_source_bytes) agrees. */
export const SOURCE_OVERHEAD_BYTES = 16;

/**
 * The system prompt followed by the sources, or, with none, by what to do without them (only
 * when the project answers only from its knowledge; otherwise the prompt is left as it is).
 */
export function withSources(
  systemPrompt: string,
  passages: readonly KnowledgePassage[],
  answerOnlyFromKnowledge: boolean,
): string {
  const offerPerson =
    `say that you do not know, and offer to bring in a person from the team (call ${HAND_OVER_TOOL_NAME} if the visitor wants one)`;
  if (passages.length === 0) {
    if (!answerOnlyFromKnowledge) return systemPrompt;
    return [
      systemPrompt,
      "",
      "Answer only from this website's knowledge base. No article of it matches this question,",
      `so do not answer from general knowledge: ${offerPerson}.`,
    ].join("\n");
  }
  const sources = passages.map((passage, i) =>
    [
      `[${i + 1}] ${passage.title}`,
      ...(passage.url ? [`URL: ${passage.url}`] : []),
      passage.content,
    ]
      .join("\n")
  );
  return [
    systemPrompt,
    "",
    answerOnlyFromKnowledge
      ? "Answer only from the numbered sources below (this website's knowledge base), never from general knowledge."
      : "Answer from the numbered sources below (this website's knowledge base) when they cover the question.",
    "When you use a source that has a URL, cite that URL in your reply.",
    `If the sources do not cover the question, ${offerPerson}.`,
    "",
    "Sources:",
    sources.join("\n\n"),
  ].join("\n");
}
