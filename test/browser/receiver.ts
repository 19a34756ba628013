// A webhook receiver on loopback for the browser tests (local mode lets channels and export
// destinations reach 127.0.0.1): it records every request and answers `status` — 200 unless a
// test changes it to see Aforo retry or report a failing endpoint.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  setStatus: (status: number) => void;
  close: () => Promise<void>;
}

/** Listens on a free loopback port; `path` is the URL the tests give Aforo. */
export function startReceiver(path: string): Promise<Receiver> {
  const received: Received[] = [];
  let status = 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      received.push({ headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status < 300 ? "ok" : "receiver is failing on purpose");
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}${path}`,
        received,
        setStatus: (s) => {
          status = s;
        },
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
