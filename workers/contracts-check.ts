// Compile-time proof that the API serves what contracts/ says it serves (SPEC §11, issue 10):
// each route's zod response schema, and the engines behind the cockpit and MRR, are checked
// against the contract the dashboard reads. A schema or a contract that drifts fails `tsc`.
// Type-only: nothing here runs or is bundled.
//
// Same<A, B>: assignable both ways (the shapes agree field by field, optional and nullable
// included). Extends<A, B>: one way, where one side is deliberately looser, said why each time.

import type { z } from "@hono/zod-openapi";
import type * as C from "../contracts";
import type { Cockpit as EngineCockpit, MovementPeriod, MovementRow } from "../domain/kpi";
import type { Rung as LadderRung } from "../domain/ladder";
import type { Permission, Role } from "../domain/roles";
import type { ProblemSchema, FieldError as ServerFieldError } from "./problem";
import type { Action, Step } from "./routes/actions";
import type { SignedIn } from "./routes/auth";
import type {
  CaseDetailSchema,
  CaseExplanationSchema,
  CaseSchema,
  CaseSummarySchema,
  LadderStepSchema,
} from "./routes/cases";
import type { ChannelSchema, ChannelWithSecret, TestResult } from "./routes/channels";
import type { PricingParseSchema } from "./routes/copilot";
import type { EntryOut } from "./routes/cost-catalog";
import type { Customer } from "./routes/customers";
import type { Budget, DeliverySchema } from "./routes/deliveries";
import type { ApiExplanationSchema, GettingStartedSchema } from "./routes/docs";
import type {
  ArchivePartitionSchema,
  ExportBatchSchema,
  ExportDestinationSchema,
  ExportDestinationTestSchema,
  ExportDestinationWithSecret,
  ExportFileSchema,
  ExportRunDetailSchema,
  ExportRunSchema,
  ExportScheduleSchema,
} from "./routes/exports";
import type { Invoice, Trace } from "./routes/invoices";
import type { CustomerRow, Pnl, ProductRow, Ranked, TrendPoint, Window } from "./routes/margin";
import type { AuditEntrySchema, Me, MemberSchema, Passkey, RoleSchema } from "./routes/members";
import type { Cockpit, KpiItem, MrrPeriod } from "./routes/metrics";
import type {
  PaymentAnswer,
  PaymentSchema,
  RetryPolicySettings,
  StripeSettings,
  StripeWebhookOutcome,
} from "./routes/payments";
import type { Plan, PlanComponent } from "./routes/plans";
import type { PricingPreviewSchema } from "./routes/pricing-preview";
import type { Metric, Product } from "./routes/products";
import type { ReportRunSchema, ReportScheduleSchema } from "./routes/report-schedules";
import type { ReportShareSchema, SharedReportSchema } from "./routes/report-shares";
import type {
  ReportCatalogSchema,
  ReportQuerySchema,
  ReportResultSchema,
  SavedReportSchema,
} from "./routes/reports";
import type { SignalSchema } from "./routes/signals";
import type { Subscription } from "./routes/subscriptions";
import type { LiveQuery, RollupRow, StoredEventSchema } from "./routes/usage";
import type { page } from "./schemas";

type Extends<A, B> = [A] extends [B] ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

type Out<S extends z.ZodType> = z.output<S>;
/** The envelope of a cursor-paginated list of S (workers/schemas.ts `page`). */
type PageOf<S extends z.ZodType> = Out<ReturnType<typeof page<S>>>;

/** What workers/billing/cockpit.ts `toJson` makes of an engine value: money (bigint) as a
 * decimal string, an instant (a number under one of its INSTANT_KEYS) as an ISO string. */
type InstantKey = "as_of" | "at" | "previous_at" | "window_start" | "start" | "end";
type Wire<T, K = ""> = T extends bigint
  ? string
  : T extends number
    ? K extends InstantKey
      ? string
      : number
    : T extends readonly (infer U)[]
      ? Wire<U>[]
      : T extends object
        ? { [P in keyof T]: Wire<T[P], P> }
        : T;

export type CatalogChecks = [
  Assert<Same<Out<typeof Product>, C.Product>>,
  Assert<Same<Out<typeof Metric>, C.Metric>>,
  // Amounts: a request may send numbers (z.input); the API answers decimal strings (z.output).
  Assert<Same<z.input<typeof PlanComponent>, C.PlanComponent>>,
  Assert<Extends<Out<typeof PlanComponent>, C.PlanComponent>>,
  Assert<Same<z.input<typeof Plan>, C.Plan>>,
  Assert<Extends<Out<typeof Plan>, C.Plan>>,
  Assert<Same<Out<typeof Customer>, C.Customer>>,
  Assert<Same<Out<typeof Subscription>, C.Subscription>>,
  Assert<Same<Out<typeof EntryOut>, C.CostCatalogEntry>>,
  Assert<Same<PageOf<typeof Customer>, C.Page<C.Customer>>>,
];

