import { z } from "zod";

/** A Supabase Database Webhook payload (user_id appears in the docs' type but is never sent). */
export const WebhookPayload = z.object({
  type: z.enum(["INSERT", "UPDATE", "DELETE"]),
  table: z.string(),
  schema: z.string(),
  record: z.record(z.string(), z.unknown()).nullable(),
  old_record: z.record(z.string(), z.unknown()).nullable(),
  user_id: z.string().nullable().optional(),
});

/** Any uuid Postgres accepts (zod's z.uuid() insists on RFC 9562 versions). */
function uuid() {
  return z.guid({ error: "Invalid UUID" });
}

/**
 * A row of public.messages as to_jsonb renders it. Ids are checked as Postgres uuids (any
 * version), and the content only as text: the table bounds it, and the function reads the
 * conversation from the database, never from the payload.
 */
export const MessageRecord = z.object({
  id: uuid(),
  conversation_id: uuid(),
  sender_id: z.string(),
  from_customer: z.boolean(),
  content: z.string(),
  reply_to: uuid().nullable().optional(),
  created_at: z.iso.datetime({ offset: true }),
});

export type VisitorMessage = z.infer<typeof MessageRecord>;

export type ParsedWebhook =
  | { kind: "visitor_message"; message: VisitorMessage }
  | { kind: "skipped"; reason: string }
  | { kind: "invalid"; problem: string };

/** Sorts a decoded JSON body into a visitor message to answer, a payload to skip, or an error. */
export function parseWebhook(body: unknown): ParsedWebhook {
  const payload = WebhookPayload.safeParse(body);
  if (!payload.success) return { kind: "invalid", problem: describe(payload.error) };
  const { type, schema, table, record } = payload.data;
  if (schema !== "public" || table !== "messages") {
    return { kind: "skipped", reason: `not a messages webhook (${schema}.${table})` };
  }
  if (type !== "INSERT") return { kind: "skipped", reason: `not an insert (${type})` };

  const message = MessageRecord.safeParse(record);
  if (!message.success) return { kind: "invalid", problem: describe(message.error, "record") };
  if (!message.data.from_customer) {
    return { kind: "skipped", reason: "not a visitor message (from_customer is false)" };
  }
  return { kind: "visitor_message", message: message.data };
}

function describe(error: z.ZodError, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return "invalid payload";
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  return `${path || "payload"}: ${issue.message}`;
}
