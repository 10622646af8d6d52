// A channel join and token refresh as Supabase Realtime answers them (supabase/realtime
// lib/realtime_web/channels/realtime_channel.ex join/3, handle_in("access_token"),
// handle_info(:postgres_subscribe), handle_info(:confirm_token), shutdown_response/2).
import type pg from "pg";
import type { ApiKeys } from "../api-keys.ts";
import { canRead } from "./authorization.ts";
import type { Hub, JoinedChannel } from "./hub.ts";
import { encodeBroadcast, type Frame } from "./serializer.ts";
import { bindingId, parseSubscriptionParams, type SubscriptionParams } from "./subscription-params.ts";
import { subscribe } from "./subscriptions.ts";
import { type ChannelIdentity, verifyAccessToken } from "./tokens.ts";

export type Push = (frame: Frame) => void;
export type JoinContext = {
  hub: Hub;
  pool: pg.Pool;
  keys: ApiKeys;
  log: (line: string) => void;
  apiKey: string;
  push: Push;
  sendBinary: (bytes: Buffer) => void;
  /** Forgets the channel on its socket (after a shutdown). */
  leave: (topic: string) => void;
};
export type Channel = JoinedChannel & { close(): void; watchExpiry(): void; resubscribe(): Promise<void> };

type Config = {
  broadcast?: { ack?: boolean; self?: boolean; replay?: unknown };
  presence?: { enabled?: boolean; key?: string };
  postgres_changes?: Record<string, unknown>[];
  private?: boolean;
};

const MAX_TIMER_MS = 2 ** 31 - 1;

export async function joinChannel(
  context: JoinContext,
  request: Frame,
  payload: Record<string, unknown>,
): Promise<{ reason: string } | { channel: Channel; response: unknown; afterReply(): Promise<void> }> {
  if (!request.topic.startsWith("realtime:")) return { reason: "unmatched topic" };
  const name = request.topic.slice("realtime:".length);
  if (name === "") return { reason: "TopicNameRequired: You must provide a topic name" };
  const config = (typeof payload.config === "object" && payload.config ? payload.config : {}) as Config;
  const isPrivate = config.private === true;
  if (config.broadcast?.replay !== undefined) {
    return { reason: isPrivate ? "UnableToReplayMessages: Replay is not in the local stand-in" : "UnableToReplayMessages: Replay is not allowed for public channels" };
  }
  const identity = await verifyAccessToken(context.keys, context.apiKey, payload.access_token ?? payload.user_token);
  if ("reason" in identity) return identity;
  const readable = isPrivate ? await canRead(context.pool, { topic: name, role: identity.role, claims: identity.claims }) : true;
  if (!readable) return { reason: `Unauthorized: You do not have permissions to read from this Channel topic: ${name}` };

  const rawBindings = Array.isArray(config.postgres_changes) ? config.postgres_changes.filter((p) => p && typeof p === "object") : [];
  const bindings = rawBindings.map((params) => ({ id: bindingId(params), raw: params }));
  const system = (extension: string, status: "ok" | "error", message: string) =>
    context.push({ joinRef: request.joinRef, ref: null, topic: request.topic, event: "system", payload: { extension, status, message, channel: name } });

  let expiryTimer: NodeJS.Timeout | undefined;
  const channel: Channel = {
    topic: request.topic,
    name,
    joinRef: request.joinRef,
    private: isPrivate,
    self: config.broadcast?.self === true,
    ack: config.broadcast?.ack === true,
    identity,
    canRead: readable,
    canWrite: null,
    pgBindings: [],
    sendBroadcast: (event, userPayload, meta) => context.sendBinary(encodeBroadcast(request.topic, event, userPayload, meta)),
    sendPostgresChange: (change) => context.push({ joinRef: null, ref: null, topic: request.topic, event: "postgres_changes", payload: change }),
    close() {
      clearTimeout(expiryTimer);
      context.hub.remove(channel);
      channel.pgBindings = [];
    },
    // confirm_token: when the token expires, the channel shuts down.
    watchExpiry() {
      clearTimeout(expiryTimer);
      const expiresAt = channel.identity.expiresAt;
      if (expiresAt === null) return;
      expiryTimer = setTimeout(() => {
        shutdown(context, channel, `Token has expired ${Math.max(0, Math.floor((Date.now() - expiresAt) / 1000))} seconds ago`);
      }, Math.min(MAX_TIMER_MS, Math.max(0, expiresAt - Date.now()) + 1000));
    },
    resubscribe: () => subscribePostgres(),
  };
  channel.watchExpiry();
  context.hub.add(channel);

  async function subscribePostgres(): Promise<void> {
    if (bindings.length === 0) return;
    const parsed: { id: number; params: SubscriptionParams }[] = [];
    for (const binding of bindings) {
      const params = parseSubscriptionParams(binding.raw);
      if ("error" in params) return system("postgres_changes", "error", params.error);
      parsed.push({ id: binding.id, params });
    }
    const result = await subscribe(context.pool, parsed, channel.identity.role);
    if ("error" in result) return system("postgres_changes", "error", result.error);
    channel.pgBindings = result;
    system("postgres_changes", "ok", "Subscribed to PostgreSQL");
  }

  return {
    channel,
    response: { postgres_changes: bindings.map((b) => ({ ...b.raw, id: b.id })) },
    async afterReply() {
      if (config.presence?.enabled === true) {
        context.push({ joinRef: request.joinRef, ref: null, topic: request.topic, event: "presence_state", payload: {} });
      }
      await subscribePostgres();
    },
  };
}

/** handle_in("access_token"): an sb_ key, the same token or null change nothing; else verify again. */
export async function refreshToken(context: JoinContext, channel: Channel, token: unknown): Promise<void> {
  if (typeof token !== "string" || token.startsWith("sb_") || token === channel.identity.token) return;
  const identity: ChannelIdentity | { reason: string } = await verifyAccessToken(context.keys, context.apiKey, token);
  if ("reason" in identity) return shutdown(context, channel, identity.reason.replace(/^[A-Za-z]+: /, ""));
  if (channel.private && !(await canRead(context.pool, { topic: channel.name, role: identity.role, claims: identity.claims }))) {
    return shutdown(context, channel, `You no longer have permission to read from this Channel topic: ${channel.name}`);
  }
  channel.identity = identity;
  channel.canWrite = null;
  channel.watchExpiry();
  // The real server subscribes again with the new claims, and says so again.
  await channel.resubscribe();
}

/** shutdown_response/2: a system error, then the channel closes (phx_close). */
function shutdown(context: JoinContext, channel: Channel, message: string): void {
  context.push({ joinRef: channel.joinRef, ref: null, topic: channel.topic, event: "system", payload: { extension: "system", status: "error", message, channel: channel.name } });
  context.leave(channel.topic);
  context.push({ joinRef: channel.joinRef, ref: channel.joinRef, topic: channel.topic, event: "phx_close", payload: {} });
}
