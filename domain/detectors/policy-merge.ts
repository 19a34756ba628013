// THE merge rule of policy documents (SPEC §3 "policy"), once, for the server (domain/ladder.ts,
// domain/detectors/policy.ts) and the dashboard's policy editor (pages/src/lib/policy.ts).
// Import-free on purpose: the dashboard bundles it.
//
// defaults ← tenant ← product ← customer: objects merge key by key; arrays and scalars replace;
// and the objects listed in POLICY_MAPS are maps (their keys are data, not settings), which an
// override replaces whole: a tenant that maps only quota 80 % and 100 % to rungs has no 120 %
// entry left over from the defaults.

// biome-ignore lint/suspicious/noExplicitAny: policy documents are plain JSON trees
export type PolicyTree = Record<string, any>;

/** Paths (in the whole policy document) of the objects an override replaces whole. A detector
 * that adds a map-valued setting lists it here (test/domain/detectors/registry.test.ts checks
 * every map in the defaults is listed). */
export const POLICY_MAPS: readonly string[] = [
  "ladder.quota_pacing",
  "detectors.churn.min_prev_week_units_by_metric",
];

const isTree = (v: unknown): v is PolicyTree =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** base ← each override, in order; never mutates its inputs. `maps` as POLICY_MAPS, relative to
 * `base` (pass a prefix-free list when merging a part of the document). */
export function mergePolicy<T extends PolicyTree>(
  base: T,
  overrides: readonly (PolicyTree | null | undefined)[],
  maps: readonly string[] = POLICY_MAPS,
): T {
  const whole = new Set(maps);
  let out: PolicyTree = base;
  for (const o of overrides) {
    if (o) out = mergeTwo(out, o, "", whole);
  }
  return out as T;
}

function mergeTwo(a: PolicyTree, b: PolicyTree, path: string, whole: Set<string>): PolicyTree {
  const out: PolicyTree = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const p = path ? `${path}.${k}` : k;
    out[k] = isTree(v) && isTree(out[k]) && !whole.has(p) ? mergeTwo(out[k], v, p, whole) : v;
  }
  return out;
}

/** The leaves of `doc` that differ from `base`, as a sparse override (maps compared whole):
 * what a scope must store so that `mergePolicy(base, [diff])` gives `doc` back. */
export function diffPolicy(
  doc: PolicyTree,
  base: PolicyTree,
  maps: readonly string[] = POLICY_MAPS,
  path = "",
): PolicyTree {
  const out: PolicyTree = {};
  for (const [k, v] of Object.entries(doc)) {
    const b = base?.[k];
    const p = path ? `${path}.${k}` : k;
    if (isTree(v) && isTree(b) && !maps.includes(p)) {
      const d = diffPolicy(v, b, maps, p);
      if (Object.keys(d).length > 0) out[k] = d;
    } else if (JSON.stringify(v) !== JSON.stringify(b)) {
      out[k] = v;
    }
  }
  return out;
}

/** Paths of the leaves of a document (maps count as one leaf). */
export function policyLeafPaths(
  doc: PolicyTree,
  maps: readonly string[] = POLICY_MAPS,
  path = "",
): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const p = path ? `${path}.${k}` : k;
    if (isTree(v) && !maps.includes(p)) out.push(...policyLeafPaths(v, maps, p));
    else out.push(p);
  }
  return out;
}
