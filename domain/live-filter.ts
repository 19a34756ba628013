// Which live-stream items a client sees (SPEC §8 Live Ingestion View): every field the client
// filtered on must match. Pure: the LiveHub actor runs it on each item it fans out.

import type { LiveFilter, LiveItem } from "../contracts/events";

export function matchesFilter(f: LiveFilter, item: LiveItem): boolean {
  return (
    (f.product === undefined || f.product === item.product) &&
    (f.customer === undefined || f.customer === item.customer) &&
    (f.metric === undefined || f.metric === item.metric) &&
    (f.status === undefined || f.status === item.status)
  );
}
