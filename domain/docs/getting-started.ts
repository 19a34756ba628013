import { pythonLiteral } from "./explain";

// The Getting Started guide of one product (issue 18 §3), built from the tenant's own catalog:
// its metrics, an example POST /v1/events body with one event per metric, the gate call before
// each request, proxy mode when the product has it, and where the usage shows up — each with a
// curl and an @aforo/client snippet. The ids are the catalog's; only the event ids and the
// quantities are examples.

export interface GuideMetric {
  id: string;
  name: string | null;
  unit: string;
  aggregation: "sum" | "count" | "max" | "unique_count";
}

export interface GuideInput {
  product: {
    id: string;
    name: string;
    description: string | null;
    proxy: { origin: string; metric: string } | null;
  };
  metrics: GuideMetric[];
  /** A customer of the tenant's catalog to show in the examples; null when it has none yet. */
  customer: string | null;
  /** The product's plans, for the "what it costs" line. */
  plans: { id: string; name: string; status: string }[];
  /** The example events' time (ISO-8601): now, so the body is accepted as it is. */
  now: string;
}

export interface GuideStep {
  title: string;
  text: string;
  curl: string;
  typescript: string;
  python: string;
}

export interface GettingStartedGuide {
  product: { id: string; name: string; description: string | null };
  metrics: (GuideMetric & { meaning: string })[];
  customer: { id: string; from_catalog: boolean };
  plans: { id: string; name: string; status: string }[];
  event_body: { events: Record<string, unknown>[] };
  gate_body: { customer: string; product: string; units: number };
  steps: GuideStep[];
}

/** A customer id for the examples when the catalog has none: clearly a placeholder. */
const PLACEHOLDER_CUSTOMER = "your-customer-id";

/** A quantity that reads right for the aggregation: one call counted, a hundred units summed. */
const exampleQuantity = (m: GuideMetric) => (m.aggregation === "sum" ? 100 : 1);

function meaningOf(m: GuideMetric): string {
  const unit = m.unit || "unit";
  switch (m.aggregation) {
    case "sum":
      return `Billed on the sum of the events' quantities, in ${unit}s.`;
    case "count":
      return `Billed on the number of events (each one ${unit}); quantities are not added up.`;
    case "max":
      return `Billed on the highest quantity reported in the period (peak ${unit}s).`;
    case "unique_count":
      return `Billed on the number of distinct ${unit}s reported in the period.`;
  }
}

