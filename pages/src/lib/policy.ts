// Policy documents for the editor (SPEC §5–§6; domain/ladder.ts): the effective document of a
// scope is defaults ← tenant (← the product's or customer's override); the editor edits that
// whole document and saves only what differs from the inherited one. Pure.

import { diffPolicy, mergePolicy, policyLeafPaths } from "../../../domain/detectors/policy-merge";

// biome-ignore lint/suspicious/noExplicitAny: policy documents are plain JSON trees
export type Doc = Record<string, any>;

const isObj = (v: unknown): v is Doc => v !== null && typeof v === "object" && !Array.isArray(v);

/** base ← each override: the server's own merge rule (domain/detectors/policy-merge.ts: objects
 * merge, arrays and scalars replace, maps such as the ladder's quota_pacing replace whole). */
export function merge(base: Doc, ...overrides: (Doc | null | undefined)[]): Doc {
  return mergePolicy(base, overrides);
}

/** The leaves of `doc` that differ from `base`, as a sparse override document. */
export const diff = (doc: Doc, base: Doc): Doc => diffPolicy(doc, base);

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
export const leafPaths = (doc: Doc): string[] => policyLeafPaths(doc);

/** Whether an API error path (already through fieldPath) belongs to the field at `path`. */
export const errorBelongsTo = (errorPath: string, path: string) =>
  errorPath === path || errorPath.startsWith(`${path}.`);
