import { type AforoClient, type AforoClientOptions, createAforoClient } from "./client.js";
import type { components } from "./schema.js";
import {
  createSender,
  type Sender,
  type SenderOptions,
  type UsageEvent,
  type WaitUntil,
} from "./sender.js";

// The gateway: before a call, ask Aforo's gate whether this customer may make it (429 throttled,
// 403 blocked, with the gate's Retry-After); after it, meter it through a batching sender, off the
// response path. When Aforo cannot answer within the timeout, the operator's choice decides:
// fail open (forward, still metered) or fail closed (503). A call names its customer by id, or
// (identify: "api_key") by one of the customer API keys the operator issued: the gate says whose
// key it is, and the call is metered to the key as well as to its customer.

type GateAnswer = components["schemas"]["GateAnswer"];

/** What a handler reports about its call, in place of one unit of the gateway's metric. */
export interface Usage {
  /** Default 1. */
  quantity?: number;
  /** Default the gateway's metric. */
  metric?: string;
  /** Tokens or a price, as /v1/events takes it (costed by the catalog when model-based). */
  cost?: UsageEvent["cost"];
  properties?: UsageEvent["properties"];
}

export interface GatewayOptions<E = unknown> {
  /**
   * How to reach Aforo (baseUrl + ingestKey, or a service binding), or a function of the
   * Worker's env, called once per isolate on the first request (secrets and bindings live there).
   */
  connection?: AforoClientOptions | ((env: E) => AforoClientOptions);
  /** Or a ready client (and optionally a sender) instead of `connection`. */
  client?: AforoClient;
  sender?: Sender;
  /** The Aforo product every call is gated and metered under. */
  product: string;
  /** The metric one call counts towards (one unit unless the handler reports usage). */
  metric: string;
  /**
   * How a call names its customer: by id (`customer`, the default, read as the `customer` option
   * says) or by one of the customer's API keys (`api_key`, `sk_live_…`, read as the `apiKey`
   * option says). A key Aforo does not know, or one revoked, is refused with 401.
   */
  identify?: "customer" | "api_key";
  /** With identify "api_key": a request header's name, or a function. Default: the bearer token
   * of `Authorization: Bearer sk_live_…`, else the `x-api-key` header. */
  apiKey?:
    | string
    | ((req: Request, env: E) => string | null | undefined | Promise<string | null | undefined>);
  /** The customer: a request header's name (default `x-customer-id`) or a function. */
  customer?:
    | string
    | ((req: Request, env: E) => string | null | undefined | Promise<string | null | undefined>);
  /** Units the gate charges a call (default 1). */
  units?: (req: Request) => number;
  /** When Aforo cannot answer in time: forward the call (`open`, the default) or refuse it with 503. */
  failMode?: "open" | "closed";
  /** How long the gate may take before Aforo counts as unreachable (default 150 ms). */
  timeoutMs?: number;
  /** A call with no customer: refuse it with 401 (`reject`, the default) or pass it on ungated and unmetered. */
  unidentified?: "reject" | "forward";
  /** A gate that could not answer (timeout, network, a bad key): for logs and alerts. */
  onGateError?: (err: unknown) => void;
  /** Metering events Aforo refused (the sender's onRejected; default: console.error). */
  onRejected?: SenderOptions["onRejected"];
  /** The metering sender's flush interval (default 1,000 ms). */
  flushIntervalMs?: number;
}

/** Who a call is metered to: its customer, its customer API key, or both (a key's customer is
 * known once the gate has answered; without an answer, Aforo resolves the key at ingest). */
export interface Caller {
  customer: string | null;
  apiKey?: string | null;
}

export type GateOutcome =
  | ({ kind: "forward"; decision: GateAnswer | null } & Caller)
  | { kind: "refuse"; response: Response };

const reported = new WeakMap<Request, Usage[]>();

/**
 * Reports what the current call used (tokens, a quantity other than 1, another metric), from
 * inside the handler: pass the Request (or Hono's context). Called more than once, each report
 * is its own event.
 */
