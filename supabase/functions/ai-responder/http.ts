export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export class BodyError extends Error {
  readonly status: 400 | 413;
  constructor(message: string, status: 400 | 413 = 400) {
    super(message);
    this.status = status;
  }
}

/**
 * How much of an oversized body is read and thrown away before answering 413. Deno 2.1 (the
 * hosted Edge Runtime's) resets the connection when a response goes out before the request's
 * body was read (supabase/edge-runtime#737), which a caller cannot tell from a crash.
 */
export const MAX_DRAIN_BYTES = 16 * 1024 * 1024;

/** Reads at most maxBytes of the body; a larger body is drained, never kept. */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new BodyError(`body is larger than ${maxBytes} bytes`, 413);
  const declared = Number(request.headers.get("content-length") ?? 0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      // Leaving the loop cancels the stream: past the drain limit, the rest is never read.
      if (size > MAX_DRAIN_BYTES) throw tooLarge();
      if (size <= maxBytes && declared <= maxBytes) chunks.push(chunk);
    }
  }
  if (size > maxBytes || declared > maxBytes) throw tooLarge();
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** The body as strict UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BodyError("body is not valid UTF-8");
  }
}

/**
 * How deeply arrays and objects nest in a JSON text, counted without parsing it: parsing a
 * deeply nested body costs memory out of proportion to its size, and a webhook nests 3 levels.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "[" || char === "{") deepest = Math.max(deepest, ++depth);
    else if (char === "]" || char === "}") depth--;
  }
  return deepest;
}
