// A local stand-in for Anthropic's Messages API, for every AI feature's tests (docs/ai.md). The
// Workers-pool tests cannot listen on a socket, so this runs in Node: as a vitest globalSetup
// that `provide`s its port (the workers project points ANTHROPIC_BASE_URL at it), or started by
// the stack and browser tests with startMessagesApi().
//
// Scripts are keyed by the API key a request carries (x-api-key or bearer), so parallel tests that each
// set their own key never read each other's script or log.
//
//   POST /v1/messages        answers with the key's next scripted step; streaming (SSE:
//                            message_start, content_block_start/delta/stop, message_delta,
//                            message_stop) when the body says `stream: true`
//   POST /control/script     {key, steps: Step[]} — replaces the key's script; or
//                            {key, scenario: "echo"}: every call answers "echo: <last user text>"
//   GET  /control/log?key=   what the key's requests were: [{body, stream, retry_count, answered}]
//
// A step is a message ({content: [{type: "text", text} | {type: "tool_use", name, input}],
// stop_reason?, usage?}) or an error ({error: 429 | 529 | 400 | …, message?}). Without usage,
// tokens are counted as characters / 4. A key with nothing left in its script is answered 400
// with x-should-retry: false, so a test that makes one call too many fails loudly; a key never
// scripted is answered 401, as the real API answers a key it does not know.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    messagesApiPort: number;
  }
}

export interface ScriptedUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export type ScriptedBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; name: string; input: unknown; id?: string };

export type Step =
  | { content: ScriptedBlock[]; stop_reason?: string; usage?: ScriptedUsage }
  | { error: number; message?: string };

export interface LoggedRequest {
  at: number;
  // biome-ignore lint/suspicious/noExplicitAny: the request body as the SDK sent it
  body: any;
  stream: boolean;
  /** The SDK's x-stainless-retry-count: 0 on a first attempt. */
  retry_count: number;
  answered: number;
}

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const tokensOf = (value: unknown) => Math.ceil(JSON.stringify(value ?? "").length / 4);

// biome-ignore lint/suspicious/noExplicitAny: request bodies are arbitrary JSON
function lastUserText(body: any): string {
  const last = [...(body?.messages ?? [])].reverse().find((m) => m.role === "user");
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  return (last.content as { type: string; text?: string }[])
    .filter((b) => b.type === "text")
    .map((b) => b.text ?? "")
    .join("");
}

export interface MessagesApi {
  port: number;
  url: string;
  close: () => Promise<void>;
}

export async function startMessagesApi(port = 0): Promise<MessagesApi> {
  const scripts = new Map<string, Step[] | "echo">();
  const logs = new Map<string, LoggedRequest[]>();
  let ids = 0;
  const nextId = (prefix: string) => `${prefix}_${(++ids).toString(36).padStart(8, "0")}`;

  function json(res: ServerResponse, status: number, body: unknown, headers = {}) {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://messages-api");
    const text = await readBody(req).catch(() => "");
    if (url.pathname === "/control/script" && req.method === "POST") {
      const { key, steps, scenario } = JSON.parse(text) as {
        key: string;
        steps?: Step[];
        scenario?: "echo";
      };
      scripts.set(key, scenario === "echo" ? "echo" : [...(steps ?? [])]);
      logs.set(key, []);
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/control/log" && req.method === "GET") {
      return json(res, 200, logs.get(url.searchParams.get("key") ?? "") ?? []);
    }
    if (url.pathname !== "/v1/messages" || req.method !== "POST") {
      return json(res, 404, {
        type: "error",
        error: { type: "not_found_error", message: "no such path" },
      });
    }

    // The SDK sends the key as x-api-key or as a bearer token, depending on its auth mode.
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    const key = String(req.headers["x-api-key"] ?? bearer ?? "");
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's request body
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const stream = body?.stream === true;
    const entry: LoggedRequest = {
      at: Date.now(),
      body,
      stream,
      retry_count: Number(req.headers["x-stainless-retry-count"] ?? 0),
      answered: 200,
    };
    logs.set(key, [...(logs.get(key) ?? []), entry]);
    const requestId = nextId("req");

    const script = scripts.get(key);
    const step: Step | undefined =
      script === "echo"
        ? { content: [{ type: "text", text: `echo: ${lastUserText(body)}` }] }
        : script?.shift();
    if (script === undefined) {
      // A key no test scripted is a key the real API does not know.
      entry.answered = 401;
      return json(
        res,
        401,
        { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
        { "request-id": requestId },
      );
    }
    if (!step || !body) {
      entry.answered = 400;
      return json(
        res,
        400,
        {
          type: "error",
          error: {
            type: "invalid_request_error",
            message: body ? `no scripted answer left for this key` : "body is not JSON",
          },
        },
        { "request-id": requestId, "x-should-retry": "false" },
      );
    }
    if ("error" in step) {
      entry.answered = step.error;
      return json(
        res,
        step.error,
        {
          type: "error",
          error: {
            type: ERROR_TYPES[step.error] ?? "api_error",
            message: step.message ?? `scripted ${step.error}`,
          },
        },
        // Retries come back at once: the SDK honours retry-after-ms.
        { "request-id": requestId, "retry-after-ms": "5" },
      );
    }

    const content = step.content.map((b) =>
      b.type === "tool_use"
        ? { type: "tool_use", id: b.id ?? nextId("toolu"), name: b.name, input: b.input }
        : b,
    );
    const stopReason =
      step.stop_reason ?? (content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn");
    const usage = {
      input_tokens: step.usage?.input_tokens ?? tokensOf([body.system, body.messages, body.tools]),
      output_tokens: step.usage?.output_tokens ?? tokensOf(content),
      cache_read_input_tokens: step.usage?.cache_read_input_tokens ?? 0,
      cache_creation_input_tokens: step.usage?.cache_creation_input_tokens ?? 0,
    };
    const message = {
      id: nextId("msg"),
      type: "message",
      role: "assistant",
      model: body.model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    };
    if (!stream) return json(res, 200, message, { "request-id": requestId });

    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "request-id": requestId,
    });
    const send = (event: string, data: unknown) =>
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    send("message_start", {
      type: "message_start",
      message: {
        ...message,
        content: [],
        stop_reason: null,
        usage: { ...usage, output_tokens: 1 },
      },
    });
    send("ping", { type: "ping" });
    content.forEach((block, index) => {
      if (block.type === "text") {
        send("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "" },
        });
        // Word by word, as the real API streams a few tokens per delta.
        for (const piece of (block as { text: string }).text.match(/\S+\s*|\s+/g) ?? []) {
          send("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "text_delta", text: piece },
          });
        }
      } else {
        const use = block as { id: string; name: string; input: unknown };
        send("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: use.id, name: use.name, input: {} },
        });
        const partial = JSON.stringify(use.input);
        for (let i = 0; i < partial.length; i += 16) {
          send("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "input_json_delta", partial_json: partial.slice(i, i + 16) },
          });
        }
      }
      send("content_block_stop", { type: "content_block_stop", index });
    });
    send("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    });
    send("message_stop", { type: "message_stop" });
    res.end();
  });

  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The Workers-pool globalSetup: one server for the run, its port provided to the tests. */
export default async function setup(project: TestProject) {
  const api = await startMessagesApi();
  project.provide("messagesApiPort", api.port);
  return api.close;
}
