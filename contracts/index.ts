// The wire contracts of the Aforo API (SPEC §11): type-only shapes of what the routes serve,
// shared by the server (workers/, domain/) and the dashboard (pages/). No runtime code here;
// workers/contracts-check.ts proves at compile time that the routes' zod schemas agree.

export type * from "./accounts";
export type * from "./architect";
export type * from "./cases";
export type * from "./catalog";
export type * from "./channels";
export type * from "./common";
export type * from "./copilot";
export type * from "./detectors";
export type * from "./docs";
export type * from "./events";
export type * from "./exports";
export type * from "./invoices";
export type * from "./margin";
export type * from "./metrics";
export type * from "./payments-settings";
export type * from "./plan-wizard";
export type * from "./reports";
export type * from "./signals";
