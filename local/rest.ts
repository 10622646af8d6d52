// Stands in for PostgREST's table endpoints (/rest/v1/<table>): TO BE BUILT.
import type pg from "pg";
import type { ApiKeys } from "./api-keys.ts";
import type { ApiService } from "./gateway.ts";

export type RestOptions = {
  /** Connections as authenticator, the role PostgREST logs in as. */
  pool: pg.Pool;
  keys: ApiKeys;
};

export function createRestService(_options: RestOptions): ApiService {
  return {
    prefix: "/rest/v1",
    async handle(_request, response) {
      response.writeHead(400, { "content-type": "application/json" });
      response.end(JSON.stringify({ code: "PGRST000", details: null, hint: null, message: "not in the local stand-in yet" }));
    },
  };
}
