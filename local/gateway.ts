// Stands in for Supabase's API gateway (Kong) on the project URL: /functions/v1/<name> is
// proxied to the function's Deno server (checking a JWT first unless config.toml says
// verify_jwt = false), and /rest/v1/rpc/<fn> is answered like PostgREST's RPC. Nothing else
// of the REST API is served: the function needs only RPC.
import { once } from "node:events";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import { type ApiKeys, roleOfApiKey, verifyJwt } from "./api-keys.ts";
import { createRpcHandler } from "./postgrest-rpc.ts";

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
}): Promise<Gateway> {
  const callRpc = createRpcHandler(options.pool, options.keys);
  const rpcCalls = new Map<string, number>();

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      response.end(body === undefined ? undefined : JSON.stringify(body));
    };
    const path = new URL(request.url ?? "/", "http://gateway").pathname;

    const fn = /^\/functions\/v1\/([^/]+)/.exec(path);
    if (fn) {
      const route = options.functions[fn[1]!];
      if (!route) return send(404, { code: "NOT_FOUND", message: "Requested function was not found" });
      if (route.verifyJwt) {
        const token = /^Bearer (.+)$/i.exec(request.headers.authorization ?? "")?.[1];
        if (!token) return send(401, { code: 401, message: "Missing authorization header" });
        try {
          if (roleOfApiKey(token, options.keys) === null) verifyJwt(token, options.keys.jwtSecret);
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
    send(404, { message: "no Route matched with those values" });
  };

  let server: Server | undefined;
  let port = options.port;
  async function start(): Promise<void> {
    server = createServer((request, response) => {
      handle(request, response).catch((error: Error) => {
        if (!response.headersSent) response.writeHead(500, { "content-type": "application/json" });
        response.end(JSON.stringify({ message: `gateway error: ${error.message}` }));
      });
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
