import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identify, loadRoleSettings, transactionPrelude } from "../local/api-request.ts";
import { startStack, type Stack } from "../local/stack.ts";
import { createProject } from "./helpers.ts";

// The Auth stand-in driven by the real supabase-js, as the chat widget signs a visitor in.

const visitorClient = (stack: Stack): SupabaseClient =>
  createClient(stack.gatewayUrl, stack.keys.publishableKey, { auth: { persistSession: false, autoRefreshToken: false } });

async function signIn(stack: Stack) {
  const supabase = visitorClient(stack);
  const { data, error } = await supabase.auth.signInAnonymously();
  expect(error).toBeNull();
  return { supabase, session: data.session!, user: data.user! };
}

const claimsOf = async (stack: Stack, accessToken: string) =>
  (await jwtVerify(accessToken, new TextEncoder().encode(stack.keys.jwtSecret), { algorithms: ["HS256"] })).payload;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("a visitor signing in anonymously", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ auth: { anonymousSignInsPerHour: 1000 } });
  });
  afterAll(() => stack?.stop());

  it("gets a session whose access token carries an anonymous visitor's claims", async () => {
    const before = Math.floor(Date.now() / 1000);
    const { session, user } = await signIn(stack);

    expect(session).toMatchObject({ token_type: "bearer", expires_in: 3600 });
    expect(session.expires_at).toBeGreaterThanOrEqual(before + 3600);
    expect(session.refresh_token).toMatch(/^[a-z2-7]{12}$/);
    expect(user).toMatchObject({ aud: "authenticated", role: "authenticated", email: "", phone: "", is_anonymous: true, identities: [], app_metadata: {}, user_metadata: {} });

    expect(decodeProtectedHeader(session.access_token)).toEqual({ alg: "HS256", typ: "JWT" });
    const claims = await claimsOf(stack, session.access_token);
    expect(claims).toEqual({
      iss: `${stack.gatewayUrl}/auth/v1`,
      sub: user.id,
      aud: "authenticated",
      exp: session.expires_at,
      iat: session.expires_at! - 3600,
      email: "",
      phone: "",
      app_metadata: {},
      user_metadata: {},
      role: "authenticated",
      aal: "aal1",
      amr: [{ method: "anonymous", timestamp: expect.any(Number) }],
      session_id: expect.stringMatching(UUID),
      is_anonymous: true,
    });
    expect(Math.abs((claims.amr as { timestamp: number }[])[0]!.timestamp - before)).toBeLessThan(60);
  });

  it("is recorded in auth.users, auth.sessions and auth.refresh_tokens as GoTrue records it", async () => {
    const { session, user } = await signIn(stack);
    const { session_id: sessionId } = await claimsOf(stack, session.access_token);

    const { rows: [row] } = await stack.pool.query(
      "select aud, role, email, phone, is_anonymous, raw_app_meta_data, last_sign_in_at is not null as signed_in from auth.users where id = $1",
      [user.id],
    );
    expect(row).toEqual({ aud: "authenticated", role: "authenticated", email: null, phone: null, is_anonymous: true, raw_app_meta_data: {}, signed_in: true });
    const { rows: sessions } = await stack.pool.query("select id, aal from auth.sessions where user_id = $1", [user.id]);
    expect(sessions).toEqual([{ id: sessionId, aal: "aal1" }]);
    const { rows: tokens } = await stack.pool.query("select token, revoked, parent, session_id from auth.refresh_tokens where user_id = $1", [user.id]);
    expect(tokens).toEqual([{ token: session.refresh_token, revoked: false, parent: null, session_id: sessionId }]);
  });

  it("starts a conversation as themselves under RLS, auth.uid() being the token's subject", async () => {
    const { session, user } = await signIn(stack);
    const projectId = await createProject(stack.pool);
    // What PostgREST does with the visitor's request: verify the JWT, then set role and claims.
    const identity = await identify(stack.keys, stack.keys.publishableKey, session.access_token);
    const prelude = transactionPrelude(identity, { method: "POST", path: "/conversations", headers: {} }, await loadRoleSettings(stack.pool));
    const asVisitor = async (sql: string, values: unknown[]) => {
      const client = await stack.pool.connect();
      try {
        await client.query(`begin; ${prelude}`);
        return (await client.query(sql, values)).rows;
      } finally {
        await client.query("rollback");
        client.release();
      }
    };

    const rows = await asVisitor(
      "insert into public.conversations (project_id, visitor_id) values ($1, auth.uid()) returning visitor_id, auth.jwt() ->> 'is_anonymous' as anonymous",
      [projectId],
    );
    expect(rows).toEqual([{ visitor_id: user.id, anonymous: "true" }]);
    const stranger = (await signIn(stack)).user.id;
    await expect(asVisitor("insert into public.conversations (project_id, visitor_id) values ($1, $2)", [projectId, stranger]))
      .rejects.toThrow('new row violates row-level security policy for table "conversations"');
  });

  it("getUser() returns the visitor from the server", async () => {
    const { supabase, user } = await signIn(stack);
    const { data, error } = await supabase.auth.getUser();
    expect(error).toBeNull();
    expect(data.user).toEqual(user);
  });

  it("refreshSession() rotates the refresh token within the same session", async () => {
    const { supabase, session: first } = await signIn(stack);
    const { data, error } = await supabase.auth.refreshSession();
    expect(error).toBeNull();
    const second = data.session!;
    expect(second.refresh_token).toMatch(/^[a-z2-7]{12}$/);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const before = await claimsOf(stack, first.access_token);
    const after = await claimsOf(stack, second.access_token);
    expect(after).toMatchObject({ sub: before.sub, session_id: before.session_id, amr: before.amr, is_anonymous: true });

    const { rows } = await stack.pool.query("select token, revoked, parent from auth.refresh_tokens where session_id = $1 order by id", [before.session_id]);
    expect(rows).toEqual([
      { token: first.refresh_token, revoked: true, parent: null },
      { token: second.refresh_token, revoked: false, parent: first.refresh_token },
    ]);
  });

  it("gives back the current token for its parent (a client that lost the answer), and refuses an older one after the 10 s reuse interval", async () => {
    const { supabase, session: first } = await signIn(stack);
    const second = (await supabase.auth.refreshSession()).data.session!;

    // GoTrue (tokens/service.go): the revoked parent of the active token yields that token again.
    const lost = await supabase.auth.refreshSession({ refresh_token: first.refresh_token });
    expect(lost.error).toBeNull();
    expect(lost.data.session!.refresh_token).toBe(second.refresh_token);

    const third = (await supabase.auth.refreshSession({ refresh_token: second.refresh_token })).data.session!;
    expect(third.refresh_token).not.toBe(second.refresh_token);
    // The first token was revoked longer ago than the reuse interval: move its revocation 11 s back.
    await stack.pool.query("update auth.refresh_tokens set updated_at = updated_at - interval '11 seconds' where token = $1", [first.refresh_token]);

    const reused = await supabase.auth.refreshSession({ refresh_token: first.refresh_token });
    expect(reused.data.session).toBeNull();
    expect(reused.error).toMatchObject({ status: 400, code: "refresh_token_already_used", message: "Invalid Refresh Token: Already Used" });
    // Possible theft: the whole session's tokens are revoked.
    const { rows } = await stack.pool.query("select revoked from auth.refresh_tokens where token = $1", [third.refresh_token]);
    expect(rows).toEqual([{ revoked: true }]);
  });

  it("refuses a refresh token it never issued", async () => {
    const { error } = await visitorClient(stack).auth.refreshSession({ refresh_token: "abcdefghijkl" });
    expect(error).toMatchObject({ status: 400, code: "refresh_token_not_found", message: "Invalid Refresh Token: Refresh Token Not Found" });
  });

  it("signOut() ends the session: its tokens no longer work", async () => {
    const { supabase, session } = await signIn(stack);
    const { session_id: sessionId } = await claimsOf(stack, session.access_token);
    expect((await supabase.auth.signOut()).error).toBeNull();

    const { rowCount } = await stack.pool.query("select 1 from auth.sessions where id = $1", [sessionId]);
    expect(rowCount).toBe(0);
    const refreshed = await visitorClient(stack).auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refreshed.error).toMatchObject({ status: 400, code: "refresh_token_not_found" });
    // GoTrue answers 403 session_not_found, which auth-js turns into "signed out" (lib/fetch.ts).
    const fetched = await visitorClient(stack).auth.getUser(session.access_token);
    expect(fetched.error?.name).toBe("AuthSessionMissingError");
    const raw = await fetch(`${stack.gatewayUrl}/auth/v1/user`, {
      headers: { apikey: stack.keys.publishableKey, authorization: `Bearer ${session.access_token}`, "x-supabase-api-version": "2024-01-01" },
    });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toEqual({ code: "session_not_found", message: "Session from session_id claim in JWT does not exist" });
  });

  it("refuses requests without this project's API key, as the gateway does", async () => {
    const signup = (headers: Record<string, string>) =>
      fetch(`${stack.gatewayUrl}/auth/v1/signup`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
    const usersBefore = (await stack.pool.query("select count(*)::int as n from auth.users")).rows[0].n;
    const missing = await signup({});
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ message: "No API key found in request" });
    const wrong = await signup({ apikey: "sb_publishable_not-this-project" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ message: "Invalid API key" });
    expect((await stack.pool.query("select count(*)::int as n from auth.users")).rows[0].n).toBe(usersBefore);
  });

  it("answers what it does not serve with GoTrue's error JSON", async () => {
    const { error } = await visitorClient(stack).auth.signUp({ email: "visitor@example.com", password: "correct horse battery staple" });
    expect(error).toMatchObject({ status: 400, code: "email_provider_disabled" });

    const call = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${stack.gatewayUrl}/auth/v1${path}`, { method: "POST", headers: { apikey: stack.keys.publishableKey, ...headers }, body: "{}" });
    const grant = await call("/token?grant_type=magic", { "x-supabase-api-version": "2024-01-01" });
    expect(grant.status).toBe(400);
    expect(grant.headers.get("x-supabase-api-version")).toBe("2024-01-01");
    expect(await grant.json()).toEqual({ code: "invalid_credentials", message: "unsupported_grant_type" });
    // Without the version header, GoTrue's legacy error shape.
    const legacy = await call("/token?grant_type=magic");
    expect(await legacy.json()).toEqual({ code: 400, error_code: "invalid_credentials", msg: "unsupported_grant_type" });
    const elsewhere = await call("/otp", { "x-supabase-api-version": "2024-01-01" });
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.json()).toMatchObject({ code: "not_found", message: expect.stringContaining("not in the local Auth stand-in") });
  });
});

describe("a project with anonymous sign-ins off", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ auth: { enableAnonymousSignIns: false } });
  });
  afterAll(() => stack?.stop());

  it("refuses signInAnonymously() with anonymous_provider_disabled and creates no user", async () => {
    const { data, error } = await visitorClient(stack).auth.signInAnonymously();
    expect(data.session).toBeNull();
    expect(error).toMatchObject({ status: 422, code: "anonymous_provider_disabled", message: "Anonymous sign-ins are disabled" });
    const { rows } = await stack.pool.query("select count(*)::int as users from auth.users where is_anonymous");
    expect(rows).toEqual([{ users: 0 }]);
  });
});

describe("a project with a low sign-in rate limit and short-lived tokens", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ auth: { anonymousSignInsPerHour: 3, jwtExpirySeconds: 120 } });
  });
  afterAll(() => stack?.stop());

  it("signs in 3 visitors from one address within the hour and refuses the 4th with 429", async () => {
    for (let i = 0; i < 3; i++) {
      const { session } = await signIn(stack);
      expect(session.expires_in).toBe(120);
      const claims = await claimsOf(stack, session.access_token);
      expect(claims.exp! - claims.iat!).toBe(120);
    }
    const { data, error } = await visitorClient(stack).auth.signInAnonymously();
    expect(data.session).toBeNull();
    expect(error).toMatchObject({ status: 429, code: "over_request_rate_limit", message: "Request rate limit reached" });
    const { rows } = await stack.pool.query("select count(*)::int as users from auth.users where is_anonymous");
    expect(rows).toEqual([{ users: 3 }]);
  });
});
