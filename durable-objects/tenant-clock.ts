import { DurableObject } from "cloudflare:workers";

// One per tenant. Runs the tenant's periodic work on a DO alarm, which fires the same under
// `wrangler dev` (where cron triggers never fire) and deployed. The cron trigger only pokes
// each tenant's clock so an alarm lost to a deploy is re-armed within five minutes.
//
// The clock owns the timing; what runs is the edge app's (invoicing, snapshots, delivery
// repair), so the deployed class (workers/tenant-clock.ts) supplies `runJobs`: this folder
// depends on no module of the edge app.
export const TICK_MS = 5 * 60_000;
/** How soon the clock comes back when a run left a backlog (the event archive's staged rows):
 * each alarm is its own invocation with its own CPU limit, so a backlog is worked off in
 * bounded steps back to back, not one step per tick. */
export const CATCH_UP_MS = 1_000;

/** What a run left undone: a backlog brings the clock back in CATCH_UP_MS for `catchUp`. */
export interface ClockRun {
  backlog: boolean;
}

export abstract class TenantClockBase extends DurableObject<Env> {
  /** The tenant's periodic work, run at most once per tick. */
  protected abstract runJobs(tenantId: string, now: number): Promise<ClockRun>;
  /** Between ticks, only the work a run left a backlog of. */
  protected abstract catchUp(tenantId: string, now: number): Promise<ClockRun>;

  /** Runs the jobs now if they are due and makes sure the next alarm is set. */
  async tick(tenantId: string): Promise<{ ran: boolean; next: number }> {
    await this.ctx.storage.put("tenantId", tenantId);
    const last = (await this.ctx.storage.get<number>("lastRun")) ?? 0;
    const now = Date.now();
    let ran = false;
    let backlog = false;
    if (now - last >= TICK_MS - 1_000) {
      ({ backlog } = await this.run(tenantId, now));
      ran = true;
    }
    const armed = (await this.ctx.storage.getAlarm()) ?? now + TICK_MS;
    const next = backlog ? Math.min(armed, Date.now() + CATCH_UP_MS) : armed;
    await this.ctx.storage.setAlarm(next);
    return { ran, next };
  }

  override async alarm(): Promise<void> {
    const tenantId = await this.ctx.storage.get<string>("tenantId");
    if (!tenantId) return;
    const now = Date.now();
    const last = (await this.ctx.storage.get<number>("lastRun")) ?? 0;
    // The tick when it is due (a catch-up alarm never delays it), else a catch-up step.
    const due = now - last >= TICK_MS - 1_000;
    const { backlog } = due ? await this.run(tenantId, now) : await this.catchUp(tenantId, now);
    const nextTick = (due ? now : last) + TICK_MS;
    await this.ctx.storage.setAlarm(
      backlog ? Math.min(nextTick, Date.now() + CATCH_UP_MS) : nextTick,
    );
  }

  private async run(tenantId: string, now: number): Promise<ClockRun> {
    const outcome = await this.runJobs(tenantId, now);
    await this.ctx.storage.put("lastRun", now);
    return outcome;
  }
}
