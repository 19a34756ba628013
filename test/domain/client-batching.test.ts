// The sender's pure parts: how a queue is cut into /v1/events requests, the retry schedule and
// Retry-After (packages/client).
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY, isRetryableStatus, retryDelay } from "../../packages/client/src/backoff";
import {
  batchIsFull,
  fitsAlone,
  jsonBytes,
  MAX_BATCH_BYTES,
  nextBatchSize,
} from "../../packages/client/src/batching";
import { AforoError, parseRetryAfter } from "../../packages/client/src/errors";

const sized = (...bytes: number[]) => bytes.map((b) => ({ bytes: b }));

describe("nextBatchSize", () => {
  it("stops at the event limit", () => {
    expect(nextBatchSize(sized(...Array(2500).fill(10)), 1000, MAX_BATCH_BYTES)).toBe(1000);
    expect(nextBatchSize(sized(10, 10, 10), 1000, MAX_BATCH_BYTES)).toBe(3);
    expect(nextBatchSize([], 1000, MAX_BATCH_BYTES)).toBe(0);
  });

  it("keeps the whole JSON array body within the byte limit, brackets and commas counted", () => {
    // [a,b] with a=b=4 bytes: 2 + 4 + 1 + 4 = 11 bytes.
    expect(nextBatchSize(sized(4, 4, 4), 1000, 11)).toBe(2);
    expect(nextBatchSize(sized(4, 4, 4), 1000, 10)).toBe(1);
    expect(nextBatchSize(sized(4, 4, 4), 1000, 16)).toBe(3);
  });

  it("the cut matches the real body's size", () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ id: `é-${i}`, quantity: i }));
    const queue = events.map((e) => ({ bytes: jsonBytes(e) }));
    const limit = 400;
    const n = nextBatchSize(queue, 1000, limit);
    expect(jsonBytes(events.slice(0, n))).toBeLessThanOrEqual(limit);
    expect(jsonBytes(events.slice(0, n + 1))).toBeGreaterThan(limit);
  });

  it("always takes the head, even when it alone is over the limit (the caller refuses those)", () => {
    expect(nextBatchSize(sized(50, 1), 1000, 20)).toBe(1);
    expect(fitsAlone({ bytes: 18 }, 20)).toBe(true);
    expect(fitsAlone({ bytes: 19 }, 20)).toBe(false);
  });

  it("counts UTF-8 bytes, not characters", () => {
    expect(jsonBytes("é")).toBe(4);
    expect(jsonBytes({ a: 1 })).toBe(7);
  });

  it("says when a full request is waiting", () => {
    expect(batchIsFull(1000, 10, 1000, MAX_BATCH_BYTES)).toBe(true);
    expect(batchIsFull(999, 10, 1000, MAX_BATCH_BYTES)).toBe(false);
    expect(batchIsFull(3, 100, 1000, 104)).toBe(true);
    expect(batchIsFull(3, 90, 1000, 104)).toBe(false);
  });
});

describe("retryDelay", () => {
  it("is full jitter under a ceiling that doubles up to maxDelayMs", () => {
    const top = () => 0.999999;
    expect(retryDelay(1, null, DEFAULT_RETRY, top)).toBe(249);
    expect(retryDelay(2, null, DEFAULT_RETRY, top)).toBe(499);
    expect(retryDelay(5, null, DEFAULT_RETRY, top)).toBe(3999);
    expect(retryDelay(30, null, DEFAULT_RETRY, top)).toBe(29_999);
    expect(retryDelay(3, null, DEFAULT_RETRY, () => 0)).toBe(0);
    expect(retryDelay(3, null, DEFAULT_RETRY, () => 0.5)).toBe(500);
  });

  it("never waits less than Retry-After, even above the ceiling", () => {
    expect(retryDelay(1, 2000, DEFAULT_RETRY, () => 0.5)).toBe(2000);
    expect(retryDelay(1, 120_000, DEFAULT_RETRY, () => 0.5)).toBe(120_000);
    expect(retryDelay(8, 10, DEFAULT_RETRY, () => 0.5)).toBe(15_000);
  });

  it("retries overload and Aforo's side, not the caller's mistakes", () => {
    for (const s of [429, 408, 500, 502, 503, 504]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 409, 413, 415, 422])
      expect(isRetryableStatus(s)).toBe(false);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-12-07T12:00:00Z");
  it("reads delay-seconds and HTTP dates", () => {
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Mon, 07 Dec 2026 12:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Mon, 07 Dec 2026 11:00:00 GMT", now)).toBe(0);
  });
  it("ignores what it cannot read", () => {
    for (const v of [null, undefined, "", "soon", "-1", "1.5", "12345678901234567890x"]) {
      expect(parseRetryAfter(v, now)).toBeNull();
    }
  });
});

describe("AforoError", () => {
  it("keeps the problem's code, detail and issues by field", () => {
    const res = new Response(null, { status: 400, headers: { "retry-after": "2" } });
    const err = AforoError.fromResponse(res, {
      type: "https://aforo.dev/problems/validation-failed",
      title: "Request failed validation",
      status: 400,
      detail: "name: required",
      code: "validation_failed",
      errors: [
        { path: "name", message: "required" },
        { path: "name", message: "too short" },
        { path: "components.0.amount", message: "not a number" },
      ],
    });
    expect(err).toBeInstanceOf(Error);
    expect([err.status, err.code, err.detail, err.retryAfterMs]).toEqual([
      400,
      "validation_failed",
      "name: required",
      2000,
    ]);
    expect(err.byField()).toEqual({
      name: ["required", "too short"],
      "components.0.amount": ["not a number"],
    });
  });
  it("codes an answer that is not problem+json as unexpected_response", () => {
    const err = AforoError.fromResponse(new Response(null, { status: 502 }), "<html>bad gateway");
    expect([err.status, err.code, err.detail]).toEqual([
      502,
      "unexpected_response",
      "<html>bad gateway",
    ]);
  });
});
