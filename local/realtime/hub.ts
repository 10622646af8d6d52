// The channels joined on every socket, by topic, as Realtime's PubSub topics group them
// (supabase/realtime Tenants.tenant_topic/3: public and private channels of one name are
// different topics, so a public message never reaches a private member and vice versa).
import type { UserPayload } from "./serializer.ts";
import type { PgBinding } from "./subscriptions.ts";
import type { ChannelIdentity } from "./tokens.ts";

export type JoinedChannel = {
  /** "realtime:<name>" */
  topic: string;
  name: string;
  joinRef: string | null;
  private: boolean;
  self: boolean;
  ack: boolean;
  identity: ChannelIdentity;
  /** broadcast.read of a private channel, checked at join (and on token refresh). */
  canRead: boolean;
  /** broadcast.write of a private channel, checked at the first send and cached. */
  canWrite: boolean | null;
  pgBindings: PgBinding[];
  sendBroadcast(event: string, payload: UserPayload, meta: Record<string, unknown> | null): void;
  sendPostgresChange(payload: { ids: number[]; data: Record<string, unknown> }): void;
};

export type Hub = {
  add(channel: JoinedChannel): void;
  remove(channel: JoinedChannel): void;
  members(name: string, isPrivate: boolean): JoinedChannel[];
  all(): JoinedChannel[];
};

export function createHub(): Hub {
  const channels = new Set<JoinedChannel>();
  return {
    add: (channel) => void channels.add(channel),
    remove: (channel) => void channels.delete(channel),
    members: (name, isPrivate) => [...channels].filter((c) => c.name === name && c.private === isPrivate),
    all: () => [...channels],
  };
}

/** A broadcast from the REST API or the database: to every member allowed to read. */
export function broadcastToTopic(hub: Hub, name: string, isPrivate: boolean, event: string, payload: UserPayload, meta: Record<string, unknown> | null): void {
  for (const member of hub.members(name, isPrivate)) if (!isPrivate || member.canRead) member.sendBroadcast(event, payload, meta);
}