export type CopilotChecks = [
  // Components leave the parser as decimal strings; the contract says Amount (string | number).
  Assert<Extends<Out<typeof PricingParseSchema>, C.PricingParseResult>>,
  Assert<Same<Out<typeof PricingPreviewSchema>, C.PricingPreview>>,
];

export type EventChecks = [
  // The schema documents properties as any JSON values; the actor stores only scalars.
  Assert<Extends<C.StoredEvent, Out<typeof StoredEventSchema>>>,
  Assert<
    Same<Omit<C.StoredEvent, "properties">, Omit<Out<typeof StoredEventSchema>, "properties">>
  >,
  Assert<Same<Out<typeof RollupRow>, C.RollupRow>>,
  Assert<Same<Out<typeof LiveQuery>, C.LiveFilter>>,
];

export type ProblemChecks = [
  Assert<Same<C.FieldError, ServerFieldError>>,
  // The server's `code` is its closed enum of ProblemCode; the contract says string.
  Assert<Extends<Out<typeof ProblemSchema>, C.Problem>>,
  Assert<Same<Omit<Out<typeof ProblemSchema>, "code">, Omit<C.Problem, "code">>>,
];

export type ChannelChecks = [
  Assert<Same<Out<typeof ChannelSchema>, C.NotificationChannel>>,
  Assert<Same<Out<typeof ChannelWithSecret>, C.NotificationChannelWithSecret>>,
  Assert<Same<Out<typeof TestResult>, C.ChannelTestResult>>,
  Assert<Same<PageOf<typeof DeliverySchema>, C.Page<C.Delivery>>>,
  Assert<Same<Out<typeof Budget>, C.AlertBudget>>,
];

export type SignalChecks = [
  Assert<Same<C.Rung, LadderRung>>,
  Assert<Same<Out<typeof Action>, C.Action>>,
  Assert<Same<Out<typeof Step>, C.Step>>,
  Assert<Same<Out<typeof SignalSchema>, C.Signal>>,
  // GET /api/signals/:id extends the signal inline with these two fields.
  Assert<
    Same<
      Out<typeof SignalSchema> & {
        source_events: Record<string, unknown>[];
        trail: Out<typeof Step>[];
      },
      C.SignalDetail
    >
  >,
  Assert<Same<PageOf<typeof SignalSchema>, C.Page<C.Signal>>>,
];

export type CaseChecks = [
  Assert<Same<Out<typeof CaseSchema>, C.Case>>,
  Assert<Same<Out<typeof LadderStepSchema>, C.CaseLadderStep>>,
  Assert<Same<Out<typeof CaseDetailSchema>, C.CaseDetail>>,
  Assert<Same<Out<typeof CaseSummarySchema>, C.CaseSummary>>,
  Assert<Same<Out<typeof CaseExplanationSchema>, C.CaseExplanation>>,
  Assert<Same<PageOf<typeof CaseSchema>, C.Page<C.Case>>>,
];

export type MarginChecks = [
  Assert<Same<Out<z.ZodObject<typeof Pnl>>, C.MarginPnl>>,
  Assert<Same<Out<typeof TrendPoint>, C.MarginTrendPoint>>,
  Assert<Same<Out<typeof Window>, C.MarginWindow>>,
  Assert<Same<Out<typeof Ranked>["totals"], C.MarginTotals>>,
  Assert<Same<Out<typeof ProductRow>, C.ProductMargin>>,
  Assert<Same<Out<typeof CustomerRow>, C.CustomerMargin>>,
  Assert<Same<Out<typeof Ranked> & { data: Out<typeof ProductRow>[] }, C.ProductMarginList>>,
  Assert<
    Same<
      Out<typeof Ranked> & { data: Out<typeof CustomerRow>[]; next_cursor: string | null },
      C.CustomerMarginList
    >
  >,
];

