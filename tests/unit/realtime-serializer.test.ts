import { describe, expect, it } from "vitest";
import { decodeBinary, decodeText, encodeBroadcast, encodeText, FrameError } from "../../local/realtime/serializer.ts";

describe("Phoenix V2 text frames", () => {
  it("decode [join_ref, ref, topic, event, payload], refs as strings or null", () => {
    expect(decodeText('["1","2","realtime:c","phx_join",{"a":1}]')).toEqual({ joinRef: "1", ref: "2", topic: "realtime:c", event: "phx_join", payload: { a: 1 } });
    expect(decodeText('[null,7,"phoenix","heartbeat",{}]')).toEqual({ joinRef: null, ref: "7", topic: "phoenix", event: "heartbeat", payload: {} });
    expect(encodeText({ joinRef: null, ref: "3", topic: "t", event: "e", payload: [1] })).toBe('[null,"3","t","e",[1]]');
  });

  it.each([
    ['{"a":1}', "a frame is [join_ref, ref, topic, event, payload]"],
    ['["1","2","t","e"]', "a frame is [join_ref, ref, topic, event, payload]"],
    ['["1","2",3,"e",{}]', "topic and event must be strings"],
    ['["1","2","t",4,{}]', "topic and event must be strings"],
    ['[{},"2","t","e",{}]', "join_ref and ref must be strings or null"],
  ])("refuse %s", (text, problem) => {
    expect(() => decodeText(text)).toThrow(new FrameError(problem));
  });
});

describe("binary user broadcasts", () => {
  const push = (encoding: number, body: Buffer, meta = "") => {
    const parts = ["1", "22", "realtime:c", "typing", meta].map((text) => Buffer.from(text));
    return Buffer.concat([Buffer.from([3, ...parts.map((part) => part.length), encoding]), ...parts, body]);
  };

  it("decode a client's push (kind 3) with a JSON or a binary payload", () => {
    expect(decodeBinary(push(1, Buffer.from('{"x":1}'), '{"replay":true}'))).toEqual({
      joinRef: "1", ref: "22", topic: "realtime:c", event: "typing", meta: { replay: true }, payload: { encoding: "json", value: { x: 1 } },
    });
    const binary = decodeBinary(push(0, Buffer.from([1, 2, 3])));
    expect(binary).toEqual({ joinRef: "1", ref: "22", topic: "realtime:c", event: "typing", meta: null, payload: { encoding: "binary", bytes: Buffer.from([1, 2, 3]) } });
    const noRefs = Buffer.concat([Buffer.from([3, 0, 0, 1, 1, 0, 1]), Buffer.from("te"), Buffer.from("1")]);
    expect(decodeBinary(noRefs)).toMatchObject({ joinRef: null, ref: null, topic: "t", event: "e", payload: { encoding: "json", value: 1 } });
  });

  it("refuse other kinds and short frames", () => {
    expect(() => decodeBinary(Buffer.from([4, 0, 0, 0, 0, 0, 1]))).toThrow(new FrameError("binary frame of kind 4 is not a user broadcast push"));
    expect(() => decodeBinary(Buffer.from([3, 0, 0, 0, 0, 0]))).toThrow(new FrameError("binary frame too short"));
    expect(decodeBinary(Buffer.from([3, 0, 0, 0, 0, 0, 0])).payload).toEqual({ encoding: "binary", bytes: Buffer.alloc(0) });
  });

  it("encode the server's broadcast (kind 4), and refuse a part over 255 bytes", () => {
    expect([...encodeBroadcast("t", "ev", { encoding: "json", value: 1 }, { m: 1 })]).toEqual([4, 1, 2, 7, 1, ...Buffer.from('tev{"m":1}1')]);
    expect([...encodeBroadcast("t", "e", { encoding: "binary", bytes: Buffer.from([9]) }, null)]).toEqual([4, 1, 1, 0, 0, ...Buffer.from("te"), 9]);
    expect([...encodeBroadcast("t".repeat(255), "e", { encoding: "binary", bytes: Buffer.alloc(0) }, null)]).toHaveLength(5 + 256);
    expect(() => encodeBroadcast("t".repeat(256), "e", { encoding: "binary", bytes: Buffer.alloc(0) }, null)).toThrow(new FrameError("topic, event and meta must each fit in 255 bytes"));
  });
});
