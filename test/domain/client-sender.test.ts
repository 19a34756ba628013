// The batching sender against a scripted fetch and fake timers (packages/client/src/sender.ts):
// batches by count and bytes, flushes by time, retries only what may be retried — with the same
// ids — honours Retry-After, reports rejections and overflow, and keeps Workers requests alive.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createSender,
  type Rejection,
  type SenderOptions,
  SenderOverflowError,
  type UsageEvent,
} from "../../packages/client/src";

type Answer = Response | Error | ((events: UsageEvent[]) => Response);

/** A fetch that records each /v1/events body and answers from a script (then 200 for all). */
function scriptedIngest(...script: Answer[]) {
  const bodies: UsageEvent[][] = [];
  const times: number[] = [];
  const fetch = async (req: Request) => {
    const events = (await req.json()) as UsageEvent[];
    bodies.push(events);
    times.push(Date.now());
    expect(req.headers.get("authorization")).toBe("Bearer aforo_ik_test");
    const next = script.shift() ?? accepted;
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(events) : next;
  };
  return { fetch, bodies, times };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": status < 400 ? "application/json" : "application/problem+json",
      ...headers,
    },
  });
const accepted = (events: UsageEvent[]) =>
  json(200, { accepted: events.length, duplicates: 0, rejected: [], warnings: [] });
const problem = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { type: "about:blank", title: code, status, detail: code, code }, headers);

const event = (i: number) => ({
  customer: `c${i % 7}`,
  product: "api",
  metric: "calls",
  quantity: 1,
});

function sender(fetch: (req: Request) => Promise<Response>, options: Partial<SenderOptions> = {}) {
  const rejections: Rejection[] = [];
  const s = createSender({
    baseUrl: "http://aforo.test",
    ingestKey: "aforo_ik_test",
    fetch,
    onRejected: (r) => rejections.push(...r),
    ...options,
  });
  return { s, rejections };
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse("2026-12-07T12:00:00Z") });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("batching", () => {
  it("cuts at 1,000 events, gives every event one id and keeps the ones it is given", async () => {
    const ingest = scriptedIngest();
    const { s } = sender(ingest.fetch);
    const ids = Array.from({ length: 2500 }, (_, i) =>
      s.track(i === 7 ? { ...event(i), id: "mine-7" } : event(i)),
    );
    await s.flush();
    expect(ingest.bodies.map((b) => b.length)).toEqual([1000, 1000, 500]);
    const sent = ingest.bodies.flat();
    expect(sent.map((e) => e.id)).toEqual(ids);
    expect(new Set(ids).size).toBe(2500);
    expect(ids[7]).toBe("mine-7");
    expect(sent[0]?.time).toBe("2026-12-07T12:00:00.000Z");
    expect(s.stats()).toMatchObject({ queued: 0, inFlight: 0, accepted: 2500 });
  });

  it("cuts by bytes within maxBytes", async () => {
    const ingest = scriptedIngest();
    const { s } = sender(ingest.fetch, { maxBytes: 2000 });
    for (let i = 0; i < 40; i++) s.track({ ...event(i), properties: { note: "x".repeat(150) } });
    await s.flush();
    expect(ingest.bodies.length).toBeGreaterThan(1);
    for (const body of ingest.bodies) {
      expect(new TextEncoder().encode(JSON.stringify(body)).byteLength).toBeLessThanOrEqual(2000);
    }
    expect(ingest.bodies.flat()).toHaveLength(40);
  });

  it("sends a partial batch after flushIntervalMs, and a full one at once", async () => {
    const ingest = scriptedIngest();
    const { s } = sender(ingest.fetch, { flushIntervalMs: 500, maxBatch: 10 });
    s.track(event(1));
    s.track(event(2));
    await vi.advanceTimersByTimeAsync(499);
    expect(ingest.bodies).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(ingest.bodies.map((b) => b.length)).toEqual([2]);
    for (let i = 0; i < 10; i++) s.track(event(i));
    await vi.advanceTimersByTimeAsync(0);
    expect(ingest.bodies.map((b) => b.length)).toEqual([2, 10]);
  });

  it("refuses an event too large for any request, and sends the rest", async () => {
    const ingest = scriptedIngest();
    const { s, rejections } = sender(ingest.fetch, { maxBytes: 500 });
    s.track(event(1));
    const big = s.track({ ...event(2), properties: { note: "x".repeat(600) } });
    await s.flush();
    expect(rejections.map((r) => [r.event.id, r.reason])).toEqual([[big, "too_large"]]);
    expect(ingest.bodies.flat()).toHaveLength(1);
  });
});

