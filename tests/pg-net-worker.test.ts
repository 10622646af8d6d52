import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PgNetWorker, startPgNetWorker } from "../local/pg-net-worker.ts";
import { waitFor } from "./helpers.ts";
import { startTestDatabase, type TestDatabase } from "./test-database.ts";

let db: TestDatabase;
let worker: PgNetWorker;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; headers: IncomingMessage["headers"]; body: string }[] = [];

beforeAll(async () => {
  db = await startTestDatabase();
  receiver = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    received.push({ path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString() });
    if (request.url?.startsWith("/slow")) await new Promise((resolve) => setTimeout(resolve, 2000));
    response.writeHead(request.url?.startsWith("/teapot") ? 418 : 200, { "content-type": "application/json", "x-echo": "yes" });
    response.end('{"ok":true}');
  }).listen(0, "127.0.0.1");
  await once(receiver, "listening");
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  worker = await startPgNetWorker(db.url);
});
afterAll(async () => {
  await worker?.stop();
  receiver?.closeAllConnections();
  receiver?.close();
  await db?.stop();
});

const post = (sql: string, values: unknown[]) => db.pool.query<{ id: string }>(sql, values);
const response = (id: string) =>
  db.pool.query("select status_code, content_type, headers, content, timed_out, error_msg from net._http_response where id = $1", [id])
    .then((r) => r.rows[0]);

describe("the pg_net worker stand-in", () => {
  it("sends a committed request at once and records the response as pg_net does", async () => {
    const { rows: [{ id }] } = await post(
      "select net.http_post(url => $1, body => '{\"hello\":\"world\"}', params => '{\"a\":\"1 2\"}', headers => '{\"Authorization\":\"Bearer s\"}', timeout_milliseconds => 1000) as id",
      [`${receiverUrl}/hook`],
    ) as unknown as { rows: [{ id: string }] };
    const recorded = await waitFor("the response row", () => response(id), { timeoutMs: 10_000 });
    expect(recorded).toMatchObject({ status_code: 200, content_type: "application/json", content: '{"ok":true}', timed_out: false, error_msg: null });
    expect(recorded.headers["x-echo"]).toBe("yes");
    const request = received.find((r) => r.path.startsWith("/hook"))!;
    expect(request.path).toBe("/hook?a=1%202"); // params are url-encoded into the query
    expect(request.headers.authorization).toBe("Bearer s");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(request.body)).toEqual({ hello: "world" });
  });

  it("sends nothing for a rolled-back transaction", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("select net.http_post($1, '{}'::jsonb)", [`${receiverUrl}/rolled-back`]);
      await client.query("rollback");
    } finally {
      client.release();
    }
    // A committed request queued after it is delivered; the rolled-back one never is.
    const { rows: [{ id }] } = await post("select net.http_post($1, '{}'::jsonb) as id", [`${receiverUrl}/after-rollback`]) as unknown as { rows: [{ id: string }] };
    await waitFor("the later request's response", () => response(id), { timeoutMs: 10_000 });
    expect(received.map((r) => r.path)).toContain("/after-rollback");
    expect(received.map((r) => r.path)).not.toContain("/rolled-back");
  });

  it("sends only after commit, not when the request is queued", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("select net.http_post($1, '{}'::jsonb)", [`${receiverUrl}/pending-commit`]);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than the idle check
      expect(received.map((r) => r.path)).not.toContain("/pending-commit");
      await client.query("commit");
    } finally {
      client.release();
    }
    await waitFor("the request after commit", async () => received.some((r) => r.path === "/pending-commit"), { timeoutMs: 10_000 });
  });

  it("gives up after timeout_milliseconds and records a timeout", async () => {
    const { rows: [{ id }] } = await post("select net.http_post(url => $1, timeout_milliseconds => 300) as id", [`${receiverUrl}/slow`]) as unknown as { rows: [{ id: string }] };
    const recorded = await waitFor("the timeout row", () => response(id), { timeoutMs: 10_000 });
    expect(recorded).toMatchObject({ status_code: null, timed_out: true });
    expect(recorded.error_msg).toMatch(/^Timeout of 300 ms reached/);
  });

  it("records a non-2xx status as a response, without retrying", async () => {
    const { rows: [{ id }] } = await post("select net.http_post($1, '{}'::jsonb) as id", [`${receiverUrl}/teapot`]) as unknown as { rows: [{ id: string }] };
    expect(await waitFor("the 418 row", () => response(id), { timeoutMs: 10_000 })).toMatchObject({ status_code: 418 });
    expect(received.filter((r) => r.path === "/teapot")).toHaveLength(1);
  });

  it("records a connection failure", async () => {
    const { rows: [{ id }] } = await post("select net.http_post('http://127.0.0.1:1/nothing', '{}'::jsonb) as id", []) as unknown as { rows: [{ id: string }] };
    const recorded = await waitFor("the error row", () => response(id), { timeoutMs: 10_000 });
    expect(recorded).toMatchObject({ status_code: null, timed_out: false });
    expect(recorded.error_msg).toMatch(/Couldn't connect to server/);
  });

  it("refuses a body that is not JSON, like pg_net", async () => {
    await expect(db.pool.query("select net.http_post('http://x', '{}'::jsonb, '{}'::jsonb, '{\"Content-Type\":\"text/plain\"}'::jsonb)"))
      .rejects.toThrow('Content-Type header must be "application/json"');
  });
});
