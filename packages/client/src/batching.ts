// How the sender cuts its queue into requests /v1/events takes: at most 1,000 events and 1 MiB
// of body (workers/routes/ingest.ts MAX_EVENTS, MAX_BYTES). Pure, so the limits are tested
// without a clock or a network.

export const MAX_BATCH_EVENTS = 1_000;
export const MAX_BATCH_BYTES = 1024 * 1024;

const encoder = new TextEncoder();

/** UTF-8 bytes of a value's JSON: what it adds to the body, before the comma between events. */
export function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).byteLength;
}

export interface Sized {
  bytes: number;
}

/**
 * How many of the queue's first items go in the next request: as many as fit in `maxEvents`
 * and in `maxBytes` of a JSON array body (`[` + items joined by `,` + `]`). Always at least one
 * when the queue is not empty: an item too large for any request is the caller's to refuse
 * (`fitsAlone`), not a reason to stall the queue behind it.
 */
export function nextBatchSize(
  queue: readonly Sized[],
  maxEvents: number,
  maxBytes: number,
): number {
  let bytes = 2;
  let count = 0;
  for (const item of queue) {
    if (count === maxEvents) break;
    const added = item.bytes + (count > 0 ? 1 : 0);
    if (count > 0 && bytes + added > maxBytes) break;
    bytes += added;
    count++;
  }
  return count;
}

/** Whether an item can travel at all: alone in a request, within `maxBytes`. */
export function fitsAlone(item: Sized, maxBytes: number): boolean {
  return item.bytes + 2 <= maxBytes;
}

/** Whether the queue holds a full request already (send now rather than at the next tick). */
export function batchIsFull(
  queuedEvents: number,
  queuedBytes: number,
  maxEvents: number,
  maxBytes: number,
): boolean {
  return queuedEvents >= maxEvents || queuedBytes + queuedEvents + 1 >= maxBytes;
}
