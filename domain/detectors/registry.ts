// The detector registry: every detector Aforo runs, one spec each (domain/detectors/spec.ts).
// Adding a detector is its module (engine + spec), one line here, its tests and its section of
// docs/detectors.md: detection, the ladder, deliveries, the policy route, GET /api/detectors
// and the dashboard read this list.

import { anomalySpec } from "./anomaly";
import { churnSpec } from "./churn";
import { costSpikeSpec } from "./cost-spike";
import { marginSpec } from "./margin-guard";
import { quotaPacingSpec } from "./quota-pacing";
import type { DetectorSpec, LadderValue, Trigger } from "./spec";

/** In the order detection runs them on a trigger and the policy document lists them. */
export const DETECTOR_SPECS = [
  anomalySpec,
  churnSpec,
  quotaPacingSpec,
  marginSpec,
  costSpikeSpec,
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
