// @aforo/client: the typed API client, the batching event sender and the gateway middleware.
export { DEFAULT_RETRY, isRetryableStatus, type RetryOptions, retryDelay } from "./backoff.js";
export { MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from "./batching.js";
export {
  type AforoClient,
  type AforoClientOptions,
  createAforoClient,
  type Data,
  type Fetcher,
  type PagedPath,
  type PageItem,
} from "./client.js";
export {
  AforoError,
  type FieldIssue,
  type Problem,
  type ProblemCode,
  parseRetryAfter,
} from "./errors.js";
export {
  type Caller,
  type GateOutcome,
  Gateway,
  type GatewayOptions,
  reportUsage,
  type Usage,
  withAforo,
} from "./gateway.js";
export type { components, paths } from "./schema.js";
export {
  createSender,
  type IngestWarnings,
  type Rejection,
  Sender,
  type SenderOptions,
  SenderOverflowError,
  type SenderStats,
  type TrackedEvent,
  type UsageEvent,
  type WaitUntil,
} from "./sender.js";
