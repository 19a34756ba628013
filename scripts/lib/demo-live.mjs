// The demo's live traffic while `npm start` runs: a few events a second, one per request, from
// the demo customers who are live now, through the real POST /v1/events, so the live view shows
// traffic within seconds. Some are refused on purpose (an unknown metric or product, a time too
// far ahead, a negative quantity), as a real integration's mistakes would be, and the live
// view shows them with their reasons. Each good request first asks POST /v1/gate, as an
// integration does before serving a call, and is not sent when refused; so the gate's and
// ingest's telemetry (the pipeline dataset, the SLA Compliance template) accrue from real
// traffic too.
//
// The trickle does not add usage to the demo's model: it delivers part of the current hour's
// usage as it happens, and the hour's aggregate sent by the top-up when the hour ends
// (topUpDemo in demo-data.mjs) carries only the rest (`credit`). Each customer's share is capped
// at half of what its model expects in the hour, so the aggregate never goes negative.

import { HOUR_MS, Rng } from "./demo-data.mjs";

/** Rejected on purpose: what an integration gets wrong, with what the API answers. */
const MISTAKES = ["unknown_metric", "unknown_product", "future_time", "negative_quantity"];

/**
 * @param {{url: string, ingestKey: string, demo: import("./demo-data.mjs").Demo,
 *   perSecond?: number, rejectShare?: number, log?: (line: string) => void}} o
 */
