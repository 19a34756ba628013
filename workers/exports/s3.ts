import { AwsClient } from "aws4fetch";
import { checkOutboundUrl } from "../../domain/outbound-url";
import { getDestinationSecret, type S3Settings } from "../../store/exports";
import { toHex } from "../auth";
import { openSecret } from "../deliveries/secrets";

// The `s3` destination (issue 16 §3; docs/exports.md "The s3 destination"): the tenant's own
// S3-compatible bucket (Amazon S3, R2 through its S3 endpoint, MinIO, …). Requests are signed
// with SigV4 by aws4fetch (service "s3"), each carrying the SHA-256 of its body in
// `x-amz-content-sha256`, so the bucket rejects a body changed on the way. Every URL is checked
// by the outbound guard right before its fetch, as every URL Aforo fetches for a tenant is:
// https to a public host, loopback only in local mode (AFORO_LOCAL_NETWORK=loopback).
//
// One PUT per file. An export file holds at most FILE_ROWS rows (a few MB of Parquet; the
// largest, 50,000 events with long properties, stays far under 64 MiB), and a Worker could not
// hold a file near S3's 5 GiB single-PUT limit anyway, so multipart upload would add requests
// and failure modes without lifting a limit a run can reach.

const TIMEOUT_MS = 30_000;
/** aws4fetch retries 5xx and 429 answers (a random wait of up to 50 ms, doubling); a PUT is
 * idempotent by key. */
const RETRIES = 2;
const ERROR_CHARS = 300;

/** A bucket key → its URL under the endpoint: path-style `endpoint/bucket/key` (R2, MinIO and
 * S3 all take it), or virtual-hosted `bucket.endpoint-host/key`. */
export function objectUrl(s: S3Settings, key: string): string {
  const base = new URL(s.endpoint);
  const path = key.split("/").map(encodeURIComponent).join("/");
  if (s.path_style) return `${base.origin}/${encodeURIComponent(s.bucket)}/${path}`;
  return `${base.protocol}//${s.bucket}.${base.host}/${path}`;
}

/** The `<Code>` and `<Message>` of an S3 error body (XML), when it has them. */
export function s3ErrorOf(body: string): { code: string | null; message: string | null } {
  const field = (name: string) => {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(body);
    return m?.[1]?.trim() || null;
  };
  return { code: field("Code"), message: field("Message") };
}

/** A request the bucket refused, or one that never got an answer. */
export class S3Error extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string | null,
  ) {
    super(message);
    this.name = "S3Error";
  }
}

const sha256Hex = async (bytes: Uint8Array) => toHex(await crypto.subtle.digest("SHA-256", bytes));

/** A tenant's bucket, ready to sign for. */
export class S3Bucket {
  readonly #client: AwsClient;

  constructor(
    readonly settings: S3Settings,
    secretAccessKey: string,
    readonly localNetwork: string | undefined,
  ) {
    this.#client = new AwsClient({
      accessKeyId: settings.access_key_id,
      secretAccessKey,
      service: "s3",
      region: settings.region,
      retries: RETRIES,
    });
  }

  /** The full key of an export object: the destination's prefix, then the Hive layout. */
  keyOf(objectKey: string): string {
    return `${this.settings.prefix}${objectKey}`;
  }

  async #send(
    method: "PUT" | "GET" | "DELETE",
    key: string,
    body: Uint8Array | null,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const checked = checkOutboundUrl(objectUrl(this.settings, key), {
      localNetwork: this.localNetwork,
    });
    if (!checked.ok) throw new S3Error(`refused: ${checked.reason}`, null, null);
    const hash = await sha256Hex(body ?? new Uint8Array(0));
    let res: Response;
    try {
      res = await this.#client.fetch(checked.url, {
        method,
        headers: { ...headers, "x-amz-content-sha256": hash },
        ...(body ? { body } : {}),
        // A redirect (a bucket in another region) is a setting to fix, not one to follow.
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const reason =
        err instanceof Error && err.name === "TimeoutError"
          ? `no answer within ${TIMEOUT_MS / 1000} s`
          : err instanceof Error
            ? err.message
            : String(err);
      throw new S3Error(`S3 ${method}: network error: ${reason} (key ${key})`, null, null);
    }
    if (res.ok || (method === "GET" && res.status === 404)) return res;
    const text = await res.text().catch(() => "");
    const { code, message } = s3ErrorOf(text);
    const detail = [code, message].filter(Boolean).join(": ");
    // The status and code first: the run's error is cut at 300 characters, and keys are long.
    throw new S3Error(
      `S3 ${method} answered ${res.status}${detail ? ` ${detail}` : ""} (key ${key})`.slice(
        0,
        ERROR_CHARS,
      ),
      res.status,
      code,
    );
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const res = await this.#send("PUT", key, bytes, { "content-type": contentType });
    await res.body?.cancel();
  }

  async delete(key: string): Promise<void> {
    const res = await this.#send("DELETE", key, null);
    await res.body?.cancel();
  }

  /** The object, or null when the bucket has no such key. */
  async get(key: string): Promise<Response | null> {
    const res = await this.#send("GET", key, null);
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    return res;
  }
}

/** An s3 destination's bucket with its secret opened, or why not. */
export async function openS3Bucket(
  env: Env,
  tenantId: string,
  destinationId: string,
): Promise<{ ok: true; bucket: S3Bucket } | { ok: false; error: string }> {
  const d = await getDestinationSecret(env.DB, tenantId, destinationId);
  if (!d) return { ok: false, error: "the destination was deleted" };
  if (d.type !== "s3" || d.s3 === null || d.secret === null) {
    return { ok: false, error: "the destination is not an s3 bucket with credentials" };
  }
  const opened = await openSecret(env, tenantId, d.id, d.secret);
  if (!opened.ok) return { ok: false, error: opened.detail };
  return { ok: true, bucket: new S3Bucket(d.s3, opened.value, env.AFORO_LOCAL_NETWORK) };
}
