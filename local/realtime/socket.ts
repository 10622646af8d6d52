// One Realtime WebSocket connection, as Phoenix runs it for Supabase Realtime (supabase/realtime
// lib/realtime_web/channels/realtime_channel.ex; Phoenix.Socket): frames handled in order,
// heartbeat on "phoenix", phx_join / phx_leave, broadcast, presence and access_token per channel.
import type { WebSocket } from "ws";
import type pg from "pg";
import type { ApiKeys } from "../api-keys.ts";
import { canWrite } from "./authorization.ts";
import type { Hub } from "./hub.ts";
import { type Channel, type JoinContext, joinChannel, refreshToken } from "./join.ts";
import { type BroadcastPush, decodeBinary, decodeText, encodeText, type Frame } from "./serializer.ts";

export type SocketContext = { hub: Hub; pool: pg.Pool; keys: ApiKeys; log: (line: string) => void };

export function serveSocket(ws: WebSocket, apiKey: string, context: SocketContext): void {
  const channels = new Map<string, Channel>();
  let queue = Promise.resolve();

  const push: JoinContext["push"] = (frame) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeText(frame));
  };
  const sendBinary = (bytes: Buffer) => {
    if (ws.readyState === ws.OPEN) ws.send(bytes);
  };
  const reply = (request: Frame, status: "ok" | "error", response: unknown) =>
    push({ joinRef: request.joinRef, ref: request.ref, topic: request.topic, event: "phx_reply", payload: { status, response } });

  const leave = (topic: string) => {
    const channel = channels.get(topic);
    if (!channel) return;
    channel.close();
    channels.delete(topic);
  };

  const joinContext: JoinContext = { ...context, apiKey, push, sendBinary, leave };

  async function handle(frame: Frame | BroadcastPush, binary: boolean): Promise<void> {
    if (binary) return broadcast(frame as BroadcastPush);
    const request = frame as Frame;
    const payload = (request.payload ?? {}) as Record<string, unknown>;
    if (request.topic === "phoenix" && request.event === "heartbeat") return reply(request, "ok", {});
    if (request.event === "phx_join") {
      leave(request.topic); // a second join on a topic replaces the first, as in Phoenix
      const joined = await joinChannel(joinContext, request, payload);
      if ("reason" in joined) return reply(request, "error", { reason: joined.reason });
      channels.set(request.topic, joined.channel);
      reply(request, "ok", joined.response);
      return joined.afterReply();
    }
    const channel = channels.get(request.topic);
    if (!channel) return reply(request, "error", { reason: "unmatched topic" });
    switch (request.event) {
      case "phx_leave":
        leave(request.topic);
        return reply(request, "ok", {});
      case "broadcast":
        return broadcast({
          joinRef: request.joinRef,
          ref: request.ref,
          topic: request.topic,
          event: typeof payload.event === "string" ? payload.event : "",
          meta: null,
          payload: { encoding: "json", value: payload.payload ?? {} },
        });
      case "presence":
        // The widget does not use Presence; say so rather than pretend.
        return reply(request, "error", { reason: "Presence is not in the local stand-in" });
      case "access_token":
        return refreshToken(joinContext, channel, payload.access_token);
      default:
        return; // realtime_channel.ex: unexpected messages are logged and ignored
    }
  }

  /** BroadcastHandler: to the other members (and self if asked), ack if asked; private needs write. */
  async function broadcast(message: BroadcastPush): Promise<void> {
    const channel = channels.get(message.topic);
    if (!channel) return push({ joinRef: message.joinRef, ref: message.ref, topic: message.topic, event: "phx_reply", payload: { status: "error", response: { reason: "unmatched topic" } } });
    if (channel.private) {
      channel.canWrite ??= await canWrite(context.pool, { topic: channel.name, role: channel.identity.role, claims: channel.identity.claims });
      if (!channel.canWrite) return; // silently dropped, no ack (broadcast_handler.ex)
    }
    for (const member of context.hub.members(channel.name, channel.private)) {
      if (member === channel && !channel.self) continue;
      member.sendBroadcast(message.event, message.payload, message.meta);
    }
    if (channel.ack) push({ joinRef: message.joinRef, ref: message.ref, topic: message.topic, event: "phx_reply", payload: { status: "ok", response: {} } });
  }

  ws.on("message", (data: Buffer, isBinary: boolean) => {
    queue = queue.then(async () => {
      try {
        await handle(isBinary ? decodeBinary(data) : decodeText(data.toString("utf8")), isBinary);
      } catch (error) {
        context.log(`socket: ${(error as Error).message}`);
      }
    });
  });
  ws.on("close", () => {
    for (const topic of [...channels.keys()]) leave(topic);
  });
  ws.on("error", () => {});
}
