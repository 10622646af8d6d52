// What became of each visitor message: the vocabulary of the reliability tests and RELIABILITY.md.
import type pg from "pg";
import { waitFor } from "./helpers.ts";

export type Outcomes = {
  messages: number;
  answered: number;
  /** No reply of its own, but a later visitor message of the same conversation was answered. */
  coalesced: number;
  /** Retries ran out: the fallback text was posted (or nothing, without one). */
  failed: number;
  /** Neither answered, coalesced nor failed: what must never stay above zero. */
  unanswered: number;
  /** Visitor messages with more than one AI reply. */
  duplicated: number;
};

export async function outcomesOf(pool: pg.Pool, messageIds: string[]): Promise<Outcomes> {
  const { rows } = await pool.query<{ replies: number; failed: boolean; coalesced: boolean }>(
    `select (select count(*)::int from public.messages r where r.reply_to = m.id) as replies,
            coalesce(j.outcome = 'failed', false) as failed,
            exists (
              select 1 from public.messages n join public.messages nr on nr.reply_to = n.id
              where n.conversation_id = m.conversation_id and n.from_customer and (n.created_at, n.id) > (m.created_at, m.id)
            ) as coalesced
     from public.messages m left join public.ai_reply_jobs j on j.message_id = m.id
     where m.id = any($1)`,
    [messageIds],
  );
  const count = (test: (row: (typeof rows)[number]) => boolean) => rows.filter(test).length;
  return {
    messages: rows.length,
    answered: count((r) => r.replies >= 1 && !r.failed),
    coalesced: count((r) => r.replies === 0 && r.coalesced),
    failed: count((r) => r.failed),
    unanswered: count((r) => r.replies === 0 && !r.coalesced && !r.failed),
    duplicated: count((r) => r.replies > 1),
  };
}

/** Waits until no message is left unanswered, then returns the outcomes. */
export async function settled(pool: pg.Pool, messageIds: string[], timeoutMs = 120_000): Promise<Outcomes> {
  return waitFor("every message to be answered, coalesced or failed", async () => {
    const outcomes = await outcomesOf(pool, messageIds);
    return outcomes.unanswered === 0 && outcomes;
  }, { timeoutMs, intervalMs: 250 });
}
