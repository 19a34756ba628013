// A real HTTP receiver for the delivery tests (test/workers/deliveries*.test.ts). The Workers-pool
// tests run inside workerd, which cannot open a listening socket, so this vitest globalSetup
// starts the receiver in Node and `provide`s its port; the tests reach it over loopback exactly
// as the deliveries consumer reaches Slack or a customer's endpoint.
//
//   POST|PUT /hooks/<name>      recorded; answered according to <name>'s mode (default "ok")
//   POST /control/mode          {name, mode: "ok" | "down" | <HTTP status>} — "down" resets the
//                               connection without answering (a receiver that is not there)
//   GET  /control/log?name=     what <name> received: [{method, path, headers, body, answered}]
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    receiverPort: number;
  }
}

/** What a test can read back from the receiver. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The HTTP status the receiver answered, or "reset" when it dropped the connection. */
  answered: number | "reset";
  at: number;
}

type Mode = "ok" | "down" | number;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export default async function setup(project: TestProject) {
  const modes = new Map<string, Mode>();
  const log = new Map<string, ReceivedRequest[]>();

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const body = await readBody(req).catch(() => "");
    if (url.pathname === "/control/mode" && req.method === "POST") {
      const { name, mode } = JSON.parse(body) as { name: string; mode: Mode };
      modes.set(name, mode);
      return json(res, 200, { ok: true });
    }
    if (url.pathname === "/control/log" && req.method === "GET") {
      return json(res, 200, log.get(url.searchParams.get("name") ?? "") ?? []);
    }
    const hook = /^\/hooks\/([^/]+)$/.exec(url.pathname);
    if (!hook?.[1]) return json(res, 404, { error: "no such path" });
    const name = hook[1];
    const mode = modes.get(name) ?? "ok";
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === "string") headers[k] = v;
    }
    const entry: ReceivedRequest = {
      method: req.method ?? "",
      path: url.pathname,
      headers,
      body,
      answered: mode === "down" ? "reset" : mode === "ok" ? 200 : mode,
      at: Date.now(),
    };
    log.set(name, [...(log.get(name) ?? []), entry]);
    if (mode === "down") {
      req.socket.destroy();
      return;
    }
    if (mode === "ok") {
      // Slack answers a plain-text "ok"; a generic receiver anything 2xx.
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
      return;
    }
    json(res, mode, { error: `receiver configured to answer ${mode}` });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("receiverPort", (server.address() as AddressInfo).port);
  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
