// Generated hostile webhook deliveries, deterministic (seeded), of every kind the function must
// shrug off, each with the one answer it must get (supabase/functions/ai-responder/handler.ts
// checks method 405, signature 401, size 413, body 400, payload 400, other webhooks 200, then 202).
import { randomUUID } from "node:crypto";

/** How the delivery is signed: as the trigger signs, or wrongly in one way. */
export type Signing = "genuine" | "none" | "wrong key" | "stale" | "other body";
export type HostilePayload = {
  kind: string;
  body: string | Uint8Array<ArrayBuffer>;
  /** The status the function must answer, and nothing else. */
  expected: 200 | 202 | 400 | 401 | 405 | 413;
  signing: Signing;
  method: "POST" | "GET" | "PUT";
};

function seeded(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32;
    return state / 2 ** 32;
  };
}

type Maker = { expected: HostilePayload["expected"]; make: () => string | Uint8Array<ArrayBuffer>; signing?: Signing; method?: HostilePayload["method"] };

export function hostilePayloads(count: number, seed = 42): HostilePayload[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const record = () => ({
    id: randomUUID(),
    conversation_id: randomUUID(),
    sender_id: randomUUID(),
    from_customer: true,
    content: "hello",
    reply_to: null,
    created_at: new Date().toISOString(),
  });
  const envelope = (rec: unknown, extra: object = {}) => ({ type: "INSERT", table: "messages", schema: "public", record: rec, old_record: null, ...extra });
  const weird = [null, true, false, 0, -1, 1e308, "", "x", [], {}, [[[]]], { a: { b: {} } }, "\u0000", "null", "undefined", "NaN", "2026-13-45T99:00:00Z"];
  // For each field, only the values that are wrong for it: a value the schema accepts would
  // make the payload valid, and the kind would have two right answers.
  const isUuid = (v: unknown) => typeof v === "string" && /^[0-9a-f-]{36}$/i.test(v);
  const wrongFor: Record<string, (v: unknown) => boolean> = {
    id: (v) => !isUuid(v),
    conversation_id: (v) => !isUuid(v),
    sender_id: (v) => typeof v !== "string",
    from_customer: (v) => typeof v !== "boolean",
    content: (v) => typeof v !== "string",
    reply_to: (v) => v !== null && !isUuid(v),
    created_at: (v) => typeof v !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) || v.startsWith("2026-13"),
    type: (v) => !["INSERT", "UPDATE", "DELETE"].includes(v as string),
    table: (v) => typeof v !== "string",
    schema: (v) => typeof v !== "string",
    record: (v) => v !== null && (typeof v !== "object" || Array.isArray(v)),
    old_record: (v) => v !== null && (typeof v !== "object" || Array.isArray(v)),
  };
  const wrongValue = (field: string) => pick(weird.filter(wrongFor[field]!));
  const fields = ["id", "conversation_id", "sender_id", "from_customer", "content", "reply_to", "created_at"] as const;

  const makers: Record<string, Maker> = {
    "malformed JSON": { expected: 400, make: () => JSON.stringify(envelope(record())).slice(0, Math.floor(random() * 120)) },
    "random bytes": { expected: 400, make: () => Uint8Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)) },
    "invalid UTF-8": {
      expected: 400,
      make: () => {
        const text = new TextEncoder().encode(JSON.stringify(envelope({ ...record(), content: "caf\u00e9" })));
        const at = text.indexOf(0xc3);
        text[at] = pick([0xff, 0xfe, 0xc0, 0x80]);
        return text;
      },
    },
    "wrong type": { expected: 400, make: () => { const field = pick(fields); return JSON.stringify(envelope({ ...record(), [field]: wrongValue(field) })); } },
    "wrong envelope type": {
      expected: 400,
      make: () => { const field = pick(["type", "table", "schema", "record", "old_record"]); return JSON.stringify({ ...envelope(record()), [field]: wrongValue(field) }); },
    },
    "missing field": {
      expected: 400,
      make: () => {
        const rec: Record<string, unknown> = record();
        delete rec[pick(fields.filter((f) => f !== "reply_to"))];
        return JSON.stringify(envelope(rec));
      },
    },
    "missing envelope field": {
      expected: 400,
      make: () => {
        const env: Record<string, unknown> = envelope(record());
        delete env[pick(["type", "table", "schema", "record"])];
        return JSON.stringify(env);
      },
    },
    "a record that is not a message": { expected: 400, make: () => JSON.stringify(envelope(pick([null, {}, { id: randomUUID() }]))) },
    "deep nesting": { expected: 400, make: () => "[".repeat(5000 + Math.floor(random() * 20000)) + "]".repeat(10) },
    "megabyte string": { expected: 413, make: () => JSON.stringify(envelope({ ...record(), content: "x".repeat(1_000_000 + Math.floor(random() * 1000)) })) },
    "just over 64 KiB": { expected: 413, make: () => JSON.stringify(envelope({ ...record(), content: "z".repeat(64 * 1024) })) },
    "wrong table or operation": {
      expected: 200,
      make: () =>
        JSON.stringify(pick([
          envelope(record(), { table: "projects" }),
          envelope(record(), { schema: "auth", table: "users" }),
          envelope(null, { type: "DELETE", old_record: record() }),
          envelope(record(), { type: "UPDATE", old_record: record() }),
        ])),
    },
    "forged AI_BOT reply": { expected: 200, make: () => JSON.stringify(envelope({ ...record(), sender_id: "AI_BOT", from_customer: false })) },
    "forged agent record": { expected: 200, make: () => JSON.stringify(envelope({ ...record(), sender_id: "agent-1", from_customer: false })) },
    // Well-formed visitor messages the database has never seen: accepted, then nothing happens
    // (ai_reply_context answers message_not_found): what a leaked key alone can do.
    "unknown message id": { expected: 202, make: () => JSON.stringify(envelope(record())) },
    "visitor record claiming to be AI_BOT": { expected: 202, make: () => JSON.stringify(envelope({ ...record(), sender_id: "AI_BOT" })) },
    "extra fields": { expected: 202, make: () => JSON.stringify(envelope({ ...record(), admin: true, ai_enabled: true, role: "service_role" }, { user_id: "x", extra: [1, 2] })) },
    "__proto__ and constructor keys": {
      expected: 202,
      make: () =>
        `{"type":"INSERT","table":"messages","schema":"public","old_record":null,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"record":${JSON.stringify(record()).replace("{", '{"__proto__":{"from_customer":false},')}}`,
    },
    "null bytes": { expected: 202, make: () => JSON.stringify(envelope({ ...record(), content: "a\u0000b", sender_id: "\u0000" })) },
    "oversized content": { expected: 202, make: () => JSON.stringify(envelope({ ...record(), content: "y".repeat(4001) })) },
    "SQL in every field": { expected: 202, make: () => JSON.stringify(envelope({ ...record(), sender_id: "'; drop table public.messages; --", content: "1' or '1'='1" })) },
    // Wrongly signed: refused before the body is even parsed, however well-formed it is.
    "unsigned": { expected: 401, signing: "none", make: () => JSON.stringify(envelope(record())) },
    "signed with a near-miss key": { expected: 401, signing: "wrong key", make: () => JSON.stringify(envelope(record())) },
    "signed 6 minutes ago": { expected: 401, signing: "stale", make: () => JSON.stringify(envelope(record())) },
    "signature of another body": { expected: 401, signing: "other body", make: () => JSON.stringify(envelope(record())) },
    "GET": { expected: 405, method: "GET", make: () => "" },
    "PUT with a genuine signature": { expected: 405, method: "PUT", make: () => JSON.stringify(envelope(record())) },
  };
  const kinds = Object.keys(makers);
  return Array.from({ length: count }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const maker = makers[kind]!;
    return { kind, body: maker.make(), expected: maker.expected, signing: maker.signing ?? "genuine", method: maker.method ?? "POST" };
  });
}
