// The embed API: `ChatWidget.boot({ supabaseUrl, publishableKey, projectId })`, called from the
// onload of the one async script tag (see widget/README.md), as Chatwoot's sdk.run() is.
import { type ChatSettings, connectChat } from "./chat.ts";
import { createStore } from "./state.ts";
import { mountView } from "./view.ts";

export type WidgetSettings = ChatSettings & {
  /** The panel's heading (default "Chat with us"). */
  title?: string;
  /** Open the panel at once (default: closed until the visitor clicks). */
  open?: boolean;
};

declare global {
  interface Window {
    ChatWidget?: { boot(settings: WidgetSettings): void };
  }
}

let booted = false;

function boot(settings: WidgetSettings): void {
  for (const name of ["supabaseUrl", "publishableKey", "projectId"] as const) {
    if (typeof settings?.[name] !== "string" || !settings[name]) throw new Error(`ChatWidget.boot: "${name}" is required`);
  }
  if (booted) return;
  booted = true;
  const store = createStore();
  const chat = connectChat(settings, store);
  mountView(store, { send: (content) => void chat.send(content), retry: (id) => void chat.retry(id) }, settings.title ?? "Chat with us");
  if (settings.open) store.setOpen(true);
  void chat.restore();
}

window.ChatWidget = { boot };
