// Stands in for Supabase Realtime (/realtime/v1), following supabase/realtime @833cf36 (v2.129.8)
// and realtime-js 2.119: the Phoenix socket (vsn 2.0.0), postgres_changes decided as
// realtime.apply_rls decides them, Broadcast (public and private, REST and from the database).
// Presence, replay and the long-poll transport are not in the stand-in (they are refused clearly).
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import type pg from "pg";
import type { ApiKeys } from "./api-keys.ts";
import { ApiAuthError, identify } from "./api-request.ts";
import { createPool } from "./database.ts";
import type { ApiService } from "./gateway.ts";
import { handleBroadcastApi } from "./realtime/broadcast-api.ts";
import { type ChangeFeed, startChangeFeed } from "./realtime/changes.ts";
import { type DatabaseBroadcast, startDatabaseBroadcast } from "./realtime/database-broadcast.ts";
import { createHub } from "./realtime/hub.ts";
import { fanOut } from "./realtime/postgres-changes.ts";
import { serveSocket } from "./realtime/socket.ts";

export type RealtimeOptions = {
  /** Connection string as supabase_realtime_admin (REPLICATION; member of the API roles). */
  databaseUrl: string;
  keys: ApiKeys;
  log?: (line: string) => void;
};

/** The service, which tests can stop (every socket dropped, nothing served) and start again. */
export type Realtime = ApiService & { stop(): Promise<void>; start(): Promise<void> };

type Running = { pool: pg.Pool; changes: ChangeFeed; databaseBroadcast: DatabaseBroadcast; sockets: Set<WebSocket> };

export async function startRealtime(options: RealtimeOptions): Promise<Realtime> {
  const log = options.log ?? (() => {});
  const hub = createHub();
  const server = new WebSocketServer({ noServer: true });
  let running: Running | undefined;

  async function start(): Promise<void> {
    if (running) return;
    const pool = createPool(options.databaseUrl, 10);
    const changes = startChangeFeed({
      databaseUrl: options.databaseUrl,
      log,
      async onTransaction(transaction) {
        for (const change of transaction) {
          const subscribers = hub.all().filter((c) => c.pgBindings.length > 0).map((c) => ({
            role: c.identity.role,
            claims: c.identity.claims,
            bindings: c.pgBindings,
            deliver: c.sendPostgresChange,
          }));
          await fanOut(pool, change, subscribers).catch((error: Error) => log(`postgres_changes: ${error.message}`));
        }
      },
    });
    running = { pool, changes, databaseBroadcast: startDatabaseBroadcast(pool, hub, log), sockets: new Set() };
  }

  /** Refuses a handshake the way the gateway or Realtime would: an HTTP error, no upgrade. */
  const refuse = (socket: Duplex, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  };

  await start();
  return {
    prefix: "/realtime/v1",
    async handle(request, response, path) {
      if (!running) {
        response.writeHead(502, { "content-type": "application/json" });
        return void response.end(JSON.stringify({ message: "An invalid response was received from the upstream server" }));
      }
      await handleBroadcastApi(request, response, path, { hub, pool: running.pool, keys: options.keys });
    },
    upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, path: string) {
      const current = running;
      if (!current) return void socket.destroy();
      if (path !== "/websocket") return refuse(socket, 404, { message: "no Route matched with those values" });
      const query = new URL(request.url ?? "/", "http://realtime").searchParams;
      const apiKey = query.get("apikey") ?? undefined;
      identify(options.keys, apiKey, undefined).then(
        () => {
          // Realtime serves vsn 1.0.0 too, which realtime-js 2.119 no longer uses by default.
          if ((query.get("vsn") ?? "1.0.0") !== "2.0.0") return refuse(socket, 400, { message: "Only vsn=2.0.0 is in the local stand-in" });
          if (running !== current) return void socket.destroy();
          server.handleUpgrade(request, socket, head, (ws) => {
            current.sockets.add(ws);
            ws.on("close", () => current.sockets.delete(ws));
            serveSocket(ws, apiKey!, { hub, pool: current.pool, keys: options.keys, log });
          });
        },
        (error: unknown) => {
          if (error instanceof ApiAuthError) return refuse(socket, error.status, { message: error.message, hint: error.hint });
          socket.destroy();
        },
      );
    },
    start,
    async stop() {
      const current = running;
      running = undefined;
      if (!current) return;
      // Dropped, not closed cleanly: clients reconnect with backoff, as after a Realtime restart.
      for (const ws of current.sockets) ws.terminate();
      for (const channel of hub.all()) hub.remove(channel);
      await current.changes.stop();
      await current.databaseBroadcast.stop();
      await current.pool.end().catch(() => {});
    },
  };
}
