import { createRoute, z } from "@hono/zod-openapi";
import type { DetectorsResponse } from "../../contracts/detectors";
import { detectorCatalog, RUNGS } from "../../domain/detectors";
import { createRouter } from "../app";
import { problemResponses } from "../problem";
import { jsonResponse } from "../schemas";

// The detector registry as the dashboard reads it (SPEC §5, §6): each detector's label, trigger,
// rungs, policy fields and magnitude wording, so a new detector needs no dashboard change.
export const detectors = createRouter();
const security = [{ operatorToken: [] }];

const Rung = z.enum(RUNGS);

const DetectorInfo = z
  .object({
    name: z.string(),
    label: z.string(),
    summary: z.string(),
    trigger: z.enum(["batch", "closed_hour", "closed_day", "tenant"]),
    key: z.string().openapi({ description: "Its sections: detectors.<key> and ladder.<key>" }),
    policy: z.object({
      defaults: z.record(z.string(), z.unknown()),
      fields: z.array(
        z.object({
          key: z.string(),
          help: z.string(),
          label: z.string().nullable(),
          kind: z.enum(["number", "number_list"]),
        }),
      ),
    }),
    ladder: z.object({
      kind: z.enum(["rung", "keys", "map"]),
      rungs: z.array(Rung),
      entries: z.array(z.object({ key: z.string().nullable(), label: z.string(), default: Rung })),
      template: z.string().nullable(),
      defaults: z.record(z.string(), Rung).nullable(),
    }),
    display: z.object({
      main: z.string(),
      sub: z.string().nullable(),
      sub_fallback: z.string().nullable(),
    }),
  })
  .openapi("Detector");

const Detectors = z
  .object({
    data: z.array(DetectorInfo),
    rungs: z.array(Rung),
    policy_maps: z
      .array(z.string())
      .openapi({ description: "Policy paths an override replaces whole (maps)" }),
  })
  .openapi("Detectors");

// The payload is the registry's, fixed for the deployment: computed once.
const CATALOG = detectorCatalog() satisfies DetectorsResponse;

detectors.openapi(
  createRoute({
    method: "get",
    path: "/detectors",
    tags: ["detection"],
    summary: "The registered detectors: labels, triggers, rungs, policy fields and wording",
    security,
    responses: { 200: jsonResponse(Detectors, "The detector registry"), ...problemResponses },
  }),
  (c) => c.json(CATALOG, 200),
);
