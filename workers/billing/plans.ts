// Compiled plans live with the catalog store; re-exported for the billing services.
export { loadTenantPlans, type TenantPlan } from "../../store/catalog";

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
