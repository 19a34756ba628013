// The tenant's catalog (products with their metrics, plans), loaded once per session by the
// shell — and again when a view changes it (catalogChanged) — filters, plan descriptions and
// the reporting currency read it from context.

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Plan, Product } from "../../../contracts/catalog";

export interface Catalog {
  products: Product[];
  plans: Plan[];
  /** The currency most plans are priced in: the one money is shown in. */
  currency: string;
  loaded: boolean;
}

export const EMPTY_CATALOG: Catalog = { products: [], plans: [], currency: "USD", loaded: false };

export function reportingCurrency(plans: readonly Plan[]): string {
  const counts = new Map<string, number>();
  for (const p of plans) counts.set(p.currency, (counts.get(p.currency) ?? 0) + 1);
  let best = "USD";
  let n = 0;
  for (const [c, k] of counts) {
    if (k > n) {
      best = c;
      n = k;
    }
  }
  return best;
}

export const CatalogContext = createContext<Catalog>(EMPTY_CATALOG);
export const useCatalog = () => useContext(CatalogContext);

export const allMetrics = (c: Catalog) => c.products.flatMap((p) => p.metrics);

const CATALOG_CHANGED = "aforo:catalog-changed";

/** Tells the shell a view changed the catalog (the plan wizard saved a plan): it loads it again. */
export const catalogChanged = () => window.dispatchEvent(new Event(CATALOG_CHANGED));

/** For the shell: calls `fn` on every catalogChanged(); returns the unsubscribe. */
export function onCatalogChanged(fn: () => void): () => void {
  window.addEventListener(CATALOG_CHANGED, fn);
  return () => window.removeEventListener(CATALOG_CHANGED, fn);
}
