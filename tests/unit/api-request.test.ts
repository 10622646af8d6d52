import { describe, expect, it } from "vitest";
import { ApiAuthError, bearerOf, identify, loadRoleSettings, transactionPrelude } from "../../local/api-request.ts";
import { makeApiKeys, signJwt } from "../../local/api-keys.ts";
import type pg from "pg";

const keys = await makeApiKeys();
const refusal = (promise: Promise<unknown>) => promise.then(() => null, (error: unknown) => error as ApiAuthError);

describe("identify: one request, one identity", () => {
  it("refuses a request without an API key, or with one that is not the project's, with PostgREST's JSON", async () => {
    const missing = await refusal(identify(keys, undefined, undefined));
    expect(missing).toBeInstanceOf(ApiAuthError);
    expect(missing!.status).toBe(401);
    expect(missing!.body).toEqual({ code: null, details: null, hint: "No `apikey` request header or url param was found.", message: "No API key found in request" });
    const wrong = await refusal(identify(keys, "sb_publishable_wrong", undefined));
    expect(wrong!.body).toEqual({ code: null, details: null, hint: "Double check your Supabase `anon` or `service_role` API key.", message: "Invalid API key" });
  });

  it("gives an API key's role when there is no bearer, or when the bearer is itself an API key", async () => {
    expect(await identify(keys, keys.publishableKey, undefined)).toEqual({ role: "anon", claims: { role: "anon" } });
    expect(await identify(keys, keys.publishableKey, keys.secretKey)).toEqual({ role: "service_role", claims: { role: "service_role" } });
  });

  it("takes role and claims from a valid JWT, and refuses a bad one with its PostgREST code", async () => {
    const token = await signJwt({ role: "authenticated", sub: "u-1", is_anonymous: true }, keys.jwtSecret);
    expect(await identify(keys, keys.publishableKey, token)).toEqual({ role: "authenticated", claims: { role: "authenticated", sub: "u-1", is_anonymous: true } });
    const forged = await refusal(identify(keys, keys.publishableKey, await signJwt({ role: "service_role" }, "another-secret-of-enough-length")));
    expect(forged!.status).toBe(401);
    expect(forged!.body).toEqual({ code: "PGRST301", details: null, hint: null, message: "JWT cryptographic operation failed" });
  });
});

describe("bearerOf", () => {
  it("reads the token of a Bearer header, in any case, and nothing else", () => {
    expect(bearerOf("Bearer abc.def")).toBe("abc.def");
    expect(bearerOf("bearer abc")).toBe("abc");
    expect(bearerOf("Basic abc")).toBeUndefined();
    expect(bearerOf("Bearer ")).toBeUndefined();
    expect(bearerOf("xBearer abc")).toBeUndefined();
    expect(bearerOf(undefined)).toBeUndefined();
  });
});

describe("the transaction prelude", () => {
  it("sets search path, role, the role's own settings, claims, method, path and lower-cased headers, as PostgREST does", () => {
    const settings = new Map([["anon", [["statement_timeout", "3s"]] as [string, string][]]]);
    const sql = transactionPrelude(
      { role: "anon", claims: { role: "anon" } },
      { method: "GET", path: "/rest/v1/messages", headers: { "X-Client-Info": "supabase-js/2", Accept: ["a", "b"], skipped: undefined } },
      settings,
    );
    expect(sql).toBe(
      "select set_config('search_path', '\"public\", \"extensions\"', true), set_config('role', 'anon', true), " +
        "set_config('statement_timeout', '3s', true), set_config('request.jwt.claims', '{\"role\":\"anon\"}', true), " +
        "set_config('request.method', 'GET', true), set_config('request.path', '/rest/v1/messages', true), " +
        "set_config('request.headers', '{\"x-client-info\":\"supabase-js/2\",\"accept\":\"a, b\"}', true)",
    );
    expect(transactionPrelude({ role: "service_role", claims: { role: "service_role" } }, { method: "POST", path: "/", headers: {} }, settings))
      .toBe(
        "select set_config('search_path', '\"public\", \"extensions\"', true), set_config('role', 'service_role', true), " +
          "set_config('request.jwt.claims', '{\"role\":\"service_role\"}', true), set_config('request.method', 'POST', true), " +
          "set_config('request.path', '/', true), set_config('request.headers', '{}', true)",
      );
  });

  it("reads each role's settings, split at the first =", async () => {
    const pool = { query: async () => ({ rows: [{ role: "anon", setting: "statement_timeout=3s" }, { role: "anon", setting: "search_path=a=b" }, { role: "authenticated", setting: "statement_timeout=8s" }] }) };
    const settings = await loadRoleSettings(pool as unknown as pg.Pool);
    expect([...settings]).toEqual([["anon", [["statement_timeout", "3s"], ["search_path", "a=b"]]], ["authenticated", [["statement_timeout", "8s"]]]]);
  });
});
