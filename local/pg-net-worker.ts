// Stands in for pg_net's background worker: woken by net.wake() (a NOTIFY, delivered on
// commit, so only committed requests are ever seen), it takes up to 200 queued requests,
// sends them all at once, waits for the whole batch, and records each outcome in
// net._http_response as pg_net does (status, headers, body; or timed_out / error_msg).
// Like the real worker it also looks at the queue every second, and never retries.
import pg from "pg";
import { createPool } from "./database.ts";

const BATCH_SIZE = 200;
const IDLE_CHECK_MS = 1000;
/** pg_net keeps responses for 6 hours (pg_net.ttl). */
const RESPONSE_TTL = "6 hours";

type QueuedRequest = {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeout_milliseconds: number;
};

export type PgNetWorker = { stop(): Promise<void> };

export async function startPgNetWorker(databaseUrl: string, log: (line: string) => void = () => {}): Promise<PgNetWorker> {
  const pool = createPool(databaseUrl, 4);
  let listener: pg.Client | undefined;
  let stopped = false;
  let draining: Promise<void> | undefined;
  let wokenWhileDraining = false;
  const inFlight = new Set<Promise<void>>();

  async function listen(): Promise<void> {
    while (!stopped) {
      const client = new pg.Client({ connectionString: databaseUrl });
      try {
        await client.connect();
        client.on("notification", wake);
        client.on("error", () => {});
        client.on("end", () => {
          if (!stopped) setTimeout(() => void listen(), 200);
        });
        await client.query("listen pg_net_wake");
        listener = client;
        wake();
        return;
      } catch {
        await client.end().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  function wake(): void {
    if (stopped) return;
    if (draining) {
      wokenWhileDraining = true;
      return;
    }
    draining = drain().finally(() => {
      draining = undefined;
      if (wokenWhileDraining) {
        wokenWhileDraining = false;
        wake();
      }
    });
  }

  async function drain(): Promise<void> {
    try {
      for (;;) {
        const { rows } = await pool.query<QueuedRequest>(
          `delete from net.http_request_queue
           where id in (select id from net.http_request_queue order by id limit ${BATCH_SIZE} for update skip locked)
           returning id, method, url, headers, body, timeout_milliseconds`,
        );
        if (rows.length === 0) return;
        const batch = Promise.all(rows.map(send)).then(() => {});
        inFlight.add(batch);
        await batch.finally(() => inFlight.delete(batch));
        if (rows.length < BATCH_SIZE) return;
      }
    } catch (error) {
      if (!stopped) log(`pg_net worker: ${(error as Error).message}`);
    }
  }

  async function send(request: QueuedRequest): Promise<void> {
    const started = Date.now();
    let response: { status_code: number | null; content_type: string | null; headers: Record<string, string> | null; content: string | null; timed_out: boolean; error_msg: string | null };
    try {
      const reply = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.method === "GET" || !request.body ? undefined : new Uint8Array(request.body),
        signal: AbortSignal.timeout(request.timeout_milliseconds),
      });
      response = {
        status_code: reply.status,
        content_type: reply.headers.get("content-type"),
        headers: Object.fromEntries(reply.headers),
        content: await reply.text(),
        timed_out: false,
        error_msg: null,
      };
    } catch (error) {
      const timedOut = (error as Error).name === "TimeoutError";
      response = {
        status_code: null,
        content_type: null,
        headers: null,
        content: null,
        timed_out: timedOut,
        error_msg: timedOut
          ? `Timeout of ${request.timeout_milliseconds} ms reached. Total time: ${Date.now() - started} ms`
          : `Couldn't connect to server: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`,
      };
    }
    await pool.query(
      `insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [request.id, response.status_code, response.content_type, response.headers, response.content, response.timed_out, response.error_msg],
    ).catch((error: Error) => log(`pg_net worker: could not record response ${request.id}: ${error.message}`));
  }

  const idleCheck = setInterval(wake, IDLE_CHECK_MS);
  const expireResponses = setInterval(() => {
    void pool.query(`delete from net._http_response where created < now() - interval '${RESPONSE_TTL}'`).catch(() => {});
  }, 60_000);

  await listen();

  return {
    async stop() {
      stopped = true;
      clearInterval(idleCheck);
      clearInterval(expireResponses);
      await listener?.end().catch(() => {});
      await draining;
      await Promise.all(inFlight);
      await pool.end().catch(() => {});
    },
  };
}
