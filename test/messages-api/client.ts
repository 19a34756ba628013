import type { LoggedRequest, Step } from "./server";

// What a test tells the local Messages API server (./server.ts) and reads back from it, from the
// Workers pool and from Node alike: the script a key's calls are answered from, and the log of
// what the SDK sent under that key.

/** Replaces `key`'s script with `steps`, or with the echo scenario. */
export async function scriptKey(base: string, key: string, steps: Step[] | "echo"): Promise<void> {
  const res = await fetch(`${base}/control/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(steps === "echo" ? { key, scenario: "echo" } : { key, steps }),
  });
  if (res.status !== 200) throw new Error(`scripting ${key}: ${res.status} ${await res.text()}`);
}

/** Every request the server received under `key`, oldest first. */
export async function keyLog(base: string, key: string): Promise<LoggedRequest[]> {
  return (await fetch(`${base}/control/log?key=${encodeURIComponent(key)}`)).json();
}

/** A step in which the model calls `name` (after saying `text`, when given). */
export const toolUse = (name: string, input: unknown, text?: string): Step => ({
  content: [...(text ? [{ type: "text" as const, text }] : []), { type: "tool_use", name, input }],
  stop_reason: "tool_use",
});

/** A step in which the model answers `text` and ends its turn. */
export const say = (text: string): Step => ({ content: [{ type: "text", text }] });
