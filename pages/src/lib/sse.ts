// Server-Sent Events over fetch: /api/live authenticates with an Authorization header, which
// EventSource cannot send, so the dashboard reads the stream itself. The parser follows the
// HTML spec's event-stream rules for the fields the server uses (event, data, retry, comments).

export interface SseMessage {
  event: string;
  data: string;
}

export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  retryMs: number | null = null;

  /** Feeds decoded text; returns the messages completed by it. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      const width = this.buffer.startsWith("\r\n", nl) ? 2 : 1;
      this.buffer = this.buffer.slice(nl + width);
      if (line === "") {
        if (this.data.length > 0)
          out.push({ event: this.event || "message", data: this.data.join("\n") });
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
      else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return out;
  }
}

/** Reads an SSE response until it ends or the signal aborts, calling onMessage per message. */
export async function readSse(
  res: Response,
  onMessage: (m: SseMessage) => void,
  signal: AbortSignal,
): Promise<{ retryMs: number | null }> {
  if (!res.body) return { retryMs: null };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  const stop = () => {
    reader.cancel().catch(() => {});
  };
  signal.addEventListener("abort", stop, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) break;
      for (const m of parser.push(decoder.decode(value, { stream: true }))) onMessage(m);
    }
  } finally {
    signal.removeEventListener("abort", stop);
  }
  return { retryMs: parser.retryMs };
}