describe("retries", () => {
  it("sends the same batch again on 503, 429 and network errors, waiting at least Retry-After", async () => {
    const ingest = scriptedIngest(
      problem(503, "unavailable", { "retry-after": "2" }),
      new TypeError("fetch failed"),
      problem(429, "rate_limited", { "retry-after": "5" }),
    );
    const { s, rejections } = sender(ingest.fetch);
    for (let i = 0; i < 5; i++) s.track(event(i));
    const done = s.flush();
    await vi.advanceTimersByTimeAsync(60_000);
    await done;
    expect(ingest.bodies).toHaveLength(4);
    for (const body of ingest.bodies) expect(body).toEqual(ingest.bodies[0]);
    const [t0, t1, t2, t3] = ingest.times as [number, number, number, number];
    expect(t1 - t0).toBeGreaterThanOrEqual(2000);
    expect(t2 - t1).toBeLessThan(500); // the second retry's ceiling: 500 ms of full jitter
    expect(t3 - t2).toBeGreaterThanOrEqual(5000);
    expect(rejections).toEqual([]);
    expect(s.stats()).toMatchObject({ retries: 3, accepted: 5 });
  });

  it("backs off with full jitter when there is no Retry-After", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const ingest = scriptedIngest(problem(500, "internal"), problem(502, "upstream_failed"));
    const { s } = sender(ingest.fetch);
    s.track(event(1));
    const done = s.flush();
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    const [t0, t1, t2] = ingest.times as [number, number, number];
    expect([t1 - t0, t2 - t1]).toEqual([249, 499]);
  });

  it("gives a batch up as undeliverable after maxAttempts, without losing it silently", async () => {
    const ingest = scriptedIngest(...Array(3).fill(new TypeError("connect ECONNREFUSED")));
    const { s, rejections } = sender(ingest.fetch, { retry: { maxAttempts: 3 } });
    const id = s.track(event(1));
    const done = s.flush();
    await vi.advanceTimersByTimeAsync(10_000);
    await done;
    expect(ingest.bodies).toHaveLength(3);
    expect(rejections.map((r) => [r.event.id, r.reason])).toEqual([[id, "undeliverable"]]);
    expect(rejections[0]?.errors[0]?.message).toMatch(/ECONNREFUSED/);
  });
});

describe("rejections", () => {
  it("reports bad events by index and never sends them again", async () => {
    const ingest = scriptedIngest((events) =>
      json(200, {
        accepted: 2,
        duplicates: 0,
        rejected: [{ index: 1, id: events[1]?.id, errors: [{ path: "quantity", message: "bad" }] }],
        warnings: [],
      }),
    );
    const { s, rejections } = sender(ingest.fetch);
    s.track(event(0));
    const bad = s.track({ ...event(1), quantity: -1 });
    s.track(event(2));
    await s.flush();
    await s.flush();
    expect(ingest.bodies).toHaveLength(1);
    expect(rejections).toEqual([
      expect.objectContaining({
        reason: "rejected",
        errors: [{ path: "quantity", message: "bad" }],
      }),
    ]);
    expect(rejections[0]?.event.id).toBe(bad);
  });

  it("rejects the whole batch, once, on an answer retrying cannot fix", async () => {
    const ingest = scriptedIngest(problem(401, "unauthorized"));
    const { s, rejections } = sender(ingest.fetch);
    s.track(event(0));
    s.track(event(1));
    await s.flush();
    expect(ingest.bodies).toHaveLength(1);
    expect(rejections.map((r) => r.reason)).toEqual(["rejected", "rejected"]);
    expect(rejections[0]?.errors[0]?.message).toMatch(/unauthorized/);
  });
});

describe("the bounded buffer", () => {
  it("refuses new events once maxBuffer are held: to onOverflow, or by throwing", async () => {
    const ingest = scriptedIngest();
    const overflowed: string[] = [];
    const withHandler = sender(ingest.fetch, {
      maxBuffer: 2,
      onOverflow: (e) => overflowed.push(e.id),
    }).s;
    withHandler.track(event(0));
    withHandler.track(event(1));
    const refused = withHandler.track(event(2));
    expect(overflowed).toEqual([refused]);
    await withHandler.flush();
    expect(ingest.bodies.flat().map((e) => e.id)).not.toContain(refused);

    const strict = sender(ingest.fetch, { maxBuffer: 1 }).s;
    strict.track(event(0));
    expect(() => strict.track({ ...event(1), id: "over" })).toThrow(SenderOverflowError);
    await strict.flush();
    // Room again once the buffer has drained.
    expect(strict.track(event(2))).toBeTypeOf("string");
  });

  it("counts events in flight against the bound", async () => {
    let release: () => void = () => {};
    const slow = async (req: Request) => {
      const events = (await req.json()) as UsageEvent[];
      await new Promise<void>((r) => {
        release = r;
      });
      return accepted(events);
    };
    const { s } = sender(slow, { maxBuffer: 2, maxBatch: 2, onOverflow: () => {} });
    s.track(event(0));
    s.track(event(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(s.stats()).toMatchObject({ queued: 0, inFlight: 2 });
    expect(() => s.track(event(2))).not.toThrow();
    expect(s.stats().queued).toBe(0);
    release();
    await s.flush();
  });
});

describe("Workers mode", () => {
  it("keeps each request alive until its events are acknowledged, batching across requests", async () => {
    const ingest = scriptedIngest();
    const { s } = sender(ingest.fetch, { flushIntervalMs: 100 });
    const kept: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => kept.push(p) };
    s.track(event(1), ctx);
    s.track(event(2), ctx);
    let settled = 0;
    for (const p of kept) p.then(() => settled++);
    await vi.advanceTimersByTimeAsync(50);
    expect([ingest.bodies.length, settled]).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(50);
    await Promise.all(kept);
    expect(ingest.bodies.map((b) => b.length)).toEqual([2]);
    expect(settled).toBe(2);

    s.track(event(3));
    s.flushIn(ctx);
    await Promise.all(kept);
    expect(ingest.bodies.map((b) => b.length)).toEqual([2, 1]);
  });
});
