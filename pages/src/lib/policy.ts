// Policy documents for the editor (SPEC §5–§6; domain/ladder.ts): the effective document of a
// scope is defaults ← tenant (← the product's or customer's override); the editor edits that
// whole document and saves only what differs from the inherited one. Pure.

// biome-ignore lint/suspicious/noExplicitAny: policy documents are plain JSON trees
export type Doc = Record<string, any>;

const isObj = (v: unknown): v is Doc => v !== null && typeof v === "object" && !Array.isArray(v);

/** base ← each override: objects merge, arrays and scalars replace (domain/ladder.ts rules,
 * except that the ladder's quota_pacing map is replaced whole). */
export function merge(base: Doc, ...overrides: (Doc | null | undefined)[]): Doc {
  let out: Doc = base;
  for (const o of overrides) {
    if (!o) continue;
    out = mergeTwo(out, o, []);
  }
  return out;
}

const REPLACED_WHOLE = new Set([
  "ladder.quota_pacing",
  "detectors.churn.min_prev_week_units_by_metric",
]);

function mergeTwo(a: Doc, b: Doc, path: string[]): Doc {
  const out: Doc = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const p = [...path, k];
    if (isObj(v) && isObj(out[k]) && !REPLACED_WHOLE.has(p.join(".")))
      out[k] = mergeTwo(out[k], v, p);
    else out[k] = v;
  }
  return out;
}

/** The leaves of `doc` that differ from `base`, as a sparse override document. */
export function diff(doc: Doc, base: Doc, path: string[] = []): Doc {
  const out: Doc = {};
  for (const [k, v] of Object.entries(doc)) {
    const b = base?.[k];
    const p = [...path, k];
    if (isObj(v) && isObj(b) && !REPLACED_WHOLE.has(p.join("."))) {
      const d = diff(v, b, p);
      if (Object.keys(d).length > 0) out[k] = d;
    } else if (JSON.stringify(v) !== JSON.stringify(b)) {
      out[k] = v;
    }
  }
  return out;
}

export function getIn(doc: Doc, path: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const k of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function setIn(doc: Doc, path: readonly string[], value: unknown): Doc {
  const [head, ...rest] = path;
  if (head === undefined) return doc;
  return {
    ...doc,
    [head]: rest.length === 0 ? value : setIn(isObj(doc[head]) ? doc[head] : {}, rest, value),
  };
}

/** Counts the leaves of an override document. */
export function leafCount(doc: Doc | null | undefined): number {
  if (!doc) return 0;
  let n = 0;
  for (const v of Object.values(doc)) n += isObj(v) ? leafCount(v) : 1;
  return n;
}

/** A field error path from the API ("policy.detectors.anomaly.k", "body.policy.gate.burst")
 * as the editor's field path ("detectors.anomaly.k"). */
export function fieldPath(apiPath: string): string {
  return apiPath.replace(/^(body\.|json\.)/, "").replace(/^policy\./, "");
}

/** "80, 100, 120" → [80, 100, 120]; anything unparsable stays text for the server to refuse. */
export function parseNumberList(text: string): number[] | string {
  const parts = text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  const nums = parts.map(Number);
  return nums.every((n) => Number.isFinite(n)) ? nums : text;
}

/** A number input's text as a number (or the text itself, so the server names the error). */
export function parseNumber(text: string): number | string {
  const t = text.trim();
  if (t === "") return t;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

/** Paths of the leaves of a document ("gate.burst", "detectors.quota_pacing.thresholds"). */
export function leafPaths(doc: Doc, path: string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(doc)) {
    const p = [...path, k];
    if (isObj(v) && !REPLACED_WHOLE.has(p.join("."))) out.push(...leafPaths(v, p));
    else out.push(p.join("."));
  }
  return out;
}

/** Whether an API error path (already through fieldPath) belongs to the field at `path`. */
export const errorBelongsTo = (errorPath: string, path: string) =>
  errorPath === path || errorPath.startsWith(`${path}.`);
