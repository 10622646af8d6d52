import { describe, expect, it } from "vitest";
import { SIGNATURE_TOLERANCE_SECONDS, signatureMatches, signedHeaders, signWebhook } from "../../supabase/functions/ai-responder/signature.ts";

const NOW_S = 1_795_000_000;
const headers = (values: Record<string, string>) => new Headers(values);
const all = { "webhook-id": "msg-1", "webhook-timestamp": String(NOW_S), "webhook-signature": "v1,abc" };
const STALE = "webhook-timestamp is more than 5 minutes from now";

describe("signedHeaders", () => {
  it.each(["webhook-id", "webhook-timestamp", "webhook-signature"])("refuses a delivery without %s", (name) => {
    const without = Object.fromEntries(Object.entries(all).filter(([key]) => key !== name));
    expect(signedHeaders(headers(without), NOW_S * 1000)).toEqual({ ok: false, problem: "webhook-id, webhook-timestamp and webhook-signature headers are required" });
  });

  it("takes a timestamp exactly 5 minutes away either way, and reads every signature given", () => {
    expect(SIGNATURE_TOLERANCE_SECONDS).toBe(300);
    for (const at of [NOW_S - 300, NOW_S + 300]) {
      expect(signedHeaders(headers({ ...all, "webhook-timestamp": String(at), "webhook-signature": "v1,a v1,b" }), NOW_S * 1000))
        .toEqual({ ok: true, signed: { id: "msg-1", timestamp: at, signatures: ["v1,a", "v1,b"] } });
    }
  });

  it.each([`+${NOW_S}`, `${NOW_S}.5`, `${NOW_S}000`, "soon", `-${NOW_S}`])("refuses the timestamp %s: whole seconds only", (timestamp) => {
    expect(signedHeaders(headers({ ...all, "webhook-timestamp": timestamp }), NOW_S * 1000)).toEqual({ ok: false, problem: STALE });
  });
});

describe("signatureMatches", () => {
  const body = new TextEncoder().encode('{"a":1}');
  const right = signWebhook("msg-1", NOW_S, body, "secret-secret-secret");
  const signed = (signatures: string[]) => ({ id: "msg-1", timestamp: NOW_S, signatures });

  it("finds the right signature among others, including ones of another length", () => {
    expect(signatureMatches(signed(["v1,AAAA", right]), body, "secret-secret-secret")).toBe(true);
    expect(signatureMatches(signed([right, "v1,AAAA"]), body, "secret-secret-secret")).toBe(true);
    expect(signatureMatches(signed(["v1,AAAA"]), body, "secret-secret-secret")).toBe(false);
  });

  it("reads only v1 signatures", () => {
    expect(signatureMatches(signed([right.replace("v1,", "v2,")]), body, "secret-secret-secret")).toBe(false);
  });
});