export type MetricsChecks = [
  // The schema types each KPI loosely (delta and series, the rest catch-all; money as string or
  // number): the contract must fit it, and the engine's JSON must be the contract exactly.
  Assert<Extends<C.Cockpit, Out<typeof Cockpit>>>,
  Assert<Same<Out<typeof KpiItem>, C.CockpitKpiItem>>,
  Assert<Same<Out<typeof Invoice>, C.Invoice>>,
  Assert<Same<Out<typeof Trace>, C.InvoiceTrace>>,
  Assert<
    Same<
      Wire<EngineCockpit>,
      Omit<C.Cockpit, "source" | "computed_at" | "currency" | "excluded_currencies">
    >
  >,
  // The schema's counts are a string record and a movement's type a string.
  Assert<Extends<C.MrrPeriod, Out<typeof MrrPeriod>>>,
  Assert<Same<Omit<Wire<MovementPeriod>, "rows">, Omit<C.MrrPeriod, "mrr" | "customers">>>,
  Assert<Same<Wire<MovementRow>, C.MrrCustomerMovement>>,
];

export type AccountChecks = [
  Assert<Same<Out<typeof Me>, C.Me>>,
  Assert<Same<Out<typeof MemberSchema>, C.Member>>,
  Assert<Same<Out<typeof RoleSchema>, C.Role>>,
  Assert<Same<Role, C.Role>>,
  Assert<Same<Permission, C.Permission>>,
  Assert<Same<Out<typeof SignedIn>, C.SignedIn>>,
  Assert<Same<Out<typeof Passkey>, C.Passkey>>,
  Assert<Same<Out<typeof AuditEntrySchema>, C.AuditEntry>>,
  Assert<Same<PageOf<typeof AuditEntrySchema>, C.Page<C.AuditEntry>>>,
];

export type PaymentChecks = [
  Assert<Same<Out<typeof PaymentSchema>, C.Payment>>,
  Assert<Same<Out<typeof PaymentAnswer>, C.PaymentAnswer>>,
  Assert<Same<Out<typeof StripeSettings>, C.StripeSettings>>,
  Assert<Same<Out<typeof RetryPolicySettings>, C.RetryPolicySettings>>,
  Assert<Same<C.RetryPolicyFields, import("../domain/dunning").RetryPolicy>>,
  Assert<Same<Out<typeof StripeWebhookOutcome>, C.StripeWebhookOutcome>>,
  Assert<Same<C.PaymentStatus, import("../domain/payments").PaymentStatus>>,
];

export type ReportChecks = [
  Assert<Same<Out<typeof ReportQuerySchema>, C.ReportQuery>>,
  Assert<Same<Out<typeof ReportCatalogSchema>, C.ReportCatalog>>,
  Assert<Same<Out<typeof ReportResultSchema>, C.ReportResult>>,
  Assert<Same<Out<typeof SavedReportSchema>, C.SavedReport>>,
  Assert<Same<PageOf<typeof SavedReportSchema>, C.Page<C.SavedReport>>>,
  Assert<Same<Out<typeof ReportScheduleSchema>, C.ReportSchedule>>,
  Assert<Same<Out<typeof ReportRunSchema>, C.ReportRun>>,
  Assert<Same<Out<typeof ReportShareSchema>, C.ReportShare>>,
  Assert<Same<Out<typeof SharedReportSchema>, C.SharedReport>>,
];

export type ExportChecks = [
  Assert<Same<Out<typeof ExportDestinationSchema>, C.ExportDestination>>,
  Assert<Same<Out<typeof ExportDestinationWithSecret>, C.ExportDestinationWithSecret>>,
  Assert<Same<Out<typeof ExportDestinationTestSchema>, C.ExportDestinationTest>>,
  Assert<Same<Out<typeof ExportRunSchema>, C.ExportRun>>,
  Assert<Same<Out<typeof ExportFileSchema>, C.ExportFile>>,
  Assert<Same<Out<typeof ExportBatchSchema>, C.ExportBatch>>,
  Assert<Same<Out<typeof ExportRunDetailSchema>, C.ExportRunDetail>>,
  Assert<Same<Out<typeof ExportScheduleSchema>, C.ExportSchedule>>,
  Assert<Same<Out<typeof ArchivePartitionSchema>, C.ArchivePartition>>,
];

export type DocsChecks = [
  Assert<Same<Out<typeof ApiExplanationSchema>, C.ApiExplanation>>,
  Assert<Same<Out<typeof GettingStartedSchema>, C.GettingStartedGuide>>,
  // The route serves the domain's explanation and guide as they are.
  Assert<
    Same<
      Omit<C.ApiExplanation, "source" | "spec_hash" | "generated_at">,
      import("../domain/docs/explain").SchemaExplanation
    >
  >,
  Assert<Same<C.GettingStartedGuide, import("../domain/docs/getting-started").GettingStartedGuide>>,
];
