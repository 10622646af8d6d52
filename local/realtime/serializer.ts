// Phoenix's V2 serializer as Supabase Realtime speaks it (supabase/realtime
// lib/realtime_web/socket/v2_serializer.ex; realtime-js src/lib/serializer.ts): JSON text frames
// [join_ref, ref, topic, event, payload], the client's binary user broadcast push (kind 3) and
// the server's binary user broadcast (kind 4). One encode and one decode per frame kind.

export type Frame = { joinRef: string | null; ref: string | null; topic: string; event: string; payload: unknown };

/** A broadcast's user payload: JSON (encoding 1) or raw bytes (encoding 0), as the client sent it. */
export type UserPayload = { encoding: "json"; value: unknown } | { encoding: "binary"; bytes: Buffer };

/** What a client's kind-3 frame carries: a broadcast push on a channel. */
export type BroadcastPush = {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  meta: Record<string, unknown> | null;
  payload: UserPayload;
};

const USER_BROADCAST_PUSH = 3;
const USER_BROADCAST = 4;
const BINARY_ENCODING = 0;
const JSON_ENCODING = 1;

export class FrameError extends Error {}

export function decodeText(text: string): Frame {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || parsed.length !== 5) throw new FrameError("a frame is [join_ref, ref, topic, event, payload]");
  const [joinRef, ref, topic, event, payload] = parsed as unknown[];
  if (typeof topic !== "string" || typeof event !== "string") throw new FrameError("topic and event must be strings");
  return { joinRef: optionalString(joinRef), ref: optionalString(ref), topic, event, payload };
}

export function encodeText(frame: Frame): string {
  return JSON.stringify([frame.joinRef, frame.ref, frame.topic, frame.event, frame.payload]);
}

/** Kind 3: u8 kind, u8 lengths of join_ref, ref, topic, event, meta, u8 encoding, then the bytes. */
export function decodeBinary(data: Buffer): BroadcastPush {
  if (data[0] !== USER_BROADCAST_PUSH) throw new FrameError(`binary frame of kind ${data[0]} is not a user broadcast push`);
  if (data.length < 7) throw new FrameError("binary frame too short");
  const lengths = [data[1]!, data[2]!, data[3]!, data[4]!, data[5]!];
  const encoding = data[6]!;
  let offset = 7;
  const [joinRef, ref, topic, event, meta] = lengths.map((length) => {
    const text = data.subarray(offset, offset + length).toString("utf8");
    offset += length;
    return text;
  }) as [string, string, string, string, string];
  const body = data.subarray(offset);
  return {
    joinRef: joinRef || null,
    ref: ref || null,
    topic,
    event,
    meta: meta ? (JSON.parse(meta) as Record<string, unknown>) : null,
    payload: encoding === JSON_ENCODING ? { encoding: "json", value: JSON.parse(body.toString("utf8")) } : { encoding: "binary", bytes: Buffer.from(body) },
  };
}

/** Kind 4: u8 kind, u8 lengths of topic, event, meta, u8 encoding, then the bytes. */
export function encodeBroadcast(topic: string, event: string, payload: UserPayload, meta: Record<string, unknown> | null): Buffer {
  const parts = [topic, event, meta ? JSON.stringify(meta) : ""].map((text) => Buffer.from(text, "utf8"));
  if (parts.some((part) => part.length > 255)) throw new FrameError("topic, event and meta must each fit in 255 bytes");
  const body = payload.encoding === "json" ? Buffer.from(JSON.stringify(payload.value), "utf8") : payload.bytes;
  const header = Buffer.from([USER_BROADCAST, parts[0]!.length, parts[1]!.length, parts[2]!.length, payload.encoding === "json" ? JSON_ENCODING : BINARY_ENCODING]);
  return Buffer.concat([header, ...parts, body]);
}

function optionalString(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  throw new FrameError("join_ref and ref must be strings or null");
}
