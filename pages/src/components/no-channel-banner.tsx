// "No channel — add one": shown on the pages that list alerts (signals, cockpit) when the
// tenant's alerts reach nobody (no enabled channel: they are recorded as `no_channel`), or when
// deliveries to its channels are failing. Self-contained: it fetches what it needs and renders
// nothing when all is well (or while it does not know yet).

import type { Delivery, NotificationChannel } from "../../../contracts/channels";
import type { Page } from "../../../contracts/common";
import type { Step } from "../../../contracts/signals";
import type { ApiClient } from "../lib/api";
import { dateTime } from "../lib/format";
import { Link } from "../lib/router";
import { useQuery } from "../lib/use-query";

interface AlertHealth {
  enabled: number;
  channels: number;
  /** The latest ALERT recorded as no_channel, if any. */
  unsent: Step | null;
  /** The latest delivery that failed for good, if any. */
  dead: Delivery | null;
}

async function loadHealth(api: ApiClient, signal: AbortSignal): Promise<AlertHealth> {
  const [channels, unsent, dead] = await Promise.all([
    api.get<{ data: NotificationChannel[] }>("/api/channels", signal),
    api.get<Page<Step>>("/api/actions?step=no_channel&limit=1", signal),
    api.get<Page<Delivery>>("/api/deliveries?status=dead&limit=1", signal),
  ]);
  return {
    channels: channels.data.length,
    enabled: channels.data.filter((c) => c.enabled).length,
    unsent: unsent.data[0] ?? null,
    dead: dead.data[0] ?? null,
  };
}

export function NoChannelBanner() {
  const q = useQuery<AlertHealth>("alert-health", loadHealth);
  const h = q.data;
  if (!h) return null;
  if (h.enabled === 0) {
    return (
      <div class="warning alert-banner" role="status" data-testid="no-channel-banner">
        <span>
          <strong>No alert channel{h.channels > 0 ? " enabled" : ""}</strong> — alerts are recorded
          as <code>no_channel</code> and reach nobody
          {h.unsent ? ` (latest ${dateTime(h.unsent.at)})` : ""}.
        </span>
        <Link href="/channels" class="btn btn-small btn-primary">
          {h.channels > 0 ? "Enable a channel" : "Add one"}
        </Link>
      </div>
    );
  }
  // A failure of the last week (older ones are in the channel's delivery log).
  if (h.dead && Date.parse(h.dead.updated_at) > Date.now() - 7 * 86_400_000) {
    return (
      <div class="warning alert-banner" role="status" data-testid="failing-channel-banner">
        <span>
          <strong>An alert could not be delivered</strong> ({dateTime(h.dead.updated_at)}):{" "}
          {h.dead.last_error ?? "the receiver did not accept it"}.
        </span>
        <Link
          href={`/channels?channel=${encodeURIComponent(h.dead.channel_id)}`}
          class="btn btn-small"
        >
          See its channel
        </Link>
      </div>
    );
  }
  return null;
}
