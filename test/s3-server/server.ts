// An S3-compatible bucket for the s3 export destination's tests, in Node: started by vitest's
// globalSetup for test/workers/exports-s3.test.ts (workerd cannot listen) with its port
// `provide`d, and by test/browser/exports.test.ts itself (startS3Bucket). It
// checks every request the way S3 does before storing anything: the SigV4 signature recomputed
// here from the AWS specification (canonical request, string to sign, the HMAC key chain) with
// the secret of the access key the request names, and `x-amz-content-sha256` against the body.
// A wrong secret answers 403 SignatureDoesNotMatch, as S3 does. Objects live in memory.
//
//   PUT|GET|DELETE /<bucket>/<key>   path-style object operations (signed)
//   GET  /_control/objects?bucket=   [{key, size, sha256, content_type}] of the bucket
//   GET  /_control/object?bucket=&key=   the stored bytes
//   GET  /_control/log?bucket=       [{method, key, status, content_sha256}] of signed requests
//   POST /_control/deny?bucket=&method=   answer 403 AccessDenied to that method from now on
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from "./credentials";

declare module "vitest" {
  export interface ProvidedContext {
    s3Port: number;
  }
}

const SECRETS = new Map([[S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY]]);
/** S3 refuses a request signed more than 15 minutes from its own clock. */
const SKEW_MS = 15 * 60_000;

interface StoredObject {
  body: Buffer;
  contentType: string;
}

export interface S3LogEntry {
  method: string;
  key: string;
  status: number;
  content_sha256: string | null;
}

const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) =>
  createHmac("sha256", key).update(data).digest();

