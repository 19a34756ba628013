// Per-event warnings of the POST /v1/events answer (issue 12, item 5): what was stored but the
// sender should hear about, so costing is never silently optimistic. Errors reject an event;
// warnings never do.
//
// - `uncosted`: stored with cost 0 because Aforo cannot tell what it cost (no cost block on a
//   metric that carries cost, an unknown model, a price that starts later…), with the reason.
// - `unknown_customer`: the customer id is not in the tenant's catalog; stored, costed and counted
//   in usage, no subscription, so no revenue.
// - `cost_in_properties`: a property whose name says cost information (model, provider, tokens,
//   cost, usd, price) that the cost block does not carry: Aforo costs only from `cost`, so the
//   sender probably put it in the wrong place.

import type { EventCost } from "./costing";
import type { EventNote } from "./ingest-batch";

export type IngestWarningCode = "uncosted" | "unknown_customer" | "cost_in_properties";

export interface IngestWarning {
  code: IngestWarningCode;
  path: string;
  message: string;
}

type CostTarget = "model" | "provider" | "input_tokens" | "output_tokens" | "cached" | "usd";

/** Normalised property names (snake case) that look like cost information, and where in `cost`
 * they belong. First match wins. */
const COST_FIELDS: readonly [RegExp, CostTarget, string][] = [
  [/^(llm_|ai_)?model(_name|_id)?$/, "model", "cost.model"],
  [/^(llm_|ai_|model_)?provider(_name)?$/, "provider", "cost.provider"],
  [
    /^(cached|cache_read|cached_input|cached_prompt)_tokens?$/,
    "cached",
    "cost.cached_input_tokens",
  ],
  [/^(input|prompt)_tokens?$/, "input_tokens", "cost.input_tokens"],
  [/^(output|completion)_tokens?$/, "output_tokens", "cost.output_tokens"],
  [/(^|_)tokens?$/, "input_tokens", "cost.input_tokens and cost.output_tokens"],
  [/(^|_)(cost|costs|usd|price)(_|$)/, "usd", "cost.usd"],
];

/** camelCase, kebab-case and spaces → snake_case, lower-case. */
function snake(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/[\s-]+/g, "_")
    .toLowerCase();
}

function carries(cost: EventCost | undefined, target: CostTarget): boolean {
  if (!cost) return false;
  switch (target) {
    case "usd":
      // Any cost the block can produce: given in usd, or priced from provider + model.
      return cost.usd != null || (cost.provider != null && cost.model != null);
    case "cached":
      return cost.cached_input_tokens != null;
    default:
      return cost[target] != null;
  }
}

/** Warnings for the cost-looking properties of one event whose cost block lacks that field. */
export function costFieldsInProperties(event: {
  cost?: EventCost | undefined;
  properties?: Record<string, unknown> | undefined;
}): IngestWarning[] {
  const out: IngestWarning[] = [];
  for (const name of Object.keys(event.properties ?? {})) {
    const key = snake(name);
    if (/^(max|min|limit)_/.test(key)) continue; // a request's limit, not what it used
    const hit = COST_FIELDS.find(([re]) => re.test(key));
    if (!hit || carries(event.cost, hit[1])) continue;
    out.push({
      code: "cost_in_properties",
      path: `properties.${name}`,
      message: `'${name}' looks like cost information, but Aforo costs an event only from its cost block: send it as ${hit[2]}`,
    });
  }
  return out;
}

/** The warnings for one stored event's flags (from the actor's answer). */
export function noteWarnings(note: EventNote, customer: string): IngestWarning[] {
  const out: IngestWarning[] = [];
  if (note.flags.includes("unknown_customer")) {
    out.push({
      code: "unknown_customer",
      path: "customer",
      message: `customer '${customer}' is not in the catalog: the event is stored, costed and counted in usage, but earns no revenue until the customer exists and has a subscription`,
    });
  }
  if (note.flags.includes("uncosted")) {
    out.push({
      code: "uncosted",
      path: "cost",
      message: `stored with cost 0 and flagged uncosted: ${note.reason ?? "its cost is not known"}`,
    });
  }
  return out;
}
