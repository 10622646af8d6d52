import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Claims, withClaims } from "../local/visitor.ts";
import { agentSays, createProject, createVisitor, startConversation, visitorSays } from "./helpers.ts";
import { sweepConversation } from "./scheduled.ts";
import { setVault, startTestDatabase, type TestDatabase } from "./test-database.ts";

// Agents in SQL, as PostgREST runs their calls (role authenticated, their JWT claims): presence,
// the AI stepping aside while an agent is online, opening hours, hand-back, and visitors never
// being members. No pg_net worker here: a dispatched webhook stays in net.http_request_queue.
let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
  await setVault(db.pool, "https://example-ref.supabase.co/", "webhook-secret-for-tests");
});
afterAll(() => db?.stop());

const agent = (userId: string): Claims => ({ role: "authenticated", sub: userId, is_anonymous: false });
const visitor = (userId: string): Claims => ({ role: "authenticated", sub: userId, is_anonymous: true });
const sql = async <T = Record<string, unknown>>(claims: Claims, text: string, values: unknown[] = []) =>
  withClaims(db.pool, claims, async (client) => (await client.query(text, values)).rows as T[]);

async function member(projectId: string, role: "agent" | "admin" = "agent"): Promise<string> {
  const userId = await createVisitor(db.pool, { anonymous: false });
  await db.pool.query("insert into public.project_members (project_id, user_id, role) values ($1, $2, $3)", [projectId, userId, role]);
  return userId;
}
const online = async (projectId: string) =>
  (await db.pool.query("select private.agents_online($1) as online", [projectId])).rows[0].online as boolean;
/** Moves a heartbeat into the past instead of waiting for it to age. */
const lastSeen = (userId: string, secondsAgo: number) =>
  db.pool.query("update public.project_members set last_seen_at = now() - make_interval(secs => $2) where user_id = $1", [userId, secondsAgo]);
const webhooksFor = async (messageId: string) =>
  (await db.pool.query("select count(*)::int as n from net.http_request_queue where headers ->> 'webhook-id' = $1", [messageId])).rows[0].n as number;
const jobOf = async (messageId: string) =>
  (await db.pool.query("select outcome from public.ai_reply_jobs where message_id = $1", [messageId])).rows[0] as { outcome: string | null } | undefined;

describe("heartbeats and the online window", () => {
  it("puts an agent online with a heartbeat, for the project's window, and offline with agent_away", async () => {
    const projectId = await createProject(db.pool);
    const agentId = await member(projectId);
    expect(await online(projectId)).toBe(false);

    expect(await sql(agent(agentId), "select public.agent_heartbeat() as touched")).toEqual([{ touched: 1 }]);
    expect(await online(projectId)).toBe(true);

    await lastSeen(agentId, 59);
    expect(await online(projectId)).toBe(true);
    await lastSeen(agentId, 61);
    expect(await online(projectId)).toBe(false);

    await db.pool.query("update public.projects set agent_online_window_seconds = 120 where id = $1", [projectId]);
    expect(await online(projectId)).toBe(true);

    await sql(agent(agentId), "select public.agent_away($1)", [projectId]);
    expect(await online(projectId)).toBe(false);
  });

  it("beats for one project or for all of the caller's projects, never for another member", async () => {
    const [first, second] = [await createProject(db.pool), await createProject(db.pool)];
    const agentId = await member(first);
    await db.pool.query("insert into public.project_members (project_id, user_id) values ($1, $2)", [second, agentId]);
    const colleague = await member(first);

    await sql(agent(agentId), "select public.agent_heartbeat($1)", [second]);
    expect([await online(first), await online(second)]).toEqual([false, true]);
    expect(await sql(agent(agentId), "select public.agent_heartbeat() as touched")).toEqual([{ touched: 2 }]);
    const { rows } = await db.pool.query("select user_id, last_seen_at is not null as seen from public.project_members where user_id = $1", [colleague]);
    expect(rows).toEqual([{ user_id: colleague, seen: false }]);
  });

  it("refuses a heartbeat from a non-member, for a project not theirs, and from a visitor", async () => {
    const projectId = await createProject(db.pool);
    const other = await createProject(db.pool);
    const agentId = await member(projectId);
    const stranger = await createVisitor(db.pool, { anonymous: false });
    await expect(sql(agent(stranger), "select public.agent_heartbeat()")).rejects.toThrow("You are not a member of any project");
    await expect(sql(agent(agentId), "select public.agent_heartbeat($1)", [other])).rejects.toThrow(`You are not a member of project ${other}`);
    const { visitorId } = await startConversation(db.pool, projectId);
    await expect(sql(visitor(visitorId), "select public.agent_heartbeat()")).rejects.toThrow("Only signed-in agents have a presence");
    expect(await online(projectId)).toBe(false);
  });

  it("gives no API role a way to set last_seen_at itself", async () => {
    const projectId = await createProject(db.pool);
    const agentId = await member(projectId);
    await expect(sql(agent(agentId), "update public.project_members set last_seen_at = now() + interval '1 year'"))
      .rejects.toThrow("permission denied for table project_members");
  });
});