export function reportUsage(target: Request | { req: { raw: Request } }, usage: Usage): void {
  const req = target instanceof Request ? target : target.req.raw;
  reported.set(req, [...(reported.get(req) ?? []), usage]);
}

export class Gateway<E = unknown> {
  private connected: { client: AforoClient; sender: Sender } | null = null;
  private readonly timeoutMs: number;

  constructor(private readonly options: GatewayOptions<E>) {
    this.timeoutMs = options.timeoutMs ?? 150;
  }

  private connect(env: E) {
    if (this.connected) return this.connected;
    const conn =
      typeof this.options.connection === "function"
        ? this.options.connection(env)
        : this.options.connection;
    const client = this.options.client ?? (conn ? createAforoClient(conn) : null);
    if (!client) throw new TypeError("the Aforo gateway needs a connection or a client");
    const sender =
      this.options.sender ??
      createSender({
        client,
        flushIntervalMs: this.options.flushIntervalMs ?? 1_000,
        onRejected:
          this.options.onRejected ??
          ((rejections) =>
            console.error("Aforo refused metering events", JSON.stringify(rejections))),
      });
    this.connected = { client, sender };
    return this.connected;
  }

  /** The sender the calls are metered through (flush it on shutdown in Node). */
  senderFor(env: E): Sender {
    return this.connect(env).sender;
  }

  /** Whether the call may go on, and if not, the answer to give instead. */
  async check(req: Request, env: E): Promise<GateOutcome> {
    const { client } = this.connect(env);
    const byKey = this.options.identify === "api_key";
    const named = byKey ? await this.presentedKey(req, env) : await this.identify(req, env);
    if (!named) {
      if (this.options.unidentified === "forward")
        return { kind: "forward", customer: null, decision: null };
      return {
        kind: "refuse",
        response: problem(
          401,
          "unauthorized",
          byKey ? "This call carries no API key" : "This call names no customer",
        ),
      };
    }
    const apiKey = byKey ? named : null;
    let customer = byKey ? null : named;
    let decision: GateAnswer;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Raced, not only aborted: a fetch implementation or binding that ignores the signal must
    // not hold the call past the timeout either.
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new DOMException(
          `the gate did not answer within ${this.timeoutMs} ms`,
          "TimeoutError",
        );
        abort.abort(err);
        reject(err);
      }, this.timeoutMs);
    });
    try {
      const res = await Promise.race([
        client.raw.POST("/v1/gate", {
          body: {
            ...(apiKey ? { api_key: apiKey } : { customer: named }),
            product: this.options.product,
            units: this.options.units?.(req) ?? 1,
          },
          signal: abort.signal,
        }),
        timeout,
      ]);
      // The key is the caller's credential: Aforo not knowing it is the caller's 401, not an
      // outage to fail open on.
      const code = (res.error as { code?: unknown } | undefined)?.code;
      if (apiKey && (code === "unknown_api_key" || code === "revoked_api_key")) {
        return {
          kind: "refuse",
          response: problem(
            401,
            "unauthorized",
            code === "revoked_api_key" ? "This API key has been revoked" : "Unknown API key",
          ),
        };
      }
      if (!res.data) throw new Error(`the gate answered HTTP ${res.response.status}`);
      decision = res.data;
      customer = decision.customer ?? customer;
    } catch (err) {
      this.options.onGateError?.(err);
      if (this.options.failMode === "closed") {
        return {
          kind: "refuse",
          response: problem(
            503,
            "unavailable",
            "The usage gate cannot be reached; retry shortly",
            1000,
          ),
        };
      }
      return { kind: "forward", customer, apiKey, decision: null };
    } finally {
      clearTimeout(timer);
    }
    if (decision.allow) return { kind: "forward", customer, apiKey, decision };
    const blocked = decision.tier === "blocked";
    return {
      kind: "refuse",
      response: blocked
        ? problem(403, "forbidden", `Customer '${customer}' is blocked`)
        : decision.reason === "key_quota"
          ? problem(
              429,
              "key_quota_exceeded",
              `This API key has used its quota of ${decision.quota?.limit} ${decision.quota?.metric} this ${decision.quota?.period}`,
              decision.retry_after_ms,
            )
          : problem(
              429,
              "rate_limited",
              `Customer '${customer}' is over its rate (${decision.limit}/s)`,
              decision.retry_after_ms,
            ),
    };
  }

  /** Meters a forwarded call: one unit of the metric, or what the handler reported, to its
   * customer (an id, or the caller a gate check returned). */
  meter(
    req: Request,
    env: E,
    caller: string | Caller,
    status: number,
    startedAt: Date,
    ctx?: WaitUntil,
  ): void {
    const { sender } = this.connect(env);
    const usages = reported.get(req) ?? [{}];
    const path = new URL(req.url).pathname.slice(0, 512);
    const { customer, apiKey } = typeof caller === "string" ? { customer: caller } : caller;
    for (const usage of usages) {
      sender.track(
        {
          ...(customer ? { customer } : {}),
          ...(apiKey ? { api_key: apiKey } : {}),
          product: this.options.product,
          metric: usage.metric ?? this.options.metric,
          quantity: usage.quantity ?? 1,
          time: startedAt,
          ...(usage.cost ? { cost: usage.cost } : {}),
          properties: { method: req.method, path, status, ...usage.properties },
        },
        ctx,
      );
    }
  }

  private async presentedKey(req: Request, env: E): Promise<string | null> {
    const how = this.options.apiKey;
    if (how === undefined) {
      const bearer = /^Bearer\s+(sk_\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
      return bearer?.[1] ?? (req.headers.get("x-api-key")?.trim() || null);
    }
    const key = typeof how === "string" ? req.headers.get(how) : await how(req, env);
    return key?.trim() || null;
  }

  private async identify(req: Request, env: E): Promise<string | null> {
    const how = this.options.customer ?? "x-customer-id";
    const id = typeof how === "string" ? req.headers.get(how) : await how(req, env);
    return id?.trim() || null;
  }
}

