// A customer's website for the chat widget: serves widget/demo/index.html (with the stack's
// URL, publishable key and project id filled in) and the widget bundle, on its own port, so
// that the browser talks to the API gateway cross-origin, as on a real site.
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { widgetBundlePath } from "../widget/build.ts";

const demoPage = join(import.meta.dirname, "..", "widget", "demo", "index.html");

export type DemoSiteOptions = {
  /** 0: a free port. */
  port: number;
  supabaseUrl: string;
  publishableKey: string;
  projectId: string;
};

export type DemoSite = { url: string; stop(): Promise<void> };

export async function startDemoSite(options: DemoSiteOptions): Promise<DemoSite> {
  const settings = {
    "%SUPABASE_URL%": options.supabaseUrl,
    "%PUBLISHABLE_KEY%": options.publishableKey,
    "%PROJECT_ID%": options.projectId,
  };
  // The values go inside a quoted JS string in an HTML attribute: allow only what URLs, keys and uuids use.
  for (const [name, value] of Object.entries(settings)) {
    if (!/^[\w.:/-]+$/.test(value)) throw new Error(`demo site: unexpected characters in ${name}: ${value}`);
  }

  const server: Server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://demo").pathname;
    try {
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.writeHead(405).end();
      } else if (path === "/" || path === "/index.html") {
        let page = await readFile(demoPage, "utf8");
        for (const [placeholder, value] of Object.entries(settings)) page = page.replaceAll(placeholder, value);
        response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(page);
      } else if (path === "/chat-widget.js") {
        // Read on each request, so that a rebuilt bundle is served without a restart.
        const bundle = await readFile(widgetBundlePath);
        response.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" }).end(bundle);
      } else {
        response.writeHead(404, { "content-type": "text/plain" }).end("Not found");
      }
    } catch (error) {
      response.writeHead(500, { "content-type": "text/plain" }).end(`demo site: ${(error as Error).message}`);
    }
  });
  server.listen(options.port, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async stop() {
      server.closeAllConnections();
      server.close();
      await once(server, "close").catch(() => {});
    },
  };
}