describe("ai_mode", () => {
  async function conversationWithAgent(mode: "always" | "when_no_agent_online") {
    const projectId = await createProject(db.pool);
    await db.pool.query("update public.projects set ai_mode = $2 where id = $1", [projectId, mode]);
    const agentId = await member(projectId);
    return { projectId, agentId, ...(await startConversation(db.pool, projectId)) };
  }

  it("always (the default): the AI answers while an agent is online", async () => {
    const { rows: [defaults] } = await db.pool.query("select ai_mode from public.projects where id = $1", [await createProject(db.pool)]);
    expect(defaults).toEqual({ ai_mode: "always" });
    const { agentId, visitorId, conversationId } = await conversationWithAgent("always");
    await sql(agent(agentId), "select public.agent_heartbeat()");
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "Anyone there?");
    expect(await webhooksFor(messageId)).toBe(1);
    expect(await jobOf(messageId)).toEqual({ outcome: null });
  });

  it("when_no_agent_online: no webhook while an agent is online, and the AI answers again after the window", async () => {
    const { agentId, visitorId, conversationId } = await conversationWithAgent("when_no_agent_online");
    const beforeAnyAgent = await visitorSays(db.pool, visitorId, conversationId, "Hello?");
    expect(await webhooksFor(beforeAnyAgent)).toBe(1);

    await sql(agent(agentId), "select public.agent_heartbeat()");
    const whileOnline = await visitorSays(db.pool, visitorId, conversationId, "Is a person there?");
    expect(await webhooksFor(whileOnline)).toBe(0);
    expect(await jobOf(whileOnline)).toBeUndefined();
    // The sweeper's passes (production defaults) neither answer it nor re-send the earlier one.
    await sweepConversation(db.pool, conversationId, 2);
    expect([await webhooksFor(beforeAnyAgent), await webhooksFor(whileOnline)]).toEqual([1, 0]);
    expect(await jobOf(beforeAnyAgent)).toEqual({ outcome: "agent_online" });

    await lastSeen(agentId, 61);
    const afterWindow = await visitorSays(db.pool, visitorId, conversationId, "Still there?");
    expect(await webhooksFor(afterWindow)).toBe(1);
  });

  it("when_no_agent_online: a message dispatched before the agent came online is skipped as agent_online by the function's SQL API", async () => {
    const { agentId, visitorId, conversationId } = await conversationWithAgent("when_no_agent_online");
    const messageId = await visitorSays(db.pool, visitorId, conversationId, "Quick question");
    expect(await webhooksFor(messageId)).toBe(1);
    await sql(agent(agentId), "select public.agent_heartbeat()");
    const [context] = await sql<{ context: unknown }>({ role: "service_role" }, "select public.ai_reply_context($1) as context", [messageId]);
    expect(context!.context).toEqual({ action: "skip", reason: "agent_online" });
    expect(await jobOf(messageId)).toEqual({ outcome: "agent_online" });
  });

  it("when the last agent goes offline, conversations a person took over or is awaited in stay with the humans", async () => {
    const { projectId, agentId, visitorId, conversationId } = await conversationWithAgent("when_no_agent_online");
    await sql(agent(agentId), "select public.agent_heartbeat()");
    await sql(agent(agentId), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, false, 'Hi, Alice here')", [conversationId, agentId]);
    const waiting = await startConversation(db.pool, projectId);
    await db.pool.query("update public.conversations set awaiting_human_since = now(), awaiting_human_reason = 'reply_cap' where id = $1", [waiting.conversationId]);
    await sql(agent(agentId), "select public.agent_away()");

    const taken = await visitorSays(db.pool, visitorId, conversationId, "Thanks Alice");
    const awaited = await visitorSays(db.pool, waiting.visitorId, waiting.conversationId, "Hello?");
    const fresh = await startConversation(db.pool, projectId);
    const newcomer = await visitorSays(db.pool, fresh.visitorId, fresh.conversationId, "Hi");
    expect([await webhooksFor(taken), await webhooksFor(awaited), await webhooksFor(newcomer)]).toEqual([0, 0, 1]);
    await sweepConversation(db.pool, conversationId, 2);
    await sweepConversation(db.pool, waiting.conversationId, 2);
    expect([await webhooksFor(taken), await webhooksFor(awaited)]).toEqual([0, 0]);
  });

  it("refuses a mode it does not know", async () => {
    const projectId = await createProject(db.pool);
    await expect(db.pool.query("update public.projects set ai_mode = 'sometimes' where id = $1", [projectId]))
      .rejects.toThrow('violates check constraint "projects_ai_mode_check"');
  });
});