/**
 * A plain `fetch` handler behind the gateway, for any Worker:
 * `export default { fetch: withAforo(handler, {product, metric, connection: (env) => …}) }`.
 */
export function withAforo<E = unknown>(
  handler: (req: Request, env: E, ctx: WaitUntil) => Response | Promise<Response>,
  options: GatewayOptions<E> | Gateway<E>,
): (req: Request, env: E, ctx?: WaitUntil) => Promise<Response> {
  const gateway = options instanceof Gateway ? options : new Gateway(options);
  return async (req, env, ctx) => {
    const startedAt = new Date();
    const outcome = await gateway.check(req, env);
    if (outcome.kind === "refuse") return outcome.response;
    const res = await handler(req, env, ctx ?? { waitUntil: () => {} });
    if (outcome.customer || outcome.apiKey) {
      gateway.meter(req, env, outcome, res.status, startedAt, ctx);
    }
    return res;
  };
}

const TITLES: Record<string, string> = {
  unauthorized: "Missing or invalid credentials",
  forbidden: "Not allowed",
  rate_limited: "Too many requests",
  key_quota_exceeded: "The key's quota is used up",
  unavailable: "Temporarily unavailable",
};

/** The same problem+json Aforo's own proxy answers (workers/problem.ts). */
function problem(status: number, code: string, detail: string, retryAfterMs = -1): Response {
  const headers = new Headers({ "content-type": "application/problem+json" });
  if (retryAfterMs > 0) headers.set("retry-after", String(Math.ceil(retryAfterMs / 1000)));
  const body = {
    type: `https://aforo.dev/problems/${code.replaceAll("_", "-")}`,
    title: TITLES[code],
    status,
    detail,
    code,
  };
  return new Response(JSON.stringify(body), { status, headers });
}
