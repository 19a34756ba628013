// Aforo KPI engine: the Revenue Cockpit's formulas over plain data (docs/metrics.md).

export type { Cockpit, CockpitOptions, MoneyKpi } from "./cockpit";
export { cockpitAt } from "./cockpit";
export type { CompiledDiscount } from "./committed";
export {
  applyDiscounts,
  committedMonthly,
  compileDiscount,
  normaliseMonthly,
  recurringTermsFromPlan,
} from "./committed";
export type { ActiveSubscriptions, HealthBreakdown, HealthSlice, SubscriptionAtT } from "./health";
export {
  activeSubscriptionsAt,
  HEALTH_SLICES,
  liveSubscriptionsAt,
  RECENTLY_CANCELED_DAYS,
  subscriptionHealthAt,
} from "./health";
export type { KpiIndex, Snapshot } from "./history";
export { buildKpiIndex, snapshotAt, subscriptionStatusAt } from "./history";
export type {
  AgingBucket,
  BucketTotal,
  InvoiceInterval,
  OutstandingInvoice,
  OutstandingInvoices,
} from "./invoices";
export {
  AGING_BUCKETS,
  agingBucket,
  closedAt,
  daysPastDue,
  invoiceIntervals,
  isOutstandingAt,
  outstandingInvoicesAt,
  outstandingListOfIntervals,
  outstandingOfIntervals,
} from "./invoices";
export type { MovementPeriod, MovementRow, MovementType } from "./movements";
export { classifyMovement, MOVEMENT_TYPES, movementsBetween, mrrMovements } from "./movements";
export type { CustomerMrr, MrrBreakdown } from "./mrr";
export { arpuOf, arrOf, customerMrrAt, mrrAt, payingCustomersAt } from "./mrr";
export type { DunningEpisode, Recovery } from "./recovery";
export { dunningEpisodes, recoveryAt } from "./recovery";
export type {
  ChurnedCustomer,
  ChurnResult,
  NrrCohortRow,
  NrrResult,
  NrrWindow,
  TrialConversionResult,
  TrialOutcome,
} from "./retention";
export {
  churnedCustomersAt,
  customerChurnAt,
  nrrAt,
  nrrCohortAt,
  nrrWindowAt,
  trialConversionAt,
  trialsEndedAt,
} from "./retention";
export type { Comparison, MoneyDelta, NumberDelta, SeriesPoint } from "./series";
export { comparisonFor, dailySeries, moneyDelta, numberDelta } from "./series";
export { DAY_MS, monthLabel, monthStart, monthStartsBetween, seriesInstants } from "./time";
export type * from "./types";