describe("opening hours (outside them, agents count as away)", () => {
  async function withinHours(settings: { zone: string; start: string; end: string; days: number[] }, moment: string): Promise<boolean> {
    const { rows: [row] } = await db.pool.query(
      `select private.within_opening_hours(p, $5::timestamptz) as open
       from (select (jsonb_populate_record(null::public.projects, jsonb_build_object(
         'ai_time_zone', $1::text, 'opening_hours_start', $2::text, 'opening_hours_end', $3::text, 'opening_days', $4::int[])))::public.projects as p) s`,
      [settings.zone, settings.start, settings.end, settings.days, moment],
    );
    return row.open;
  }
  const weekdays = { start: "09:00", end: "17:00", days: [1, 2, 3, 4, 5] };

  it("reads the hours in the project's time zone, across the date line", async () => {
    // Friday 2026-11-27 00:30 UTC: Friday 09:30 in Tokyo, Thursday 16:30 in Los Angeles.
    expect(await withinHours({ zone: "Asia/Tokyo", ...weekdays }, "2026-11-27 00:30+00")).toBe(true);
    expect(await withinHours({ zone: "America/Los_Angeles", ...weekdays }, "2026-11-27 00:30+00")).toBe(true);
    // 08:30 UTC: 17:30 in Tokyo (closed), 00:30 in Los Angeles (closed).
    expect(await withinHours({ zone: "Asia/Tokyo", ...weekdays }, "2026-11-27 08:30+00")).toBe(false);
    expect(await withinHours({ zone: "America/Los_Angeles", ...weekdays }, "2026-11-27 08:30+00")).toBe(false);
    // Saturday 00:30 UTC: Saturday 09:30 in Tokyo (a weekend), still Friday 16:30 in Los Angeles.
    expect(await withinHours({ zone: "Asia/Tokyo", ...weekdays }, "2026-11-28 00:30+00")).toBe(false);
    expect(await withinHours({ zone: "America/Los_Angeles", ...weekdays }, "2026-11-28 00:30+00")).toBe(true);
  });

  it("gives hours that span midnight to the day they start", async () => {
    const fridayNights = { zone: "Europe/Paris", start: "22:00", end: "06:00", days: [5] };
    expect(await withinHours(fridayNights, "2026-11-27 22:30+01")).toBe(true); // Friday 22:30
    expect(await withinHours(fridayNights, "2026-11-28 02:00+01")).toBe(true); // Saturday 02:00, Friday's night
    expect(await withinHours(fridayNights, "2026-11-28 22:30+01")).toBe(false); // Saturday 22:30
    expect(await withinHours(fridayNights, "2026-11-27 02:00+01")).toBe(false); // Friday 02:00, Thursday's night
  });

  it("keeps the AI answering outside the hours even while an agent's dashboard beats", async () => {
    const projectId = await createProject(db.pool);
    // Open for one hour that ended an hour ago, every day, in the project's zone.
    await db.pool.query(
      `update public.projects set ai_mode = 'when_no_agent_online', ai_time_zone = 'Pacific/Kiritimati',
         opening_hours_start = ((now() at time zone 'Pacific/Kiritimati') - interval '2 hours')::time,
         opening_hours_end = ((now() at time zone 'Pacific/Kiritimati') - interval '1 hour')::time
       where id = $1`,
      [projectId],
    );
    const agentId = await member(projectId);
    await sql(agent(agentId), "select public.agent_heartbeat()");
    expect(await online(projectId)).toBe(false);
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    expect(await webhooksFor(await visitorSays(db.pool, visitorId, conversationId, "Open?"))).toBe(1);

    await db.pool.query("update public.projects set opening_hours_end = ((now() at time zone 'Pacific/Kiritimati') + interval '1 hour')::time where id = $1", [projectId]);
    expect(await online(projectId)).toBe(true);
  });
});

