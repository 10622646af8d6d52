// The visitor's side of the conversation on supabase-js, as the README shows it: an anonymous
// sign-in, one conversation, its history, its private Realtime channel (its rows, and the AI's
// typing indicator and text as it is written), and inserts.
// RLS decides everything: the widget reads nothing it is not allowed to, and never projects.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import type { MessageRow, ReplyEvent, Store } from "./state.ts";

export type ChatSettings = {
  /** The Supabase project URL (https://<ref>.supabase.co). */
  supabaseUrl: string;
  /** The project's publishable key (sb_publishable_...) or legacy anon key. */
  publishableKey: string;
  /** The row of public.projects this website is. */
  projectId: string;
};

export type Chat = {
  /** After a reload: the visitor's session and conversation, if any, with its history (a failure shows as a problem). */
  restore(): Promise<void>;
  /** Sends a new message; resolves when it is stored or has failed (never throws). */
  send(content: string): Promise<void>;
  /** Sends a failed message again. */
  retry(id: string): Promise<void>;
};

const HISTORY_LIMIT = 100;
// postgrest-js reports a network failure as an error without a code ("TypeError: Failed to fetch").
const unreachable = "could not reach the chat service. Check your connection and retry.";
const columns = "id, sender_id, from_customer, content, created_at, reply_to";

export function connectChat(settings: ChatSettings, store: Store): Chat {
  const supabase: SupabaseClient = createClient(settings.supabaseUrl, settings.publishableKey, {
    // Our own storage key, so that a host page using supabase-js keeps its own session, and
    // the host page's URL is never read for auth redirects.
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, storageKey: "chat-widget.auth" },
  });
  const remembered = rememberedConversation(`chat-widget.conversation.${settings.projectId}`);
  let conversationId: string | undefined;
  let starting: Promise<string> | undefined;
  let restoring: Promise<void> = Promise.resolve();
  let typed = 0;

  async function visitorId(): Promise<string> {
    const { data: { session } } = await supabase.auth.getSession();
    if (session) return session.user.id;
    const { data, error } = await supabase.auth.signInAnonymously();
    if (error?.name === "AuthRetryableFetchError") throw new Error(unreachable);
    if (error || !data.user) throw new Error(error?.message ?? "could not start the chat.");
    return data.user.id;
  }

  async function startConversation(): Promise<string> {
    const visitor = await visitorId();
    const { data, error } = await supabase
      .from("conversations")
      .insert({ project_id: settings.projectId, visitor_id: visitor })
      .select("id")
      .single();
    if (error) throw new Error(error.code ? error.message : unreachable);
    const id = (data as { id: string }).id;
    remembered.set(id);
    await follow(id);
    return id;
  }

  /** The conversation, started on the first message (so a page view alone creates nothing). */
  async function conversation(): Promise<string> {
    // A message typed during a reload's restore joins the restored conversation.
    await restoring.catch(() => {});
    if (!conversationId && remembered.get()) await (restoring = restore());
    if (conversationId) return conversationId;
    starting ??= startConversation().finally(() => (starting = undefined));
    return starting;
  }

  async function follow(id: string): Promise<void> {
    conversationId = id;
    store.setConnection("connecting");
    // The channel is private (RLS on realtime.messages): it must join with the visitor's token,
    // which supabase-js 2.119 may not have handed to Realtime yet unless asked first.
    await supabase.realtime.setAuth();
    const replyEvent = (event: ReplyEvent["event"]) => ({ payload }: { payload: unknown }) =>
      store.replyEvent({ event, payload } as ReplyEvent);
    supabase
      .channel(`conversation:${id}`, { config: { private: true } })
      // Broadcast from Database: every new message of the conversation (the AI's reply too).
      .on("broadcast", { event: "INSERT" }, ({ payload }) => store.receive([(payload as { record: MessageRow }).record]))
      .on("broadcast", { event: "typing" }, replyEvent("typing"))
      .on("broadcast", { event: "preview" }, replyEvent("preview"))
      .on("broadcast", { event: "preview_end" }, replyEvent("preview_end"))
      .subscribe((status) => {
        // Each (re)join: catch up on what was written while we were not subscribed.
        if (status === "SUBSCRIBED") void catchUp(id).then(() => store.setConnection("live"));
        else if (status === "CHANNEL_ERROR" || status === "TIMED_OUT") store.setConnection("reconnecting");
      });
  }

  async function catchUp(id: string): Promise<void> {
    const since = store.lastCreatedAt();
    let query = supabase.from("messages").select(columns).eq("conversation_id", id);
    if (since) query = query.gte("created_at", since);
    // The latest page, newest first from the server, shown oldest first.
    const { data, error } = await query.order("created_at", { ascending: false }).limit(HISTORY_LIMIT);
    if (error) return store.setProblem(`Could not load the conversation: ${error.message}`);
    store.setProblem(undefined);
    store.receive(((data ?? []) as MessageRow[]).reverse());
  }

  async function deliver(localId: string, content: string): Promise<void> {
    store.sending(localId, content);
    try {
      const conversation_id = await conversation();
      const { data: { session } } = await supabase.auth.getSession();
      const { data, error } = await supabase
        .from("messages")
        .insert({ conversation_id, sender_id: session?.user.id, from_customer: true, content })
        .select(columns)
        .single();
      if (error) return store.failed(localId, error.code ? error.message : unreachable);
      store.sent(localId, data as MessageRow);
    } catch (error) {
      store.failed(localId, error instanceof Error ? error.message : String(error));
    }
  }

  /** Follows the stored conversation if RLS confirms it is the visitor's; forgets it if not. */
  async function restore(): Promise<void> {
    const stored = remembered.get();
    const { data: { session } } = await supabase.auth.getSession();
    if (!stored || !session || conversationId) return;
    const { data, error, status } = await supabase
      .from("conversations").select("id").eq("id", stored).eq("visitor_id", session.user.id).maybeSingle();
    if (status === 401) {
      // A session the project no longer accepts (its JWT secret changed): start afresh.
      remembered.forget();
      return void (await supabase.auth.signOut({ scope: "local" }));
    }
    // Unreachable: keep the stored id (the next send tries again) rather than start a second conversation.
    if (error) throw new Error(error.code ? error.message : unreachable);
    if (!data) return remembered.forget();
    if (!conversationId) await follow(stored);
  }

  return {
    restore: () => (restoring = restore()).catch((error: Error) => store.setProblem(`Could not load the conversation: ${error.message}`)),
    send: (content) => deliver(`local-${++typed}`, content),
    async retry(id) {
      const message = store.get().messages.find((m) => m.id === id);
      if (message?.delivery === "failed") await deliver(id, message.content);
    },
  };
}

/** The conversation id in localStorage; a browser that blocks storage just starts afresh each page. */
function rememberedConversation(key: string) {
  const attempt = <T>(use: () => T): T | null => {
    try {
      return use();
    } catch {
      return null;
    }
  };
  return {
    get: () => attempt(() => localStorage.getItem(key)),
    set: (id: string) => void attempt(() => localStorage.setItem(key, id)),
    forget: () => void attempt(() => localStorage.removeItem(key)),
  };
}
