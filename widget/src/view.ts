// Renders the widget's state into a Shadow DOM, so that the host page's CSS and ours never
// meet. Accessible by construction: a log of messages, a labelled textarea, a Send button.
import { agentJoined, type ChatMessage, type ChatState, type ReplyPreview, type Store, timeKey } from "./state.ts";
import { styles } from "./styles.ts";

export type ViewActions = { send(content: string): void; retry(id: string): void };

/** How long a visitor waits for an answer before we say how long answers take. */
const REPLY_NOTICE_MS = 8000;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { attrs?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const { attrs, ...rest } = props;
  const element = Object.assign(document.createElement(tag), rest);
  for (const [name, value] of Object.entries(attrs ?? {})) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

export function mountView(store: Store, actions: ViewActions, title: string): void {
  const host = h("div", { attrs: { "data-chat-widget": "" } });
  // Open, so that the host page's tests (and assistive tools) can reach inside.
  const root = host.attachShadow({ mode: "open" });
  const launcher = h("button", { className: "launcher", type: "button", textContent: "Chat with us" });
  const log = h("div", { className: "log", attrs: { role: "log", "aria-label": "Messages" } });
  const banner = h("p", { className: "banner", attrs: { role: "status" } });
  const alert = h("p", { className: "alert", attrs: { role: "alert" } });
  const note = h("p", { className: "note" });
  const textarea = h("textarea", { id: "message", rows: 2, placeholder: "Type your message…" });
  const form = h(
    "form",
    {},
    h("label", { htmlFor: "message", className: "visually-hidden", textContent: "Your message" }),
    textarea,
    h("button", { type: "submit", textContent: "Send" }),
  );
  const close = h("button", { className: "close", type: "button", textContent: "×", attrs: { "aria-label": "Close chat" } });
  const panel = h(
    "section",
    { className: "panel", attrs: { "aria-label": title } },
    h("header", {}, h("h2", { textContent: title }), close),
    banner,
    log,
    note,
    alert,
    form,
  );
  root.append(h("style", { textContent: styles }), panel, launcher);
  document.body.append(host);

  launcher.addEventListener("click", () => store.setOpen(!store.get().open));
  close.addEventListener("click", () => store.setOpen(false));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = textarea.value.trim();
    if (!content) return;
    textarea.value = ""; // what was typed now lives in the log, with Retry if it fails
    actions.send(content);
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  const render = () => {
    const state = store.get();
    const wasOpen = !panel.hidden;
    panel.hidden = !state.open;
    launcher.setAttribute("aria-expanded", String(state.open));
    launcher.textContent = state.open ? "Hide chat" : "Chat with us";
    if (state.open && !wasOpen) textarea.focus();

    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.replaceChildren(...state.messages.map((m) => messageView(m, actions)), ...state.previews.map(previewView));
    if (atBottom) log.scrollTop = log.scrollHeight;

    const human = agentJoined(state);
    banner.textContent = human ? "An agent has joined the conversation." : "";
    banner.hidden = !human;
    alert.textContent = state.problem ?? (state.connection === "reconnecting" ? "Connection lost. Reconnecting…" : "");
    alert.hidden = !alert.textContent;

    clearTimeout(noticeTimer);
    const waitingSince = state.previews.length > 0 ? undefined : awaitingReplySince(state);
    const due = waitingSince !== undefined && Date.now() - waitingSince >= REPLY_NOTICE_MS;
    note.textContent = due ? (human ? "An agent will reply soon." : "We usually reply in a few minutes.") : "";
    note.hidden = !due;
    if (waitingSince !== undefined && !due) noticeTimer = setTimeout(render, waitingSince + REPLY_NOTICE_MS - Date.now());
  };
  store.onChange(render);
  render();
}

/** When the visitor's last message was sent, if nobody has answered it yet. */
function awaitingReplySince(state: ChatState): number | undefined {
  const last = state.messages[state.messages.length - 1];
  if (!last || last.author !== "visitor" || last.delivery !== "sent") return undefined;
  return last.sentAt ?? (last.createdAt ? timeKey(last.createdAt) / 1000 : undefined);
}

/** An AI reply being written: "typing", then its text so far (replaced by the reply itself). */
function previewView(preview: ReplyPreview): HTMLElement {
  const item = h("article", { className: "message ai preview", attrs: { "aria-busy": "true" } });
  item.append(h("span", { className: "badge", title: "Automatic reply", textContent: "AI" }));
  if (preview.text !== undefined) item.append(h("p", { className: "text", textContent: preview.text }));
  item.append(h("span", { className: "status", textContent: preview.text === undefined ? "AI is typing…" : "Writing…" }));
  return item;
}

function messageView(message: ChatMessage, actions: ViewActions): HTMLElement {
  const item = h("article", { className: `message ${message.author} ${message.delivery}` });
  if (message.author === "ai") item.append(h("span", { className: "badge", title: "Automatic reply", textContent: "AI" }));
  if (message.author === "agent") item.append(h("span", { className: "badge agent", textContent: "Agent" }));
  item.append(h("p", { className: "text", textContent: message.content }));
  if (message.delivery === "sending") item.append(h("span", { className: "status", textContent: "Sending…" }));
  if (message.delivery === "failed") {
    const retry = h("button", { type: "button", textContent: "Retry" });
    retry.addEventListener("click", () => actions.retry(message.id));
    item.append(h("span", { className: "status", textContent: `Not sent: ${message.error ?? "unknown error"} ` }), retry);
  }
  return item;
}