describe("hand_back_to_ai", () => {
  it("lets a member hand back a conversation they took over or that waits for a person", async () => {
    const projectId = await createProject(db.pool);
    const agentId = await member(projectId);
    const { conversationId } = await startConversation(db.pool, projectId);
    await sql(agent(agentId), "insert into public.messages (conversation_id, sender_id, from_customer, content) values ($1, $2, false, 'Mine now')", [conversationId, agentId]);
    const { rows: [taken] } = await db.pool.query("select handed_off_to from public.conversations where id = $1", [conversationId]);
    expect(taken).toEqual({ handed_off_to: agentId });

    const [back] = await sql(agent(agentId), "select (public.hand_back_to_ai($1)).handed_off_to", [conversationId]);
    expect(back).toEqual({ handed_off_to: null });

    await db.pool.query("update public.conversations set awaiting_human_since = now(), awaiting_human_reason = 'daily_budget' where id = $1", [conversationId]);
    await sql(agent(agentId), "select public.hand_back_to_ai($1)", [conversationId]);
    const { rows: [state] } = await db.pool.query("select handed_off_to, awaiting_human_since, awaiting_human_reason from public.conversations where id = $1", [conversationId]);
    expect(state).toEqual({ handed_off_to: null, awaiting_human_since: null, awaiting_human_reason: null });
  });

  it("refuses a member of another project, an unknown conversation, and a visitor", async () => {
    const projectId = await createProject(db.pool);
    const outsider = await member(await createProject(db.pool));
    const { visitorId, conversationId } = await startConversation(db.pool, projectId);
    await agentSays(db.pool, conversationId, "Taken over");
    await expect(sql(agent(outsider), "select public.hand_back_to_ai($1)", [conversationId]))
      .rejects.toThrow(`You are not a member of the project of conversation ${conversationId}`);
    await expect(sql(agent(outsider), "select public.hand_back_to_ai(gen_random_uuid())")).rejects.toThrow("You are not a member of the project of conversation");
    await expect(sql(visitor(visitorId), "select public.hand_back_to_ai($1)", [conversationId]))
      .rejects.toThrow("Only signed-in agents can hand a conversation back to the AI");
    const { rows: [state] } = await db.pool.query("select handed_off_to from public.conversations where id = $1", [conversationId]);
    expect(state).toEqual({ handed_off_to: "agent-1" });
  });
});

describe("visitors are never members", () => {
  it("refuses an anonymous user as a member, even from the database owner", async () => {
    const projectId = await createProject(db.pool);
    const { visitorId } = await startConversation(db.pool, projectId);
    await expect(db.pool.query("insert into public.project_members (project_id, user_id) values ($1, $2)", [projectId, visitorId]))
      .rejects.toThrow("An anonymous user (a visitor) cannot be a project member");
    const agentId = await member(projectId);
    await expect(db.pool.query("update public.project_members set user_id = $2 where user_id = $1", [agentId, visitorId]))
      .rejects.toThrow("An anonymous user (a visitor) cannot be a project member");
  });

  it("gives an anonymous session nothing of a member's, even with a member's user id", async () => {
    const projectId = await createProject(db.pool);
    const agentId = await member(projectId, "admin");
    await startConversation(db.pool, projectId);
    const anonymousClaims = visitor(agentId);
    expect(await sql(anonymousClaims, "select id from public.conversations")).toEqual([]);
    expect(await sql(anonymousClaims, "select id from public.projects")).toEqual([]);
    expect(await sql(anonymousClaims, "select user_id from public.project_members")).toEqual([]);
    expect(await sql(anonymousClaims, "select conversation_id from public.agent_inbox")).toEqual([]);
    expect(await sql(anonymousClaims, "update public.projects set ai_enabled = false returning id")).toEqual([]);
    await expect(sql(anonymousClaims, "select public.agent_heartbeat()")).rejects.toThrow("Only signed-in agents have a presence");
  });

  it("gives visitors no way to write a membership", async () => {
    const projectId = await createProject(db.pool);
    const { visitorId } = await startConversation(db.pool, projectId);
    await expect(sql(visitor(visitorId), "insert into public.project_members (project_id, user_id, role) values ($1, $2, 'admin')", [projectId, visitorId]))
      .rejects.toThrow("permission denied for table project_members");
  });
});
