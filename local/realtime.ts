// Stands in for Supabase Realtime (/realtime/v1): TO BE BUILT.
import type { ApiKeys } from "./api-keys.ts";
import type { ApiService } from "./gateway.ts";

export type RealtimeOptions = {
  /** Connection string as supabase_realtime_admin (REPLICATION; member of the API roles). */
  databaseUrl: string;
  keys: ApiKeys;
  log?: (line: string) => void;
};

/** The service, which tests can stop (every socket dropped, nothing served) and start again. */
export type Realtime = ApiService & { stop(): Promise<void>; start(): Promise<void> };

export async function startRealtime(_options: RealtimeOptions): Promise<Realtime> {
  return {
    prefix: "/realtime/v1",
    async handle(_request, response) {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: "not in the local stand-in yet" }));
    },
    async stop() {},
    async start() {},
  };
}
