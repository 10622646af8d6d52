// The widget's state: the conversation's messages keyed by id (so a row that arrives twice,
// from history and from Realtime, is shown once), each visitor message's delivery, and the
// connection. No DOM and no network here: view.ts renders it, chat.ts feeds it.

/** A row of public.messages as PostgREST and Realtime deliver it. */
export type MessageRow = { id: string; sender_id: string; from_customer: boolean; content: string; created_at: string };

export type Author = "visitor" | "ai" | "agent";

export type ChatMessage = {
  id: string;
  author: Author;
  content: string;
  /** The server's created_at; absent until the server has stored it. */
  createdAt?: string;
  delivery: "sending" | "sent" | "failed";
  /** Why a send failed, as the server (or the network) said it. */
  error?: string;
  /** When this browser sent it (ms), for the "we usually reply" note. */
  sentAt?: number;
};

export type Connection = "offline" | "connecting" | "live" | "reconnecting";

export type ChatState = {
  messages: ChatMessage[];
  connection: Connection;
  open: boolean;
  /** A problem that is not one message's (e.g. the visitor could not be signed in). */
  problem?: string;
};

export type Store = {
  get(): ChatState;
  onChange(listener: () => void): void;
  receive(rows: MessageRow[]): void;
  /** A message the visitor typed, under a local id until the server gives it its own. */
  sending(localId: string, content: string): void;
  sent(localId: string, row: MessageRow): void;
  failed(localId: string, error: string): void;
  setConnection(connection: Connection): void;
  setOpen(open: boolean): void;
  setProblem(problem: string | undefined): void;
  /** The created_at of the newest message the server has shown us, to catch up from. */
  lastCreatedAt(): string | undefined;
};

export const AI_SENDER = "AI_BOT";

export function authorOf(row: Pick<MessageRow, "sender_id" | "from_customer">): Author {
  if (row.from_customer) return "visitor";
  return row.sender_id === AI_SENDER ? "ai" : "agent";
}

/** A human agent has written in the conversation (which hands it over from the AI). */
export const agentJoined = (state: ChatState) => state.messages.some((m) => m.author === "agent");

/** Sort key with microseconds: PostgreSQL timestamps are finer than Date's milliseconds. */
export function timeKey(createdAt: string): number {
  const iso = createdAt.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00");
  const micros = /\.\d{3}(\d{1,3})/.exec(iso)?.[1]?.padEnd(3, "0") ?? "000";
  return Date.parse(iso) * 1000 + Number(micros);
}

const fromRow = (row: MessageRow): ChatMessage => ({
  id: row.id,
  author: authorOf(row),
  content: row.content,
  createdAt: row.created_at,
  delivery: "sent",
});

export function createStore(): Store {
  const byId = new Map<string, ChatMessage>();
  let state: ChatState = { messages: [], connection: "offline", open: false };
  const listeners: (() => void)[] = [];

  const commit = (change: Partial<ChatState>) => {
    state = { ...state, ...change };
    for (const listener of listeners) listener();
  };
  // Server rows by time; messages the server has not echoed yet stay last, in the order typed.
  const ordered = () => {
    const all = [...byId.values()];
    const confirmed = all.filter((m) => m.createdAt !== undefined);
    confirmed.sort((a, b) => timeKey(a.createdAt!) - timeKey(b.createdAt!) || a.id.localeCompare(b.id));
    return [...confirmed, ...all.filter((m) => m.createdAt === undefined)];
  };
  const pendingWith = (content: string) =>
    [...byId.values()].find((m) => m.delivery === "sending" && m.createdAt === undefined && m.content === content);
  const update = (id: string, change: Partial<ChatMessage>) => {
    const message = byId.get(id);
    if (!message) return;
    byId.set(id, { ...message, ...change });
    commit({ messages: ordered() });
  };

  return {
    get: () => state,
    onChange: (listener) => void listeners.push(listener),
    receive(rows) {
      if (rows.length === 0) return;
      for (const row of rows) {
        const known = byId.get(row.id);
        // The visitor's own row may come back (over Realtime) before its insert has answered.
        const typed = known ? undefined : row.from_customer ? pendingWith(row.content) : undefined;
        if (typed) byId.delete(typed.id);
        byId.set(row.id, { ...fromRow(row), sentAt: known?.sentAt ?? (typed ? Date.now() : undefined) });
      }
      commit({ messages: ordered() });
    },
    sending(localId, content) {
      byId.set(localId, { id: localId, author: "visitor", content, delivery: "sending" });
      commit({ messages: ordered() });
    },
    sent(localId, row) {
      byId.delete(localId);
      byId.set(row.id, { ...fromRow(row), sentAt: byId.get(row.id)?.sentAt ?? Date.now() });
      commit({ messages: ordered() });
    },
    failed: (id, error) => {
      if (byId.get(id)?.delivery === "sending") update(id, { delivery: "failed", error });
    },
    setConnection: (connection) => connection !== state.connection && commit({ connection }),
    setOpen: (open) => commit({ open }),
    setProblem: (problem) => commit({ problem }),
    lastCreatedAt() {
      const confirmed = state.messages.filter((m) => m.createdAt !== undefined);
      return confirmed[confirmed.length - 1]?.createdAt;
    },
  };
}
