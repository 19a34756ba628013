// What GET /api/detectors serves (SPEC §5, §6): the detector registry's metadata
// (domain/detectors/registry.ts), so the dashboard lists detectors, their labels, their rungs
// and their policy fields without naming any detector itself.
// Type-only: the route's zod schema produces exactly this (workers/routes/detectors.ts).

import type { Rung } from "./signals";

export type DetectorTrigger = "batch" | "closed_hour" | "closed_day" | "tenant";

/** A detector's rungs on the action ladder (its `ladder.<key>` section of the policy). */
export interface DetectorLadder {
  /** "rung": `ladder.<key>` is one rung; "keys": one rung per entry key; "map": one rung per data
   * key (e.g. a threshold percent), replaced whole by an override. */
  kind: "rung" | "keys" | "map";
  /** The rungs its signals may take. */
  rungs: Rung[];
  /** "rung" (key null) and "keys": each field with its label and default rung. */
  entries: { key: string | null; label: string; default: Rung }[];
  /** "map": the label of an entry, `{key}` standing for its key (e.g. "Quota pacing {key}%"). */
  template: string | null;
  /** "map": the default entries. */
  defaults: Record<string, Rung> | null;
}

export interface DetectorPolicyField {
  /** Path inside `detectors.<key>`, e.g. "k" or "levels.L1". */
  key: string;
  help: string;
  /** The editor's label; null: the key in words. */
  label: string | null;
  kind: "number" | "number_list";
}

export interface DetectorInfo {
  /** As on its signals (`Signal.detector`). */
  name: string;
  label: string;
  summary: string;
  trigger: DetectorTrigger;
  /** Its sections of the policy document: `detectors.<key>`, `ladder.<key>`. */
  key: string;
  policy: { defaults: Record<string, unknown>; fields: DetectorPolicyField[] };
  ladder: DetectorLadder;
  /** How a signal's magnitude reads: templates with `{magnitude:fmt}` / `{details.x:fmt}`
   * (fmt: decimal0, decimal1, percent0, signed_pct, money; none: as text); a template with a
   * missing value gives `sub_fallback` (null: nothing). */
  display: { main: string; sub: string | null; sub_fallback: string | null };
}

export interface DetectorsResponse {
  data: DetectorInfo[];
  /** Every rung of the ladder, in order (the auto-action switches). */
  rungs: Rung[];
  /** Paths of the policy document an override replaces whole (the merge rule's maps). */
  policy_maps: string[];
}
