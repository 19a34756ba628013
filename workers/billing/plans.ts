import { type CompiledPlan, compilePlan, type PlanComponent } from "../../domain/pricing";

export interface TenantPlan {
  plan: CompiledPlan;
  product_id: string;
  name: string;
}

/** Every plan of a tenant, compiled (plans are immutable, a tenant has few). */
export async function loadTenantPlans(
  db: D1Database,
  tenantId: string,
): Promise<Map<string, TenantPlan>> {
  const { results } = await db
    .prepare(
      `SELECT p.id, p.product_id, p.name, p.currency, p.interval, p.trial_days,
         (SELECT json_group_array(json(spec)) FROM (SELECT spec FROM plan_components c
            WHERE c.tenant_id = p.tenant_id AND c.plan_id = p.id ORDER BY position)) AS components
       FROM plans p WHERE p.tenant_id = ?`,
    )
    .bind(tenantId)
    .all<{
      id: string;
      product_id: string;
      name: string;
      currency: string;
      interval: "month" | "year";
      trial_days: number;
      components: string;
    }>();
  const out = new Map<string, TenantPlan>();
  for (const r of results) {
    out.set(r.id, {
      product_id: r.product_id,
      name: r.name,
      plan: compilePlan({
        id: r.id,
        currency: r.currency,
        interval: r.interval,
        trial_days: r.trial_days,
        components: JSON.parse(r.components) as PlanComponent[],
      }),
    });
  }
  return out;
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Runs a query that may touch a table another migration adds; "no such table" → null. */
export async function tolerateMissingTable<T>(run: () => Promise<T>): Promise<T | null> {
  try {
    return await run();
  } catch (err) {
    if (/no such table|no such column/i.test(String(err))) return null;
    throw err;
  }
}
