// The widget's state: the conversation's messages keyed by id (so a row that arrives twice,
// from history and from Realtime, is shown once), each visitor message's delivery, and the
// connection, and the AI's replies being written (previews, keyed by the visitor message they
// answer, replaced by the reply row). No DOM and no network here: view.ts renders it, chat.ts feeds it.

/** A row of public.messages as PostgREST and Realtime deliver it. */
export type MessageRow = {
  id: string;
  sender_id: string;
  from_customer: boolean;
  content: string;
  created_at: string;
  /** For AI replies: the visitor message answered. */
  reply_to?: string | null;
};

/** The ai-responder's events on the conversation's topic (supabase/functions/ai-responder/broadcast.ts). */
export type ReplyEvent =
  | { event: "typing"; payload: { message_id: string; seq: number; typing: boolean } }
  | { event: "preview"; payload: { message_id: string; seq: number; text: string } }
  | { event: "preview_end"; payload: { message_id: string; seq: number; reason?: string } };

/** An AI reply being written: typing (no text yet) or the text so far. */
export type ReplyPreview = { messageId: string; seq: number; text?: string };

/** A preview that hears nothing more for this long is dropped (its run died; a retry starts afresh). */
export const PREVIEW_TIMEOUT_MS = 15_000;

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
  /** AI replies being written, oldest first. */
  previews: ReplyPreview[];
  open: boolean;
  /** A problem that is not one message's (e.g. the visitor could not be signed in). */
  problem?: string;
};

export type Store = {
  get(): ChatState;
  onChange(listener: () => void): void;
  receive(rows: MessageRow[]): void;
  /** A typing or preview event; older (by seq) and already-answered ones are ignored. */
  replyEvent(event: ReplyEvent): void;
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
  let state: ChatState = { messages: [], connection: "offline", previews: [], open: false };
  const previews = new Map<string, ReplyPreview & { expiry: ReturnType<typeof setTimeout> }>();
  const answered = new Set<string>();
  const lastSeq = new Map<string, number>();
  const dropPreview = (messageId: string) => {
    clearTimeout(previews.get(messageId)?.expiry);
    return previews.delete(messageId);
  };
  const currentPreviews = () => [...previews.values()].map(({ messageId, seq, text }) => ({ messageId, seq, ...(text === undefined ? {} : { text }) }));
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
        // The reply row is the answer: its preview goes, and late events for it are ignored.
        if (row.reply_to) {
          answered.add(row.reply_to);
          dropPreview(row.reply_to);
        }
      }
      commit({ messages: ordered(), previews: currentPreviews() });
    },
    replyEvent({ event, payload }) {
      const id = payload.message_id;
      if (answered.has(id) || payload.seq <= (lastSeq.get(id) ?? -Infinity)) return;
      lastSeq.set(id, payload.seq);
      const ends = event === "preview_end" || (event === "typing" && !payload.typing);
      if (ends) dropPreview(id);
      else {
        // typing (on) opens a run: a retry's starts again from no text.
        const text = event === "preview" ? payload.text : undefined;
        dropPreview(id);
        const expiry = setTimeout(() => {
          if (dropPreview(id)) commit({ previews: currentPreviews() });
        }, PREVIEW_TIMEOUT_MS);
        previews.set(id, { messageId: id, seq: payload.seq, ...(text === undefined ? {} : { text }), expiry });
      }
      commit({ previews: currentPreviews() });
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
