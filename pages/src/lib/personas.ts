// The four stakeholder homes (issue 15 item 8, the seed's Engineering, Product/Pricing, Finance
// and RevOps): what each opens first, as report templates (domain/reports/templates.ts ids)
// drawn on the home and the existing pages linked beside them. Pure data and helpers, no Preact.

import type { Persona as PersonaId } from "../../../contracts/accounts";

export type { PersonaId };

export interface Persona {
  id: PersonaId;
  label: string;
  /** What this home is for, in one line. */
  purpose: string;
  /** Template ids, drawn in this order. */
  templates: string[];
  /** The existing pages this person opens next. */
  pages: { href: string; label: string; why: string }[];
}

export const PERSONAS: readonly Persona[] = [
  {
    id: "engineering",
    label: "Engineering",
    purpose: "Is the pipeline healthy: events arriving and applied, gate and ingest within target",
    templates: ["billing_pipeline_health", "sla_compliance", "usage_heatmap"],
    pages: [
      { href: "/live", label: "Live Ingestion", why: "events as they arrive, with rejections" },
      { href: "/channels", label: "Channels", why: "where alerts go and whether they arrive" },
      { href: "/policies", label: "Policies", why: "which ladder rungs act at the gate" },
    ],
  },
  {
    id: "product",
    label: "Product & Pricing",
    purpose: "Is the pricing working: which plans earn, who is outgrowing theirs",
    templates: ["pricing_model_effectiveness", "upgrade_signals", "usage_heatmap"],
    pages: [
      { href: "/catalog", label: "Catalog", why: "products, metrics and plans" },
      { href: "/margin", label: "COGS & Margin", why: "margin by product and customer" },
    ],
  },
  {
    id: "finance",
    label: "Finance",
    purpose: "What did we earn, at what margin, and what is still owed",
    templates: ["revenue_summary", "margin_trend", "invoice_aging"],
    pages: [
      { href: "/cockpit", label: "Revenue Cockpit", why: "MRR, ARR, NRR and churn" },
      { href: "/invoices", label: "Invoices", why: "open, past-due and paid invoices" },
      { href: "/margin", label: "COGS & Margin", why: "who costs more than they pay" },
    ],
  },
  {
    id: "revops",
    label: "RevOps",
    purpose: "Which customers need a conversation: health, fading usage, open cases",
    templates: ["customer_health_scorecard", "churn_analysis", "upgrade_signals"],
    pages: [
      { href: "/signals", label: "Health Signals", why: "open cases with their ladders" },
      { href: "/cockpit", label: "Revenue Cockpit", why: "churn and expansion" },
    ],
  },
];

export const personaOf = (id: string | null | undefined): Persona | undefined =>
  PERSONAS.find((p) => p.id === id);

const KEY = "aforo.persona";

/** The persona chosen in this browser, if any. */
export function storedPersona(): PersonaId | null {
  try {
    return personaOf(localStorage.getItem(KEY))?.id ?? null;
  } catch {
    return null;
  }
}

export function storePersona(id: PersonaId): void {
  try {
    localStorage.setItem(KEY, id);
  } catch {
    // Storage refused (private mode): the choice lasts for this page only.
  }
}
