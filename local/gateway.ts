// Stands in for Supabase's API gateway (Kong, supabase/supabase docker/volumes/api/kong.yml) on
// the project URL: CORS on every route; /functions/v1/<name> proxied to the function's Deno
// server (checking a JWT first unless config.toml says verify_jwt = false); /rest/v1/rpc/<fn>
// answered like PostgREST's RPC; and each other service (Auth, REST, Realtime) under its prefix.
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type pg from "pg";
import { type ApiKeys, roleOfApiKey, verifyJwt } from "./api-keys.ts";
import { bearerOf } from "./api-request.ts";
import { createRpcHandler } from "./postgrest-rpc.ts";

/** A service behind the gateway, answering every request under its prefix (e.g. "/auth/v1"). */
export type ApiService = {
  prefix: string;
  /** path: the request's path without the prefix. */
  handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<void>;
  /** WebSocket upgrades under the prefix (Realtime). */
  upgrade?(request: IncomingMessage, socket: Duplex, head: Buffer, path: string): void;
};

/** Kong's cors plugin as Supabase configures it, plus what supabase-js sends and reads. */
const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
  "access-control-allow-headers":
    "apikey, authorization, content-type, x-client-info, x-supabase-api-version, prefer, accept, accept-profile, content-profile, range, x-retry-count",
  "access-control-expose-headers": "Content-Range, Content-Location, Location, X-Supabase-Api-Version",
  "access-control-max-age": "3600",
};

/** Where a function is served now (it may move when restarted), and its verify_jwt setting. */
export type FunctionRoute = { url: () => string; verifyJwt: boolean };

export type Gateway = {
  url: string;
  port: number;
  /** RPC calls served, per function name (the benchmark counts database calls with it). */
  rpcCalls: Map<string, number>;
  stop(): Promise<void>;
  start(): Promise<void>;
};

const MAX_RPC_BODY_BYTES = 1024 * 1024;

export async function startGateway(options: {
  port: number;
  pool: pg.Pool;
  keys: ApiKeys;
  functions: Record<string, FunctionRoute>;
  services?: ApiService[];
}): Promise<Gateway> {
  const services = options.services ?? [];
  const serviceFor = (path: string) => services.find((s) => path === s.prefix || path.startsWith(`${s.prefix}/`));
  const callRpc = createRpcHandler(options.pool, options.keys);
  const rpcCalls = new Map<string, number>();

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      response.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const path = new URL(request.url ?? "/", "http://gateway").pathname;
    // Functions answer CORS themselves on Supabase (guides/functions/cors); the rest is Kong's.
    const isFunction = path.startsWith("/functions/v1/");
    if (!isFunction) for (const [name, value] of Object.entries(CORS_HEADERS)) response.setHeader(name, value);
    if (request.method === "OPTIONS" && !isFunction) {
      response.writeHead(204);
      return void response.end();
    }

    const fn = /^\/functions\/v1\/([^/]+)/.exec(path);
    if (fn) {
      const route = options.functions[fn[1]!];
      if (!route) return send(404, { code: "NOT_FOUND", message: "Requested function was not found" });
      if (route.verifyJwt) {
        const token = bearerOf(request.headers.authorization);
        if (!token) return send(401, { code: 401, message: "Missing authorization header" });
        try {
          if (roleOfApiKey(token, options.keys) === null) await verifyJwt(token, options.keys.jwtSecret);
        } catch {
          return send(401, { code: 401, message: "Invalid JWT" });
        }
      }
      return proxy(request, response, route.url() + path.slice(fn[0].length) + (request.url?.includes("?") ? request.url.slice(request.url.indexOf("?")) : ""));
    }

    const rpc = /^\/rest\/v1\/rpc\/([A-Za-z0-9_]+)$/.exec(path);
    if (rpc) {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of request) {
        size += (chunk as Buffer).length;
        if (size > MAX_RPC_BODY_BYTES) return send(413, { code: "PGRST413", details: null, hint: null, message: "Payload Too Large" });
        chunks.push(chunk as Buffer);
      }
      rpcCalls.set(rpc[1]!, (rpcCalls.get(rpc[1]!) ?? 0) + 1);
      const result = await callRpc(rpc[1]!, request, Buffer.concat(chunks).toString("utf8"));
      return send(result.status, result.body);
    }
    const service = serviceFor(path);
    if (service) return service.handle(request, response, path.slice(service.prefix.length) || "/");
    send(404, { message: "no Route matched with those values" });
  };

  let server: Server | undefined;
  let port = options.port;
  // closeAllConnections() does not cover upgraded sockets (Realtime's WebSockets): tracked here.
  const upgraded = new Set<Duplex>();
  async function start(): Promise<void> {
    server = createServer((request, response) => {
      handle(request, response).catch((error: Error) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
        response.end(JSON.stringify({ message: `gateway error: ${error.message}` }));
      });
    });
    // Kong keeps idle client connections 60 s (nginx keepalive_timeout); Node's 5 s default
    // closed them under clients that reuse them (Deno's fetch), resetting requests in flight.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 61_000;
    server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.add(socket);
      socket.once("close", () => upgraded.delete(socket));
      const path = new URL(request.url ?? "/", "http://gateway").pathname;
      const service = serviceFor(path);
      if (!service?.upgrade) return void socket.destroy();
      service.upgrade(request, socket, head, path.slice(service.prefix.length) || "/");
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  }

  await start();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    rpcCalls,
    start,
    async stop() {
      const running = server;
      server = undefined;
      if (!running) return;
      running.closeAllConnections();
      for (const socket of upgraded) socket.destroy();
      running.close();
      await once(running, "close").catch(() => {});
    },
  };
}

/** Streams the request to the function and its answer back; a function that is down is a 503, as on Supabase. */
function proxy(request: IncomingMessage, response: ServerResponse, target: string): void {
  const upstream = httpRequest(target, { method: request.method, headers: request.headers }, (reply) => {
    response.writeHead(reply.statusCode ?? 502, reply.headers);
    reply.pipe(response);
  });
  upstream.on("error", () => {
    if (response.headersSent) return void response.destroy();
    response.writeHead(503, { "content-type": "application/json" });
    response.end(JSON.stringify({ code: "BOOT_ERROR", message: "Function failed to start (please check logs)" }));
  });
  request.pipe(upstream);
}