export function startTrickle({
  url,
  ingestKey,
  demo,
  perSecond = 3,
  rejectShare = 0.06,
  log = console.log,
}) {
  const rng = new Rng(`live:${Date.now()}`);
  /** Units delivered per `customer|metric|hour start`, for the top-up to leave out. */
  /** @type {Map<string, number>} */
  const credit = new Map();
  const stats = { sent: 0, accepted: 0, rejected: 0, failed: 0, gated: 0, refused: 0 };
  let counter = 0;
  let stopped = false;
  /** @type {Promise<unknown>} */
  let inFlight = Promise.resolve();

  /** The series live now, by product, with the activity their model expects this hour. */
  const liveSeries = (/** @type {number} */ now) => {
    const byProduct = new Map();
    for (const s of demo.series) {
      if (s.start > now || (s.end !== null && s.end <= now) || s.every !== 1) continue;
      const mean = s.meanAt(now - (now % HOUR_MS));
      if (!(mean > 0)) continue;
      const list = byProduct.get(s.product) ?? [];
      list.push({ s, mean });
      byProduct.set(s.product, list);
    }
    return byProduct;
  };

  /** One request's events for series `s` at `now`, or [] when its hour's share is used up. */
  const requestEvents = (
    /** @type {import("./demo-data.mjs").DemoSeries} */ s,
    /** @type {number} */ mean,
    /** @type {number} */ now,
  ) => {
    const hour = now - (now % HOUR_MS);
    const time = new Date(now).toISOString();
    const id = () => `live-${now.toString(36)}-${(counter++).toString(36)}`;
    const tk = s.tokens ?? { input: 0, output: 0, cached: 0 };
    const [provider, model] = s.model(now).split("/");
    /** @type {{metric: string, quantity: number, cost: Record<string, unknown>, cap: number}[]} */
    let parts;
    if (s.product === "chat-api") {
      const input = Math.max(1, Math.round(tk.input * rng.lognormal(0, 0.4)));
      const output = Math.max(1, Math.round(tk.output * rng.lognormal(0, 0.5)));
      parts = [
        {
          metric: "input_tokens",
          quantity: input,
          cost: { provider, model, input_tokens: input },
          cap: mean * tk.input,
        },
        {
          metric: "output_tokens",
          quantity: output,
          cost: { provider, model, output_tokens: output },
          cap: mean * tk.output,
        },
      ];
    } else if (s.product === "agent-platform") {
      const tools = Math.max(1, Math.round(s.toolsPerSession * rng.lognormal(0, 0.3)));
      parts = [
        {
          metric: "agent_sessions",
          quantity: 1,
          cost: {
            provider,
            model,
            input_tokens: Math.round(tk.input * (1 - tk.cached)),
            cached_input_tokens: Math.round(tk.input * tk.cached),
            output_tokens: Math.round(tk.output),
          },
          cap: mean,
        },
        {
          metric: "tool_calls",
          quantity: tools,
          cost: { provider: "aforo-infra", model: "tool-runner", calls: tools },
          cap: mean * s.toolsPerSession,
        },
      ];
    } else {
      parts = [
        {
          metric: "api_calls",
          quantity: 1,
          cost: { provider: "aforo-infra", model: "rest-edge", calls: 1 },
          cap: mean,
        },
      ];
    }
    // Half of the hour's expected units at most (the aggregate carries the rest).
    for (const p of parts) {
      if ((credit.get(`${s.customer}|${p.metric}|${hour}`) ?? 0) + p.quantity > p.cap / 2) {
        return [];
      }
    }
    const requestId = `req_${rng.int(0, 2 ** 31).toString(36)}`;
    // A short agent run in one request is a session of its own; a REST call names its endpoint
    // (as the seed's detail does, demo-data.mjs carveDetail).
    const extra =
      s.product === "agent-platform"
        ? { session_id: `ses_live_${requestId.slice(4)}` }
        : s.product === "rest-api"
          ? { endpoint: rng.weighted({ "/v1/enrich": 65, "/v1/lookup": 25, "/v1/batch": 10 }) }
          : {};
    return parts.map((p) => {
      const key = `${s.customer}|${p.metric}|${hour}`;
      credit.set(key, (credit.get(key) ?? 0) + p.quantity);
      return {
        id: id(),
        customer: s.customer,
        product: s.product,
        metric: p.metric,
        quantity: p.quantity,
        time,
        cost: p.cost,
        properties: { source: "demo-live", request_id: requestId, ...extra },
      };
    });
  };

  /** A request an integration got wrong; refused by the API, so it carries no credit. */
  const mistake = (
    /** @type {import("./demo-data.mjs").DemoSeries} */ s,
    /** @type {number} */ now,
  ) => {
    const base = {
      id: `live-${now.toString(36)}-${(counter++).toString(36)}`,
      customer: s.customer,
      product: s.product,
      metric: s.metrics[0],
      quantity: 1,
      time: new Date(now).toISOString(),
      properties: { source: "demo-live" },
    };
    switch (rng.pick(MISTAKES)) {
      case "unknown_metric":
        return { ...base, metric: "image_generations" };
      case "unknown_product":
        return { ...base, product: "vision-api" };
      case "future_time":
        return { ...base, time: new Date(now + 20 * 60_000).toISOString() };
      default:
        return { ...base, quantity: -5 };
    }
  };

  /** Whether the gate lets series `s`'s customer make a call now (a failed check: no). */
  const gateAllows = async (/** @type {import("./demo-data.mjs").DemoSeries} */ s) => {
    stats.gated++;
    try {
      const res = await fetch(`${url}/v1/gate`, {
        method: "POST",
        headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
        body: JSON.stringify({ customer: s.customer, product: s.product, units: 1 }),
      });
      const body = /** @type {any} */ (await res.json().catch(() => null));
      if (res.ok && body?.allow === true) return true;
    } catch {}
    stats.refused++;
    return false;
  };

  let live = liveSeries(Date.now());
  let liveAt = Date.now();
  const tick = async () => {
    const now = Date.now();
    if (now - liveAt > 60_000) {
      live = liveSeries(now);
      liveAt = now;
    }
    const products = [...live.keys()];
    if (products.length === 0) return;
    const events = [];
    const n = rng.poisson(perSecond / 2);
    for (let k = 0; k < n; k++) {
      // Products in turn, customers by how busy their model says they are this hour.
      const list = live.get(rng.pick(products)) ?? [];
      const total = list.reduce((a, x) => a + x.mean, 0);
      let r = rng.next() * total;
      let pick = list[list.length - 1];
      for (const x of list) {
        r -= x.mean;
        if (r < 0) {
          pick = x;
          break;
        }
      }
      if (!pick) continue;
      if (rng.chance(rejectShare)) events.push(mistake(pick.s, now));
      // A refused call is not served, so not metered: the hour's top-up carries its share.
      else if (await gateAllows(pick.s)) events.push(...requestEvents(pick.s, pick.mean, now));
    }
    if (events.length === 0) return;
    stats.sent += events.length;
    try {
      const res = await fetch(`${url}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${ingestKey}`, "content-type": "application/json" },
        body: JSON.stringify(events),
      });
      const body = /** @type {any} */ (await res.json().catch(() => null));
      if (res.ok && body) {
        stats.accepted += body.accepted ?? 0;
        stats.rejected += body.rejected?.length ?? 0;
      } else stats.failed += events.length;
    } catch {
      stats.failed += events.length;
    }
  };

  const timer = setInterval(() => {
    if (stopped) return;
    inFlight = inFlight.then(tick, tick);
  }, 500);
  log(`Live demo traffic: about ${perSecond} events/s (some refused on purpose) until Ctrl-C.`);
  return {
    credit,
    stats,
    /** Stops sending; resolves once the request in flight has finished. */
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight.catch(() => {});
    },
    /** Forgets credit for hours the top-up has sent. */
    forgetBefore(/** @type {number} */ t) {
      for (const key of credit.keys()) {
        if (Number(key.slice(key.lastIndexOf("|") + 1)) < t) credit.delete(key);
      }
    },
  };
}
