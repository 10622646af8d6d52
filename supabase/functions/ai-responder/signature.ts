import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** How far a webhook's timestamp may be from this instance's clock, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export type SignedHeaders = { id: string; timestamp: number; signatures: string[] };

export type SignatureCheck = { ok: true } | { ok: false; problem: string };

/**
 * The Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature), checked
 * before the body is read: absent, malformed, or further than 5 minutes from now is refused.
 */
export function signedHeaders(
  headers: Headers,
  nowMs: number,
): { ok: true; signed: SignedHeaders } | { ok: false; problem: string } {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signature = headers.get("webhook-signature");
  if (!id || !timestamp || !signature) {
    return {
      ok: false,
      problem: "webhook-id, webhook-timestamp and webhook-signature headers are required",
    };
  }
  const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!Number.isFinite(seconds) || Math.abs(nowMs / 1000 - seconds) > SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, problem: "webhook-timestamp is more than 5 minutes from now" };
  }
  return { ok: true, signed: { id, timestamp: seconds, signatures: signature.split(" ") } };
}

/**
 * Whether one of the `v1,<base64>` signatures is HMAC-SHA256 of `id.timestamp.body` with the
 * secret's UTF-8 bytes as key (the trigger signs with pgcrypto the same way). Constant time.
 */
export function signatureMatches(
  signed: SignedHeaders,
  body: Uint8Array,
  secret: string,
): boolean {
  const expected = createHmac("sha256", secret)
    .update(`${signed.id}.${signed.timestamp}.`)
    .update(body)
    .digest();
  let matched = false;
  for (const candidate of signed.signatures) {
    if (!candidate.startsWith("v1,")) continue;
    const given = Buffer.from(candidate.slice(3), "base64");
    // Lengths are public (a SHA-256 digest is 32 bytes); the comparison of contents is not.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

/** Signs a webhook as the trigger does: for tests and tools that deliver one by hand. */
export function signWebhook(
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
  secret: string,
): string {
  const digest = createHmac("sha256", secret)
    .update(`${id}.${timestampSeconds}.`)
    .update(body)
    .digest("base64");
  return `v1,${digest}`;
}
