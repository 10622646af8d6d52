import { createClient } from "@supabase/supabase-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signJwt } from "../local/api-keys.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject, startConversation, visitorSays } from "./helpers.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const rpc = (fn: string, body: unknown, headers: Record<string, string>) =>
  fetch(`${stack.gatewayUrl}/rest/v1/rpc/${fn}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("the gateway's PostgREST RPC endpoint", () => {
  it("serves supabase-js rpc() with the new secret key, as the function uses it", async () => {
    const projectId = await createProject(stack.pool, { ai_enabled: false });
    const { visitorId, conversationId } = await startConversation(stack.pool, projectId);
    const messageId = await visitorSays(stack.pool, visitorId, conversationId, "Hello");
    await stack.pool.query("update public.projects set ai_enabled = true where id = $1", [projectId]);
    const supabase = createClient(stack.gatewayUrl, stack.keys.secretKey, { auth: { persistSession: false } });
    const { data, error } = await supabase.rpc("ai_reply_context", { message_id: messageId });
    expect(error).toBeNull();
    expect(data).toMatchObject({ action: "reply", conversation_id: conversationId });
  });

  it("accepts the legacy service_role JWT too", async () => {
    const supabase = createClient(stack.gatewayUrl, stack.keys.serviceRoleKey, { auth: { persistSession: false } });
    const { data, error } = await supabase.rpc("ai_reply_context", { message_id: "00000000-0000-4000-8000-00000000beef" });
    expect(error).toBeNull();
    expect(data).toEqual({ action: "skip", reason: "message_not_found" });
  });

  it("answers 401 without an apikey, as Supabase's gateway does", async () => {
    const response = await rpc("ai_reply_context", { message_id: "00000000-0000-4000-8000-00000000beef" }, {});
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: "No API key found in request" });
  });

  it("answers 401 PGRST301 for a JWT signed with another secret", async () => {
    const forged = await signJwt({ role: "service_role" }, "not-the-project-secret-not-the-project-secret");
    const response = await rpc("ai_reply_context", { message_id: "00000000-0000-4000-8000-00000000beef" }, {
      apikey: stack.keys.anonKey, Authorization: `Bearer ${forged}`,
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: "PGRST301" });
  });

  it("answers 401 with 42501 when anon calls a function granted to service_role only", async () => {
    const response = await rpc("ai_reply_context", { message_id: "00000000-0000-4000-8000-00000000beef" }, {
      apikey: stack.keys.publishableKey, Authorization: `Bearer ${stack.keys.publishableKey}`,
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: "42501", message: "permission denied for function ai_reply_context" });
  });

  it("answers 403 with 42501 for a signed-in visitor", async () => {
    const visitorJwt = await signJwt({ role: "authenticated", sub: "00000000-0000-4000-8000-000000000abc" }, stack.keys.jwtSecret);
    const response = await rpc("ai_post_reply", { message_id: "00000000-0000-4000-8000-00000000beef", content: "x" }, {
      apikey: stack.keys.anonKey, Authorization: `Bearer ${visitorJwt}`,
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: "42501" });
  });

  it("answers 404 PGRST202 for an unknown function or unknown arguments", async () => {
    const headers = { apikey: stack.keys.secretKey };
    const unknown = await rpc("no_such_function", {}, headers);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "PGRST202", message: "Could not find the function public.no_such_function() in the schema cache" });
    const wrongArgs = await rpc("ai_reply_context", { id: "x" }, headers);
    expect(wrongArgs.status).toBe(404);
  });

  it("answers 400 PGRST102 for a body that is not JSON, and 400 22P02 for a malformed uuid", async () => {
    const headers = { apikey: stack.keys.secretKey };
    const notJson = await rpc("ai_reply_context", "{oops", headers);
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ code: "PGRST102" });
    const badUuid = await rpc("ai_reply_context", { message_id: "not-a-uuid" }, headers);
    expect(badUuid.status).toBe(400);
    expect(await badUuid.json()).toMatchObject({ code: "22P02" });
  });
});
