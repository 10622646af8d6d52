import { describe, expect, it } from "vitest";
import { BodyError, json, jsonDepth, MAX_DRAIN_BYTES, readBody } from "../../supabase/functions/ai-responder/http.ts";

const streamOf = (chunks: Uint8Array[]) => new ReadableStream<Uint8Array>({
  start(controller) {
    for (const chunk of chunks) controller.enqueue(chunk);
    controller.close();
  },
});
const post = (chunks: Uint8Array[], headers: Record<string, string> = {}) =>
  new Request("http://function.test/", { method: "POST", body: streamOf(chunks), headers, duplex: "half" } as RequestInit);
const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

describe("json", () => {
  it("answers JSON with its content type, and extra headers beside it", async () => {
    const response = json(418, { error: "x" }, { Allow: "POST" });
    expect(response.status).toBe(418);
    expect(response.headers.get("content-type")).toBe("application/json");
    expect(response.headers.get("allow")).toBe("POST");
    expect(await response.text()).toBe('{"error":"x"}');
  });
});

describe("readBody", () => {
  it("joins the body's chunks in order, up to exactly the limit", async () => {
    const read = await readBody(post([bytes(3, 0x61), bytes(2, 0x62), bytes(5, 0x63)]), 10);
    expect(new TextDecoder().decode(read)).toBe("aaabbccccc");
  });

  it("answers an empty body, or none, with no bytes", async () => {
    expect(await readBody(new Request("http://function.test/", { method: "POST" }), 10)).toEqual(new Uint8Array(0));
  });

  it("refuses one byte over the limit with 413, naming the limit", async () => {
    const failed = await readBody(post([bytes(6), bytes(5)]), 10).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(BodyError);
    expect(failed).toMatchObject({ status: 413, message: "body is larger than 10 bytes" });
  });

  it("refuses a body whose declared length is over the limit, whatever arrives", async () => {
    await expect(readBody(post([bytes(4)], { "content-length": "11" }), 10)).rejects.toMatchObject({ status: 413 });
    expect((await readBody(post([bytes(4)], { "content-length": "10" }), 10)).length).toBe(4);
  });

  it("stops reading past the drain limit", async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(bytes(1024 * 1024));
      },
    });
    const request = new Request("http://function.test/", { method: "POST", body: endless, duplex: "half" } as RequestInit);
    await expect(readBody(request, 10)).rejects.toMatchObject({ status: 413 });
    expect(pulled).toBeLessThanOrEqual(MAX_DRAIN_BYTES / (1024 * 1024) + 2);
    const exactly = post(Array.from({ length: MAX_DRAIN_BYTES / (1024 * 1024) }, () => bytes(1024 * 1024)));
    await expect(readBody(exactly, 10)).rejects.toMatchObject({ status: 413, message: "body is larger than 10 bytes" });
  });
});

describe("jsonDepth", () => {
  it("counts closing brackets of both kinds, and escaped quotes inside strings", () => {
    expect(jsonDepth("[[]][[]]")).toBe(2);
    expect(jsonDepth("{}{}{}[")).toBe(1);
    expect(jsonDepth('["\\"[[[", [1]]')).toBe(2);
    expect(jsonDepth('"\\\\"[[1]]')).toBe(2);
  });
});