const json = (v: unknown) => JSON.stringify(v, null, 2);
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function gettingStarted(input: GuideInput): GettingStartedGuide {
  const { product, metrics } = input;
  const customer = input.customer ?? PLACEHOLDER_CUSTOMER;
  const events = metrics.map((m, i) => ({
    id: `${product.id}-${m.id}-example-${i + 1}`,
    customer,
    product: product.id,
    metric: m.id,
    quantity: exampleQuantity(m),
    time: input.now,
  }));
  const eventBody = { events };
  const gateBody = { customer, product: product.id, units: 1 };

  const client = (key: string, env: string) =>
    `import { createAforoClient } from "@aforo/client";\n\nconst aforo = createAforoClient({\n  baseUrl: process.env.AFORO_URL ?? "",\n  ${key}: process.env.${env},\n});`;

  const steps: GuideStep[] = [];
  if (events.length > 0) {
    steps.push({
      title: "1. Send usage events",
      text: `Report each use of ${product.name} as it happens: one event per metric (${metrics.map((m) => m.id).join(", ")}), each with its own id, so a retried batch is never counted twice. Up to 1,000 events per request.`,
      curl: `curl -X POST "$AFORO_URL/v1/events" \\\n  -H "Authorization: Bearer $AFORO_INGEST_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d ${shellQuote(JSON.stringify(eventBody))}`,
      typescript: `import { createSender } from "@aforo/client";\n\nconst sender = createSender({\n  baseUrl: process.env.AFORO_URL ?? "",\n  ingestKey: process.env.AFORO_INGEST_KEY,\n});\n\n${events
        .map(
          (e) =>
            `sender.track(${json({ customer: e.customer, product: e.product, metric: e.metric, quantity: e.quantity })});`,
        )
        .join("\n")}\n\nawait sender.flush(); // on shutdown`,
      python: `import os\n\nimport requests\n\nresponse = requests.post(\n    f"{os.environ['AFORO_URL']}/v1/events",\n    headers={"Authorization": f"Bearer {os.environ['AFORO_INGEST_KEY']}"},\n    json=${pythonLiteral(eventBody, 1)},\n)\nprint(response.json())`,
    });
  } else {
    steps.push({
      title: "1. Define a metric",
      text: `${product.name} has no metric yet, so no event can be accepted for it: add one (what you bill on: requests, tokens, seats) first.`,
      curl: `curl -X POST "$AFORO_URL/api/products/${encodeURIComponent(product.id)}/metrics" \\\n  -H "Authorization: Bearer $AFORO_OPERATOR_TOKEN" \\\n  -H "Content-Type: application/json" \\\n  -d '{"id":"requests","unit":"request","aggregation":"count"}'`,
      typescript: `${client("token", "AFORO_OPERATOR_TOKEN")}\n\nawait aforo.post("/api/products/{id}/metrics", {\n  params: { path: { id: ${JSON.stringify(product.id)} } },\n  body: { id: "requests", unit: "request", aggregation: "count" },\n});`,
      python: `import os\n\nimport requests\n\nrequests.post(\n    f"{os.environ['AFORO_URL']}/api/products/${product.id}/metrics",\n    headers={"Authorization": f"Bearer {os.environ['AFORO_OPERATOR_TOKEN']}"},\n    json={"id": "requests", "unit": "request", "aggregation": "count"},\n).raise_for_status()`,
    });
  }
  steps.push({
    title: "2. Ask the gate before each call",
    text: `POST /v1/gate answers whether ${customer} may make a call of ${product.name} now: allow, or the tier (throttled, blocked) and how long to wait. Refuse the call when allow is false.`,
    curl: `curl -X POST "$AFORO_URL/v1/gate" \\\n  -H "Authorization: Bearer $AFORO_INGEST_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d ${shellQuote(JSON.stringify(gateBody))}`,
    typescript: `${client("ingestKey", "AFORO_INGEST_KEY")}\n\nconst decision = await aforo.post("/v1/gate", {\n  body: ${json(gateBody).split("\n").join("\n  ")},\n});\nif (!decision.allow) {\n  // decision.tier is "throttled" or "blocked"; retry_after_ms says how long to wait (-1: waiting will not help)\n}`,
    python: `import os\n\nimport requests\n\ndecision = requests.post(\n    f"{os.environ['AFORO_URL']}/v1/gate",\n    headers={"Authorization": f"Bearer {os.environ['AFORO_INGEST_KEY']}"},\n    json=${pythonLiteral(gateBody, 1)},\n).json()\nif not decision["allow"]:\n    pass  # decision["tier"]: "throttled" or "blocked"`,
  });
  if (product.proxy) {
    steps.push({
      title: "Or: let Aforo's proxy gate and meter for you",
      text: `${product.name} is in proxy mode: calls to /v1/proxy/${product.id}/… are gated, forwarded to ${product.proxy.origin} and metered as ${product.proxy.metric}. Name the customer in x-aforo-customer.`,
      curl: `curl "$AFORO_URL/v1/proxy/${encodeURIComponent(product.id)}/" \\\n  -H "Authorization: Bearer $AFORO_INGEST_KEY" \\\n  -H "x-aforo-customer: ${customer}"`,
      typescript: `const res = await fetch(\`\${process.env.AFORO_URL}/v1/proxy/${product.id}/\`, {\n  headers: {\n    authorization: \`Bearer \${process.env.AFORO_INGEST_KEY}\`,\n    "x-aforo-customer": ${JSON.stringify(customer)},\n  },\n});`,
      python: `import os\n\nimport requests\n\nrequests.get(\n    f"{os.environ['AFORO_URL']}/v1/proxy/${product.id}/",\n    headers={\n        "Authorization": f"Bearer {os.environ['AFORO_INGEST_KEY']}",\n        "x-aforo-customer": ${JSON.stringify(customer)},\n    },\n)`,
    });
  }
  steps.push({
    title: "3. See the usage",
    text: `The events of ${customer}, with the revenue each one earned under the customer's plan${input.plans.length ? ` (${product.name}'s plans: ${input.plans.map((p) => `${p.name} [${p.status}]`).join(", ")})` : ""}.`,
    curl: `curl "$AFORO_URL/api/customers/${encodeURIComponent(customer)}/events?limit=20" \\\n  -H "Authorization: Bearer $AFORO_OPERATOR_TOKEN"`,
    typescript: `${client("token", "AFORO_OPERATOR_TOKEN")}\n\nfor await (const event of aforo.paginate("/api/customers/{id}/events", {\n  params: { path: { id: ${JSON.stringify(customer)} }, query: { limit: 20 } },\n})) {\n  console.log(event.metric, event.quantity, event.revenue);\n}`,
    python: `import os\n\nimport requests\n\npage = requests.get(\n    f"{os.environ['AFORO_URL']}/api/customers/${customer}/events",\n    headers={"Authorization": f"Bearer {os.environ['AFORO_OPERATOR_TOKEN']}"},\n    params={"limit": 20},\n).json()\nfor event in page["data"]:\n    print(event["metric"], event["quantity"], event["revenue"])`,
  });

  return {
    product: { id: product.id, name: product.name, description: product.description },
    metrics: metrics.map((m) => ({ ...m, meaning: meaningOf(m) })),
    customer: { id: customer, from_catalog: input.customer !== null },
    plans: input.plans,
    event_body: eventBody,
    gate_body: gateBody,
    steps,
  };
}
