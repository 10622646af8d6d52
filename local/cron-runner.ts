// Stands in for pg_cron's scheduler: runs each active job of cron.job on its schedule ('N seconds'
// with N from 1 to 59, or a five-field cron expression in UTC, minute granularity) as the job's
// user, never two runs of one job at once, and logs each run in cron.job_run_details.
import pg from "pg";
import { createPool } from "./database.ts";

type Job = { jobid: string; schedule: string; command: string; username: string };

export type CronRunner = { stop(): Promise<void> };

const TICK_MS = 200;

export function startCronRunner(databaseUrl: string, log: (line: string) => void = () => {}): CronRunner {
  const pool = createPool(databaseUrl, 4);
  const lastRun = new Map<string, number>();
  const running = new Map<string, Promise<void>>();
  let stopped = false;

  async function tick(): Promise<void> {
    let jobs: Job[];
    try {
      jobs = (await pool.query<Job>("select jobid, schedule, command, username from cron.job where active")).rows;
    } catch {
      return; // the database is restarting: try again on the next tick
    }
    const now = Date.now();
    for (const job of jobs) {
      if (running.has(job.jobid) || !isDue(job.schedule, lastRun.get(job.jobid), now)) continue;
      lastRun.set(job.jobid, now);
      const run = runJob(job).finally(() => running.delete(job.jobid));
      running.set(job.jobid, run);
    }
  }

  async function runJob(job: Job): Promise<void> {
    let runId: string | undefined;
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      runId = (await client.query<{ runid: string }>(
        `insert into cron.job_run_details (jobid, job_pid, database, username, command, status, start_time)
         values ($1, pg_backend_pid(), current_database(), $2, $3, 'running', now()) returning runid`,
        [job.jobid, job.username, job.command],
      )).rows[0]!.runid;
      // pg_cron connects as the job's user: current_user and session_user are both that role.
      await client.query(`set session authorization ${pg.escapeIdentifier(job.username)}`);
      const result = await client.query(job.command);
      const resultOf = Array.isArray(result) ? result.at(-1) : result;
      await client.query("reset session authorization");
      await client.query(
        "update cron.job_run_details set status = 'succeeded', return_message = $2, end_time = now() where runid = $1",
        [runId, `${resultOf?.command ?? ""} ${resultOf?.rowCount ?? ""}`.trim()],
      );
    } catch (error) {
      const message = (error as Error).message;
      if (!stopped) log(`cron job ${job.jobid} failed: ${message}`);
      const healthy = await client?.query("reset session authorization").then(() => true, () => false);
      client?.release(healthy ? undefined : true);
      client = undefined;
      if (runId) {
        await pool.query("update cron.job_run_details set status = 'failed', return_message = $2, end_time = now() where runid = $1", [runId, message])
          .catch(() => {});
      }
    } finally {
      client?.release();
    }
  }

  const timer = setInterval(() => void tick(), TICK_MS);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(running.values());
      await pool.end().catch(() => {});
    },
  };
}

/** Whether a job is due now, given when it last started (this runner's own memory). */
export function isDue(schedule: string, lastRunMs: number | undefined, nowMs: number): boolean {
  const seconds = /^\s*(\d+)\s+seconds?\s*$/i.exec(schedule);
  if (seconds) return lastRunMs === undefined || nowMs - lastRunMs >= Number(seconds[1]) * 1000;
  const minute = Math.floor(nowMs / 60_000);
  if (lastRunMs !== undefined && Math.floor(lastRunMs / 60_000) === minute) return false;
  return matchesCron(schedule, new Date(nowMs));
}

function matchesCron(expression: string, at: Date): boolean {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return false;
  const values = [at.getUTCMinutes(), at.getUTCHours(), at.getUTCDate(), at.getUTCMonth() + 1, at.getUTCDay()];
  return fields.every((field, i) => field.split(",").some((part) => matchesPart(part, values[i]!)));
}

function matchesPart(part: string, value: number): boolean {
  const [range, stepText] = part.split("/");
  const step = stepText ? Number(stepText) : 1;
  if (range === "*") return value % step === 0;
  const [low, high] = range!.split("-").map(Number);
  const top = high ?? (stepText ? Infinity : low!);
  return value >= low! && value <= top && (value - low!) % step === 0;
}
