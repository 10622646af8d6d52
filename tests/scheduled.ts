// The scheduled jobs as pg_cron runs them: the exact command text of cron.job, with whatever
// default arguments production has, never arguments a test chose.
import type pg from "pg";

export type ScheduledJob = "retry-unanswered-ai-replies" | "trim-cron-run-details" | "trim-visitor-rate-counters";

export async function scheduledCommand(pool: pg.Pool, job: ScheduledJob): Promise<{ command: string; schedule: string; username: string }> {
  const { rows } = await pool.query("select command, schedule, username from cron.job where jobname = $1", [job]);
  if (!rows[0]) throw new Error(`no pg_cron job named ${job}`);
  return rows[0];
}

/** Runs a job's scheduled command once, as its user (postgres) would. */
export async function runScheduled(pool: pg.Pool, job: ScheduledJob): Promise<unknown> {
  const { command } = await scheduledCommand(pool, job);
  const { rows } = await pool.query(command);
  return rows[0] ? Object.values(rows[0])[0] : undefined;
}

/**
 * The retry sweeper's passes for one conversation, as if `minutes` had gone by: each pass
 * makes the conversation's open jobs look an hour old (past any backoff), then runs the
 * scheduled command. Used by tests of silence: a late wrong answer would come from here.
 */
export async function sweepConversation(pool: pg.Pool, conversationId: string, passes = 1): Promise<void> {
  for (let i = 0; i < passes; i++) {
    await pool.query(
      "update public.ai_reply_jobs set last_dispatched_at = now() - interval '1 hour' where conversation_id = $1 and outcome is null",
      [conversationId],
    );
    await runScheduled(pool, "retry-unanswered-ai-replies");
  }
}

/** Webhooks queued for a conversation's messages (test databases: no worker sends them). */
export async function webhooksQueuedFor(pool: pg.Pool, conversationId: string): Promise<number> {
  const { rows } = await pool.query(
    "select count(*)::int as n from net.http_request_queue where convert_from(body, 'UTF8')::jsonb -> 'record' ->> 'conversation_id' = $1",
    [conversationId],
  );
  return rows[0].n;
}
