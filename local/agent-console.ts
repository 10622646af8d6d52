// The demo's agent in `npm start`'s terminal: the seeded demo agent (supabase/seed.sql) signed in
// with email and password through supabase-js, doing what an agents' dashboard does under RLS:
// write in a conversation (taking it over), hand it back, beat while online, change the AI mode.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";

const DEMO_AGENT = { email: "agent@demo-bakery.test", password: "demo-agent-password" };
/** Dashboards beat every 30 s or so; the demo project's window is the default 60 s. */
const HEARTBEAT_MS = 20_000;

export type DemoAgent = ReturnType<typeof createDemoAgent>;

export function createDemoAgent(apiUrl: string, publishableKey: string, projectId: string) {
  let signedIn: Promise<{ client: SupabaseClient; userId: string }> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  const agent = () => (signedIn ??= (async () => {
    const client = createClient(apiUrl, publishableKey, { auth: { persistSession: false } });
    const { data, error } = await client.auth.signInWithPassword(DEMO_AGENT);
    if (error || !data.user) {
      signedIn = undefined;
      throw new Error(`the demo agent could not sign in: ${error?.message}`);
    }
    return { client, userId: data.user.id };
  })());

  const beat = async () => {
    const { client } = await agent();
    const { error } = await client.rpc("agent_heartbeat", { project_id: projectId });
    if (error) console.log(`  ! heartbeat: ${error.message}`);
  };

  return {
    async say(conversationId: string, content: string): Promise<void> {
      const { client, userId } = await agent();
      const { error } = await client.from("messages").insert({ conversation_id: conversationId, sender_id: userId, from_customer: false, content });
      if (error) throw new Error(`the agent's message was refused: ${error.message}`);
    },
    async handBack(conversationId: string): Promise<void> {
      const { client } = await agent();
      const { error } = await client.rpc("hand_back_to_ai", { conversation_id: conversationId });
      if (error) throw new Error(`hand-back refused: ${error.message}`);
    },
    async online(): Promise<void> {
      await beat();
      clearInterval(heartbeat);
      heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
    },
    async offline(): Promise<void> {
      clearInterval(heartbeat);
      heartbeat = undefined;
      const { client } = await agent();
      await client.rpc("agent_away", { project_id: projectId });
    },
    /** As the project's admin, through REST (the Table Editor would do the same). */
    async setMode(mode: string): Promise<void> {
      const { client } = await agent();
      const { error } = await client.from("projects").update({ ai_mode: mode }).eq("id", projectId);
      if (error) throw new Error(`ai_mode not changed: ${error.message}`);
    },
    stop(): void {
      clearInterval(heartbeat);
    },
  };
}
