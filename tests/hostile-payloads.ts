// Generated hostile webhook bodies, deterministic (seeded), of every kind the function must shrug off.
import { randomUUID } from "node:crypto";

export type HostilePayload = { kind: string; body: string | Uint8Array<ArrayBuffer> };

function seeded(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32;
    return state / 2 ** 32;
  };
}

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
  const weird = [null, true, 0, -1, 1e308, "", "x", [], {}, [[[]]], { a: { b: {} } }, "\u0000", "null", "undefined", "NaN"];
  const fields = ["id", "conversation_id", "sender_id", "from_customer", "content", "reply_to", "created_at"] as const;

  const makers: Record<string, () => string | Uint8Array<ArrayBuffer>> = {
    "malformed JSON": () => JSON.stringify(envelope(record())).slice(0, Math.floor(random() * 120)),
    "random bytes": () => Uint8Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
    "invalid UTF-8": () => {
      const text = new TextEncoder().encode(JSON.stringify(envelope({ ...record(), content: "caf\u00e9" })));
      const at = text.indexOf(0xc3);
      text[at] = pick([0xff, 0xfe, 0xc0, 0x80]);
      return text;
    },
    "wrong type": () => JSON.stringify(envelope({ ...record(), [pick(fields)]: pick(weird) })),
    "wrong envelope type": () => JSON.stringify({ ...envelope(record()), [pick(["type", "table", "schema", "record", "old_record"])]: pick(weird) }),
    "missing field": () => {
      const rec: Record<string, unknown> = record();
      delete rec[pick(fields.filter((f) => f !== "reply_to"))];
      return JSON.stringify(envelope(rec));
    },
    "missing envelope field": () => {
      const env: Record<string, unknown> = envelope(record());
      delete env[pick(["type", "table", "schema", "record"])];
      return JSON.stringify(env);
    },
    "extra fields": () => JSON.stringify(envelope({ ...record(), admin: true, ai_enabled: true, role: "service_role" }, { user_id: "x", extra: [1, 2] })),
    "__proto__ and constructor keys": () =>
      `{"type":"INSERT","table":"messages","schema":"public","old_record":null,"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"record":${JSON.stringify(record()).replace("{", '{"__proto__":{"from_customer":false},')}}`,
    "deep nesting": () => "[".repeat(5000 + Math.floor(random() * 20000)) + "]".repeat(10),
    "megabyte string": () => JSON.stringify(envelope({ ...record(), content: "x".repeat(1_000_000 + Math.floor(random() * 1000)) })),
    "null bytes": () => JSON.stringify(envelope({ ...record(), content: "a\u0000b", sender_id: "\u0000" })),
    "wrong table or operation": () =>
      JSON.stringify(pick([
        envelope(record(), { table: "projects" }),
        envelope(record(), { schema: "auth", table: "users" }),
        envelope(null, { type: "DELETE", old_record: record() }),
        envelope(record(), { type: "UPDATE", old_record: record() }),
      ])),
    "forged AI_BOT record": () => JSON.stringify(envelope({ ...record(), sender_id: "AI_BOT", from_customer: pick([true, false]) })),
    "forged agent record": () => JSON.stringify(envelope({ ...record(), sender_id: "agent-1", from_customer: false })),
    "unknown message id": () => JSON.stringify(envelope(record())),
    "oversized content": () => JSON.stringify(envelope({ ...record(), content: "y".repeat(4001) })),
    "SQL in every field": () => JSON.stringify(envelope({ ...record(), sender_id: "'; drop table public.messages; --", content: "1' or '1'='1" })),
  };
  const kinds = Object.keys(makers);
  return Array.from({ length: count }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    return { kind, body: makers[kind]!() };
  });
}
