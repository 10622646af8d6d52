// Realtime's REST broadcast (supabase/realtime lib/realtime_web/router.ex; controllers/
// broadcast_controller.ex and broadcast_single_controller; tenants/batch_broadcast.ex; plugs/
// auth_tenant.ex): POST /api/broadcast {messages:[{topic,event,payload,private}]} and POST
// /api/broadcast/<topic>/events/<event>[?private=true] with the raw payload, both 202. Private
// messages need INSERT on realtime.messages for the topic (service_role bypasses RLS).
import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import type { ApiKeys } from "../api-keys.ts";
import { ApiAuthError, bearerOf, identify, type Identity } from "../api-request.ts";
import { canWrite } from "./authorization.ts";
import { broadcastToTopic, type Hub } from "./hub.ts";

const MAX_BODY_BYTES = 1024 * 1024;

type Message = { topic: string; event: string; payload: unknown; private: boolean };

export async function handleBroadcastApi(request: IncomingMessage, response: ServerResponse, path: string, context: { hub: Hub; pool: pg.Pool; keys: ApiKeys }): Promise<void> {
  const send = (status: number, body?: unknown) => {
    response.writeHead(status, body === undefined ? {} : { "content-type": "application/json; charset=utf-8" });
    response.end(body === undefined ? "" : JSON.stringify(body));
  };
  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(path);
  if (request.method !== "POST" || (path !== "/api/broadcast" && !single)) return send(404, { message: "Not found" });

  // Kong's key check first, then Realtime's own (AuthTenant: a token with role and exp).
  let identity: Identity;
  try {
    const apiKey = header(request, "apikey");
    identity = await identify(context.keys, apiKey, bearerOf(header(request, "authorization")));
  } catch (error) {
    if (!(error instanceof ApiAuthError)) throw error;
    if (error.code === null) return send(error.status, { message: error.message });
    return send(401, { message: "Unauthorized" });
  }

  const body = await readBody(request);
  if (body === null) return send(413, { message: "Payload Too Large" });
  let messages: Message[];
  try {
    const parsed: unknown = body.length ? JSON.parse(body) : {};
    messages = single
      ? [{ topic: decodeURIComponent(single[1]!), event: decodeURIComponent(single[2]!), payload: parsed, private: new URL(request.url ?? "/", "http://x").searchParams.get("private") === "true" }]
      : validateBatch(parsed);
  } catch (error) {
    return send(422, { errors: { messages: [(error as Error).message] } });
  }

  const writable = new Map<string, boolean>();
  for (const message of messages) {
    if (message.private && identity.role !== "service_role") {
      if (!writable.has(message.topic)) writable.set(message.topic, await canWrite(context.pool, { topic: message.topic, role: identity.role, claims: identity.claims }));
      if (!writable.get(message.topic)) continue; // batch_broadcast.ex: skipped, still 202
    }
    broadcastToTopic(context.hub, message.topic, message.private, message.event, { encoding: "json", value: message.payload }, null);
  }
  send(202);
}

function validateBatch(body: unknown): Message[] {
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new Error("can't be blank");
  return messages.map((m: Record<string, unknown>) => {
    for (const field of ["topic", "event", "payload"]) if (m?.[field] === undefined || m[field] === null) throw new Error(`${field}: can't be blank`);
    if (typeof m.topic !== "string" || typeof m.event !== "string" || typeof m.payload !== "object") throw new Error("is invalid");
    return { topic: m.topic, event: m.event, payload: m.payload, private: m.private === true };
  });
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
