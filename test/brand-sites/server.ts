// Saved sites for Brand Auto-Extract (test/workers/storefront-brand.test.ts), served over real
// HTTP from Node like the delivery tests' receiver: workerd cannot listen, so this vitest
// globalSetup serves them and `provide`s the port. The pages are test/fixtures/brand-sites/
// <layout>/; their logo images are encoded here at start (fast-png, jpeg-js) rather than kept as
// binaries. Hostile pages are made up as they are asked for:
//
//   /hostile/huge         3 MB of HTML streamed in chunks, no Content-Length
//   /hostile/huge-declared  Content-Length: 50 MB (nothing sent)
//   /hostile/slow         headers, then a byte every 500 ms, never finished
//   /hostile/hang         never answers at all (also hang.css, hang.png)
//   /hostile/slow-assets  a page whose two stylesheets and logo never answer
//   /hostile/loop-a       302 → loop-b → loop-a …
//   /hostile/chain/<n>    302 → chain/<n+1>, forever (no loop, just too many hops)
//   /hostile/metadata     302 → http://169.254.169.254/latest/meta-data/
//   /hostile/private      302 → http://10.0.0.1/
//   /hostile/pdf          a PDF, not a page
//   /hostile/missing      404
import { readFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { encode as encodePng } from "fast-png";
import { encode as encodeJpeg } from "jpeg-js";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    brandSitesPort: number;
  }
}

const ROOT = join(import.meta.dirname, "..", "fixtures", "brand-sites");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

/** The logo colours the tests expect back (the header-logo site has no other colour). */
const LOGO_BLUE = [0x1d, 0x4e, 0xd8] as const;
const LOGO_ORANGE = [0xf9, 0x73, 0x16] as const;

/** A 120×40 wordmark-like PNG: transparent ground, a blue block and a smaller orange one. */
function headerLogoPng(): Uint8Array {
  const w = 120;
  const h = 40;
  const data = new Uint8Array(w * h * 4);
  for (let y = 4; y < h - 4; y++) {
    for (let x = 4; x < w - 4; x++) {
      const [r, g, b] = x < 84 ? LOGO_BLUE : LOGO_ORANGE;
      data.set([r, g, b, 255], (y * w + x) * 4);
    }
  }
  return encodePng({ width: w, height: h, data, channels: 4 });
}

function solidJpeg(rgb: readonly number[]): Uint8Array {
  const w = 48;
  const h = 16;
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([rgb[0] ?? 0, rgb[1] ?? 0, rgb[2] ?? 0, 255], p * 4);
  return new Uint8Array(encodeJpeg({ data, width: w, height: h }, 90).data);
}

function redirect(res: ServerResponse, location: string) {
  res.writeHead(302, { location });
  res.end();
}

/** Serves the sites on a free loopback port (the browser test starts its own). */
export async function startBrandSites(): Promise<{ port: number; close: () => Promise<void> }> {
  const generated = new Map<string, Uint8Array>([
    ["/header-logo/logo.png", headerLogoPng()],
    ["/self-hosted/logo.jpg", solidJpeg([0x16, 0xa3, 0x4a])],
  ]);
  const timers = new Set<ReturnType<typeof setInterval>>();

  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://sites").pathname;
    switch (path) {
      case "/hostile/huge": {
        res.writeHead(200, { "content-type": "text/html" });
        const chunk = `<p>${"x".repeat(64 * 1024 - 7)}</p>`;
        let sent = 0;
        const write = () => {
          while (sent < 3 * 1024 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", write);
          }
          res.end();
        };
        res.on("error", () => {});
        write();
        return;
      }
      case "/hostile/huge-declared":
        res.writeHead(200, { "content-type": "text/html", "content-length": 50 * 1024 * 1024 });
        res.write("<html>");
        return;
      case "/hostile/slow": {
        res.writeHead(200, { "content-type": "text/html" });
        res.write("<html><head><title>Slow");
        const drip = setInterval(() => res.write("."), 500);
        timers.add(drip);
        res.on("close", () => {
          clearInterval(drip);
          timers.delete(drip);
        });
        return;
      }
      case "/hostile/hang":
      case "/hostile/hang.css":
      case "/hostile/hang.png":
        return;
      case "/hostile/slow-assets":
        // A fine page whose stylesheets and logo never arrive: each costs its own timeout only.
        res.writeHead(200, { "content-type": "text/html" });
        res.end(
          `<title>Stall</title><link rel="stylesheet" href="/hostile/hang.css?1"><link rel="stylesheet" href="/hostile/hang.css?2"><header><img class="logo" src="/hostile/hang.png"></header><h1>Still here</h1>`,
        );
        return;
      case "/hostile/loop-a":
        return redirect(res, "/hostile/loop-b");
      case "/hostile/loop-b":
        return redirect(res, "/hostile/loop-a");
      case "/hostile/metadata":
        return redirect(res, "http://169.254.169.254/latest/meta-data/");
      case "/hostile/private":
        return redirect(res, "http://10.0.0.1/");
      case "/hostile/pdf":
        res.writeHead(200, { "content-type": "application/pdf" });
        res.end("%PDF-1.7\n");
        return;
    }
    const chain = /^\/hostile\/chain\/(\d+)$/.exec(path);
    if (chain) return redirect(res, `/hostile/chain/${Number(chain[1]) + 1}`);

    const image = generated.get(path);
    if (image) {
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream" });
      res.end(image);
      return;
    }
    const file = normalize(join(ROOT, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(ROOT)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
    }
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export default async function setup(project: TestProject) {
  const sites = await startBrandSites();
  project.provide("brandSitesPort", sites.port);
  return sites.close;
}
