// What the Documentation Hub routes serve (issue 18 §3): an operation's explanation and a
// product's Getting Started guide. Type-only; workers/contracts-check.ts proves the routes' zod
// schemas agree.

export interface ExplainedParameter {
  name: string;
  /** path, query, header or body (a top-level field of the JSON body). */
  in: string;
  required: boolean;
  type: string;
  description: string | null;
}

export interface ApiExplanation {
  operation_id: string;
  method: string;
  path: string;
  /** What it does. */
  summary: string;
  when_to_use: string;
  parameters: ExplainedParameter[];
  examples: { curl: string; typescript: string; python: string };
  gotchas: string[];
  /** "schema": derived from /openapi.json alone (no AI key); "ai": worded by the AI platform. */
  source: "schema" | "ai";
  /** The /openapi.json version it explains (SHA-256 of the document). */
  spec_hash: string;
  generated_at: string;
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
  metrics: {
    id: string;
    name: string | null;
    unit: string;
    aggregation: "sum" | "count" | "max" | "unique_count";
    meaning: string;
  }[];
  /** The customer the examples name: one of the catalog's, or a placeholder when it has none. */
  customer: { id: string; from_catalog: boolean };
  plans: { id: string; name: string; status: string }[];
  /** A POST /v1/events body: one event per metric. */
  event_body: { events: Record<string, unknown>[] };
  /** A POST /v1/gate body. */
  gate_body: { customer: string; product: string; units: number };
  steps: GuideStep[];
}
