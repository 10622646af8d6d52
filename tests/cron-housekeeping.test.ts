import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

// pg_cron's run log is never trimmed by Supabase; the sweeper alone logs a row every 5 s.
let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(() => db?.stop());

describe("pg_cron's run log", () => {
  it("is trimmed hourly to the last day, by a job that runs as postgres", async () => {
    const { rows: [job] } = await db.pool.query("select schedule, command, username from cron.job where jobname = 'trim-cron-run-details'");
    expect(job).toMatchObject({ schedule: "17 * * * *", username: "postgres" });

    const { rows: [{ id: sweeper }] } = await db.pool.query("select jobid as id from cron.job where jobname = 'retry-unanswered-ai-replies'");
    await db.pool.query(
      `insert into cron.job_run_details (jobid, username, command, status, start_time, end_time)
       select $1, 'postgres', 'select 1', 'succeeded', now() - make_interval(hours => h), now() - make_interval(hours => h)
       from unnest(array[30, 25, 23, 1]) h`,
      [sweeper],
    );
    // As the scheduler runs it: the scheduled command itself, as the job's user.
    await db.pool.query(job.command);
    const { rows } = await db.pool.query(
      "select round(extract(epoch from now() - end_time) / 3600)::int as hours from cron.job_run_details where jobid = $1 order by 1",
      [sweeper],
    );
    expect(rows.map((row) => row.hours)).toEqual([1, 23]);
  });
});