/** URI-encodes as SigV4 does: every byte but A-Z a-z 0-9 - . _ ~ as %XX (uppercase). */
function uriEncode(text: string, keepSlash: boolean): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === "/")) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function xmlError(res: ServerResponse, status: number, code: string, message: string) {
  res.writeHead(status, { "content-type": "application/xml" });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Null when the request is signed by a known key over exactly what arrived, else the S3
 * error it gets. */
function checkSignature(
  req: IncomingMessage,
  url: URL,
  body: Buffer,
): { status: number; code: string; message: string } | null {
  const auth = req.headers.authorization ?? "";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return { status: 403, code: "AccessDenied", message: "missing or malformed SigV4" };
  const [, keyId = "", date = "", region = "", service = "", signedHeaders = "", signature] = m;
  const secret = SECRETS.get(keyId);
  if (!secret) {
    return { status: 403, code: "InvalidAccessKeyId", message: "unknown access key id" };
  }
  if (service !== "s3") return { status: 403, code: "AccessDenied", message: "not s3" };
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const at = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  if (!amzDate.startsWith(date) || !(Math.abs(Date.now() - at) < SKEW_MS)) {
    return { status: 403, code: "RequestTimeTooSkewed", message: "x-amz-date is off" };
  }
  const contentSha = String(req.headers["x-amz-content-sha256"] ?? "");
  if (contentSha !== sha256Hex(body)) {
    return {
      status: 400,
      code: "XAmzContentSHA256Mismatch",
      message: "x-amz-content-sha256 is not the body's SHA-256",
    };
  }
  const names = signedHeaders.split(";");
  if (!names.includes("host") || !names.includes("x-amz-content-sha256")) {
    return { status: 403, code: "AccessDenied", message: "host and the body hash must be signed" };
  }
  const canonicalHeaders = names
    .map((n) => {
      const v = req.headers[n];
      const text = Array.isArray(v) ? v.join(",") : (v ?? "");
      return `${n}:${text.trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const canonicalPath = url.pathname
    .split("/")
    .map((segment) => uriEncode(decodeURIComponent(segment), false))
    .join("/");
  const canonicalQuery = [...url.searchParams]
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalRequest = [
    req.method ?? "",
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    contentSha,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  const kDate = hmac(`AWS4${secret}`, date);
  const kSigning = hmac(hmac(hmac(kDate, region), service), "aws4_request");
  const expected = createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  if (expected !== signature) {
    return {
      status: 403,
      code: "SignatureDoesNotMatch",
      message:
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    };
  }
  return null;
}

export interface S3Stub {
  /** `http://127.0.0.1:<port>`: the endpoint a destination names. */
  url: string;
  port: number;
  close: () => Promise<void>;
}

export async function startS3Bucket(): Promise<S3Stub> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const logs = new Map<string, S3LogEntry[]>();
  const denied = new Map<string, Set<string>>();
  const bucketOf = (name: string) => {
    const found = buckets.get(name);
    if (found) return found;
    const created = new Map<string, StoredObject>();
    buckets.set(name, created);
    return created;
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://s3");
    const body = await readBody(req).catch(() => Buffer.alloc(0));
    const bucketParam = url.searchParams.get("bucket") ?? "";
    if (url.pathname === "/_control/objects") {
      const list = [...bucketOf(bucketParam)].map(([key, o]) => ({
        key,
        size: o.body.length,
        sha256: sha256Hex(o.body),
        content_type: o.contentType,
      }));
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(list.sort((a, b) => (a.key < b.key ? -1 : 1))));
    }
    if (url.pathname === "/_control/object") {
      const o = bucketOf(bucketParam).get(url.searchParams.get("key") ?? "");
      if (!o) return xmlError(res, 404, "NoSuchKey", "no such key");
      res.writeHead(200, { "content-type": o.contentType });
      return res.end(o.body);
    }
    if (url.pathname === "/_control/log") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify(logs.get(bucketParam) ?? []));
    }
    if (url.pathname === "/_control/deny" && req.method === "POST") {
      const set = denied.get(bucketParam) ?? new Set();
      set.add(url.searchParams.get("method") ?? "");
      denied.set(bucketParam, set);
      res.writeHead(204);
      return res.end();
    }

    const path = /^\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!path?.[1] || !path[2]) return xmlError(res, 400, "InvalidRequest", "path-style only");
    const bucketName = decodeURIComponent(path[1]);
    const key = path[2].split("/").map(decodeURIComponent).join("/");
    const answer = (status: number) => {
      const log = logs.get(bucketName) ?? [];
      log.push({
        method: req.method ?? "",
        key,
        status,
        content_sha256: (req.headers["x-amz-content-sha256"] as string | undefined) ?? null,
      });
      logs.set(bucketName, log);
    };
    const refused = checkSignature(req, url, body);
    if (refused) {
      answer(refused.status);
      return xmlError(res, refused.status, refused.code, refused.message);
    }
    if (denied.get(bucketName)?.has(req.method ?? "")) {
      answer(403);
      return xmlError(res, 403, "AccessDenied", "Access Denied");
    }
    const objects = bucketOf(bucketName);
    if (req.method === "PUT") {
      objects.set(key, {
        body,
        contentType: String(req.headers["content-type"] ?? "binary/octet-stream"),
      });
      answer(200);
      res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` });
      return res.end();
    }
    if (req.method === "GET") {
      const o = objects.get(key);
      if (!o) {
        answer(404);
        return xmlError(res, 404, "NoSuchKey", "The specified key does not exist.");
      }
      answer(200);
      res.writeHead(200, {
        "content-type": o.contentType,
        "content-length": String(o.body.length),
        etag: `"${createHash("md5").update(o.body).digest("hex")}"`,
      });
      return res.end(o.body);
    }
    if (req.method === "DELETE") {
      objects.delete(key);
      answer(204);
      res.writeHead(204);
      return res.end();
    }
    answer(405);
    return xmlError(res, 405, "MethodNotAllowed", "not supported here");
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export default async function setup(project: TestProject) {
  const stub = await startS3Bucket();
  project.provide("s3Port", stub.port);
  return stub.close;
}
