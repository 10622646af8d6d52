import { describe, expect, it } from "vitest";
import { parseWebhook } from "../../supabase/functions/ai-responder/payload.ts";

const record = {
  id: "8a0a2c55-98f4-4f3e-9a43-6e1f7a5f0b11",
  conversation_id: "0f0c1d5e-7a1b-4d55-8b8e-2f61b0f1c2d3",
  sender_id: "5b0e8d0e-0c7c-4a3b-9a7e-1d2c3b4a5f6e",
  from_customer: true,
  content: "Hello",
  reply_to: null,
  created_at: "2026-11-24T14:50:26.808123+00:00",
};
const webhook = (overrides: object = {}) => ({ type: "INSERT", table: "messages", schema: "public", record, old_record: null, ...overrides });

describe("parseWebhook", () => {
  it("accepts a Database Webhook for a visitor message, with or without user_id", () => {
    expect(parseWebhook(webhook())).toEqual({ kind: "visitor_message", message: record });
    expect(parseWebhook(webhook({ user_id: null }))).toMatchObject({ kind: "visitor_message" });
  });

  it("accepts any uuid Postgres accepts and any text, which the table already bounds", () => {
    const rec = { ...record, id: "11111111-1111-1111-1111-111111111111", content: "\u{1F600}".repeat(2500) };
    expect(parseWebhook(webhook({ record: rec }))).toEqual({ kind: "visitor_message", message: rec });
  });

  it("ignores unknown extra fields in the record (a later column must not break the function)", () => {
    expect(parseWebhook(webhook({ record: { ...record, new_column: 1 } }))).toEqual({ kind: "visitor_message", message: record });
  });

  it.each([
    [webhook({ record: { ...record, from_customer: false, sender_id: "AI_BOT" } }), "not a visitor message (from_customer is false)"],
    [webhook({ table: "projects" }), "not a messages webhook (public.projects)"],
    [webhook({ schema: "auth" }), "not a messages webhook (auth.messages)"],
    [webhook({ type: "UPDATE" }), "not an insert (UPDATE)"],
    [webhook({ type: "DELETE", record: null }), "not an insert (DELETE)"],
  ])("skips what is not a new visitor message (%#)", (payload, reason) => {
    expect(parseWebhook(payload)).toEqual({ kind: "skipped", reason });
  });

  it.each([
    [null, "payload: Invalid input: expected object, received null"],
    [[], "payload: Invalid input: expected object, received array"],
    [webhook({ type: "TRUNCATE" }), "type: Invalid option: expected one of \"INSERT\"|\"UPDATE\"|\"DELETE\""],
    [webhook({ record: { ...record, id: 7 } }), "record.id: Invalid UUID"],
    [webhook({ record: { ...record, content: 4000 } }), "record.content: Invalid input: expected string, received number"],
    [webhook({ record: { ...record, conversation_id: "not-a-uuid" } }), "record.conversation_id: Invalid UUID"],
    [webhook({ record: { ...record, created_at: "yesterday" } }), "record.created_at: Invalid ISO datetime"],
    [webhook({ record: null }), "record: Invalid input: expected object, received null"],
  ])("names the problem in a malformed payload (%#)", (payload, problem) => {
    expect(parseWebhook(payload)).toEqual({ kind: "invalid", problem });
  });
});
