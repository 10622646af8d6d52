import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoSite, startDemoSite } from "../local/demo-site.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { buildWidgetIfStale } from "../widget/build.ts";
import { browserTestsRun, launchBrowser } from "./browser.ts";
import { agentSays, createProject, marker, messagesOf, waitFor } from "./helpers.ts";

// The chat widget in real Chromium, on the demo customer site (its own origin), against the
// local stack: what a visitor does and sees, located by role and text.
const root = join(import.meta.dirname, "..");
const UI_TIMEOUT = 30_000;

describe.skipIf(!browserTestsRun())("the chat widget on a customer's website", () => {
  let stack: Stack;
  let browser: Browser;
  const sites: DemoSite[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack({ auth: { anonymousSignInsPerHour: 1000 } }), launchBrowser(), buildWidgetIfStale()]);
  });
  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    for (const site of sites) await site.stop();
    await stack?.stop();
  });

  /** A customer's site whose widget talks to a new project (AI on, answering at once). */
  async function newSite(aiEnabled = true): Promise<{ url: string; projectId: string }> {
    const projectId = await createProject(stack.pool, { ai_enabled: aiEnabled, ai_reply_delay_ms: 0 });
    const site = await startDemoSite({ port: 0, supabaseUrl: stack.gatewayUrl, publishableKey: stack.keys.publishableKey, projectId });
    sites.push(site);
    return { url: site.url, projectId };
  }

  /** A visitor's browser: its own storage, as a different person on another computer. */
  async function newVisitor(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on("console", (message) => message.type() === "error" && console.error(`[browser] ${message.text()}`));
    page.on("pageerror", (error) => console.error(`[browser] uncaught: ${error.message}`));
    return page;
  }

  async function openChat(page: Page, url: string): Promise<void> {
    await page.goto(url);
    await page.getByRole("button", { name: "Chat with us" }).click();
  }

  async function send(page: Page, text: string): Promise<void> {
    await page.getByRole("textbox", { name: "Your message" }).fill(text);
    await page.getByRole("button", { name: "Send", exact: true }).click();
  }

  const messages = (page: Page) => page.getByRole("log", { name: "Messages" }).getByRole("article");
  const message = (page: Page, text: string) => messages(page).filter({ hasText: text });
  const visible = (page: Page, text: string) => message(page, text).first().waitFor({ state: "visible", timeout: UI_TIMEOUT });
  const replyTo = (question: string) => `Thanks for your message: "${question}"`; // the stand-in LLM's answer

  it("answers the visitor with an AI reply, and shows the same conversation after a reload", async () => {
    const { url, projectId } = await newSite();
    const page = await newVisitor();
    await openChat(page, url);
    const question = "What time do you open on Sunday?"; // its own project: no marker needed, and a clean screenshot
    await send(page, question);

    await visible(page, replyTo(question));
    const reply = message(page, replyTo(question));
    await expect(reply.getByText("AI", { exact: true }).isVisible()).resolves.toBe(true);
    expect(await messages(page).allInnerTexts()).toHaveLength(2); // the visitor's own insert, echoed by Realtime, shown once

    await mkdir(join(root, "tests", "artifacts"), { recursive: true });
    await mkdir(join(root, "docs"), { recursive: true });
    const screenshot = join(root, "tests", "artifacts", "widget-reply.png");
    await page.locator("[data-chat-widget]").screenshot({ path: screenshot });
    // The README's picture: written when missing or asked for, so that test runs do not churn a committed file.
    const docsPicture = join(root, "docs", "widget.png");
    if (!existsSync(docsPicture) || process.env.UPDATE_DOCS_SCREENSHOT === "1") await copyFile(screenshot, docsPicture);

    await page.reload();
    await page.getByRole("button", { name: "Chat with us" }).click();
    await visible(page, replyTo(question));
    const texts = await messages(page).allInnerTexts();
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain(question);
    expect(texts[1]).toContain(replyTo(question));
    const { rows } = await stack.pool.query("select count(*)::int as n from public.conversations where project_id = $1", [projectId]);
    expect(rows[0].n).toBe(1);
  });

  it("shows the reply as it is written, then the reply itself, once", async () => {
    const { url } = await newSite();
    const page = await newVisitor();
    await openChat(page, url);
    const question = `Tell me everything ${marker()}`;
    const answer = Array.from({ length: 30 }, (_, i) => `part${i}`).join(" ") + ".";
    stack.llm!.script(question, [{ content: answer }]);
    stack.llm!.setPace({ firstTokenMs: 200, tokensPerSecond: 40 }); // about a second and a half of writing
    try {
      await send(page, question);
      const beingWritten = page.getByRole("log", { name: "Messages" }).locator("article[aria-busy=true]");
      const partial = await waitFor("some of the reply, not all of it", async () => {
        const texts = await beingWritten.allInnerTexts();
        return texts.find((text) => text.includes("part0") && !text.includes(answer));
      }, { timeoutMs: UI_TIMEOUT, intervalMs: 20 });
      expect(partial).toContain("Writing…");
      await visible(page, answer);
      await beingWritten.waitFor({ state: "detached", timeout: UI_TIMEOUT });
    } finally {
      stack.llm!.setPace(null);
    }
    const texts = await messages(page).allInnerTexts();
    expect(texts).toHaveLength(2);
    expect(texts[1]).toContain(answer);
    expect(texts[1]).not.toContain("Writing…");
  });

  it("shows another visitor nothing of it, even pointed at its conversation id", async () => {
    const { url, projectId } = await newSite();
    const first = await newVisitor();
    await openChat(first, url);
    const secret = `My address is 1 Baker Street ${marker()}`;
    await send(first, secret);
    await visible(first, replyTo(secret));
    const storageKey = `chat-widget.conversation.${projectId}`;
    const firstConversation = await first.evaluate((key) => localStorage.getItem(key), storageKey);
    expect(firstConversation).toMatch(/^[0-9a-f-]{36}$/);

    // A second visitor, with a conversation of their own, whose browser then claims the first one's.
    const second = await newVisitor();
    await openChat(second, url);
    const hello = `Hello from the second visitor ${marker()}`;
    await send(second, hello);
    await visible(second, replyTo(hello));
    await second.evaluate(([key, id]) => localStorage.setItem(key!, id!), [storageKey, firstConversation]);
    await second.reload();
    await second.getByRole("button", { name: "Chat with us" }).click();
    const own = `Still there? ${marker()}`;
    await send(second, own);
    await visible(second, replyTo(own));

    const texts = await messages(second).allInnerTexts();
    expect(texts).toHaveLength(2);
    expect(texts.join("\n")).not.toContain(secret);
    const secondConversation = await second.evaluate((key) => localStorage.getItem(key), storageKey);
    expect(secondConversation).not.toBe(firstConversation);
    expect((await messagesOf(stack.pool, firstConversation!)).map((m) => m.content)).not.toContain(own);
  });

  it("keeps a refused or failed message visible with Retry, and sends it on Retry", async () => {
    const { url } = await newSite();
    const page = await newVisitor();
    await openChat(page, url);

    const tooLong = `${marker()} ${"x".repeat(4001)}`;
    await send(page, tooLong);
    const refused = message(page, tooLong.slice(0, 40));
    await refused.getByText('new row for relation "messages" violates check constraint "messages_content_length"').waitFor({ timeout: UI_TIMEOUT });
    await refused.getByRole("button", { name: "Retry" }).waitFor({ timeout: UI_TIMEOUT });

    // The API is unreachable: Realtime's sockets first, which the gateway's stop() waits for (see the report).
    await stack.realtime.stop();
    await stack.gateway.stop();
    const unsent = `Is the shop open today? ${marker()}`;
    try {
      await send(page, unsent);
      await message(page, unsent).getByText("Not sent: could not reach the chat service").waitFor({ timeout: UI_TIMEOUT });
      expect(await page.getByRole("textbox", { name: "Your message" }).inputValue()).toBe("");
      await page.getByRole("alert").getByText("Connection lost. Reconnecting…").waitFor({ timeout: UI_TIMEOUT });
    } finally {
      await stack.gateway.start();
      await stack.realtime.start();
    }
    await message(page, unsent).getByRole("button", { name: "Retry" }).click();
    await visible(page, replyTo(unsent));
    await page.getByText("Connection lost. Reconnecting…").waitFor({ state: "detached", timeout: UI_TIMEOUT });
    await waitFor("the retried message to show as sent", async () => (await message(page, unsent).first().innerText()).includes("Not sent") === false);
    await expect(refused.getByRole("button", { name: "Retry" }).isVisible()).resolves.toBe(true);
  });

  it("with the AI off, says when to expect an answer, then shows that an agent has joined", async () => {
    const { url, projectId } = await newSite(false);
    const page = await newVisitor();
    await openChat(page, url);
    const question = `Can I order a wedding cake? ${marker()}`;
    await send(page, question);
    await visible(page, question);
    // Projects are not readable by visitors: the widget only notices that nobody answered yet.
    await page.getByText("We usually reply in a few minutes.").waitFor({ timeout: UI_TIMEOUT });

    const { rows } = await stack.pool.query("select id from public.conversations where project_id = $1", [projectId]);
    await agentSays(stack.pool, rows[0].id, "Hi, this is Alice from the bakery. Yes, we do!");
    const answer = message(page, "Hi, this is Alice from the bakery.");
    await answer.waitFor({ timeout: UI_TIMEOUT });
    await expect(answer.getByText("Agent", { exact: true }).isVisible()).resolves.toBe(true);
    await expect(answer.getByText("AI", { exact: true }).count()).resolves.toBe(0);
    await page.getByRole("status").getByText("An agent has joined the conversation.").waitFor({ timeout: UI_TIMEOUT });
    await expect(page.getByText("We usually reply in a few minutes.").count()).resolves.toBe(0);
  });
});
