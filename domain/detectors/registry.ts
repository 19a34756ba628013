// The detector registry: every detector Aforo runs, one spec each (domain/detectors/spec.ts).
// Adding a detector is its module (engine + spec), one line here, its tests and its section of
// docs/detectors.md: detection, the ladder, deliveries, the policy route, GET /api/detectors
// and the dashboard read this list.

import { anomalySpec } from "./anomaly";
import { budgetCostSpikeSpec, budgetMarginSpec } from "./budget";
import { churnSpec } from "./churn";
import { costSpikeSpec } from "./cost-spike";
import { marginSpec } from "./margin-guard";
import { pastDueSpec } from "./past-due";
import { POLICY_MAPS } from "./policy-merge";
import { quotaPacingSpec } from "./quota-pacing";
import { RUNGS, type Rung } from "./rungs";
import type { DetectorSpec, LadderValue, Trigger } from "./spec";

/** In the order detection runs them on a trigger and the policy document lists them. */
export const DETECTOR_SPECS = [
  anomalySpec,
  churnSpec,
  quotaPacingSpec,
  marginSpec,
  costSpikeSpec,
  pastDueSpec,
  budgetMarginSpec,
  budgetCostSpikeSpec,
] as const;

type Registered = (typeof DETECTOR_SPECS)[number];

/** A spec of any detector, for code that treats them alike. */
// biome-ignore lint/suspicious/noExplicitAny: each spec's policy type is its own
export type AnyDetectorSpec = DetectorSpec<string, any, LadderValue>;

const SPECS: readonly AnyDetectorSpec[] = DETECTOR_SPECS;

/** The `detectors` section of a policy document: each detector's thresholds by its key. */
export type DetectorPolicies = { [S in Registered as S["key"]]: S["policy"]["defaults"] };

/** The `ladder` section: each detector's rung mapping by its key. */
export type LadderPolicy = { [S in Registered as S["key"]]: S["ladder"]["default"] };

/** Every registered detector's name, in registry order. */
export const DETECTORS: readonly string[] = SPECS.map((s) => s.name);

const BY_NAME = new Map(SPECS.map((s) => [s.name, s]));

/** The spec of a detector by name (as on its signals), or undefined. */
export const detectorSpec = (name: string): AnyDetectorSpec | undefined => BY_NAME.get(name);

/** The detectors that run on a trigger, in registry order. */
export const detectorsOn = (trigger: Trigger): readonly AnyDetectorSpec[] =>
  SPECS.filter((s) => s.trigger === trigger);

/** The registry as plain data (GET /api/detectors, contracts/detectors.ts): what the dashboard
 * needs to list detectors and edit their policy without naming any. */
export function detectorCatalog() {
  return {
    data: SPECS.map((s) => {
      const l = s.ladder;
      const labels = typeof l.labels === "string" ? { "": l.labels } : l.labels;
      const def = l.default as Rung | Record<string, Rung>;
      return {
        name: s.name,
        label: s.label,
        summary: s.summary,
        trigger: s.trigger,
        key: s.key,
        policy: {
          defaults: s.policy.defaults as Record<string, unknown>,
          fields: s.policy.fields.map((f) => ({
            key: f.key,
            help: f.help,
            label: f.label ?? null,
            kind: f.kind ?? "number",
          })),
        },
        ladder: {
          kind: l.kind,
          rungs: [...l.rungs],
          entries:
            l.kind === "rung"
              ? [{ key: null, label: labels[""] ?? s.label, default: def as Rung }]
              : l.kind === "keys"
                ? Object.entries(def as Record<string, Rung>).map(([key, rung]) => ({
                    key,
                    label: labels[key] ?? key,
                    default: rung,
                  }))
                : [],
          template: l.kind === "map" && typeof l.labels === "string" ? l.labels : null,
          defaults: l.kind === "map" ? { ...(def as Record<string, Rung>) } : null,
        },
        display: {
          main: s.display.main,
          sub: s.display.sub,
          sub_fallback: s.display.sub_fallback ?? null,
        },
      };
    }),
    rungs: [...RUNGS],
    policy_maps: [...POLICY_MAPS],
  };
}
