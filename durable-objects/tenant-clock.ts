import { DurableObject } from "cloudflare:workers";

// One per tenant. Runs the tenant's periodic work on a DO alarm, which fires the same under
// `wrangler dev` (where cron triggers never fire) and deployed. The cron trigger only pokes
// each tenant's clock so an alarm lost to a deploy is re-armed within five minutes.
//
// The clock owns the timing; what runs is the edge app's (invoicing, snapshots, delivery
// repair), so the deployed class (workers/tenant-clock.ts) supplies `runJobs`: this folder
// depends on no module of the edge app.
export const TICK_MS = 5 * 60_000;

export abstract class TenantClockBase extends DurableObject<Env> {
  /** The tenant's periodic work, run at most once per tick. */
  protected abstract runJobs(tenantId: string, now: number): Promise<void>;

  /** Runs the jobs now if they are due and makes sure the next alarm is set. */
  async tick(tenantId: string): Promise<{ ran: boolean; next: number }> {
    await this.ctx.storage.put("tenantId", tenantId);
    const last = (await this.ctx.storage.get<number>("lastRun")) ?? 0;
    const now = Date.now();
    let ran = false;
    if (now - last >= TICK_MS - 1_000) {
      await this.run(tenantId, now);
      ran = true;
    }
    const next = (await this.ctx.storage.getAlarm()) ?? now + TICK_MS;
    await this.ctx.storage.setAlarm(next);
    return { ran, next };
  }

  override async alarm(): Promise<void> {
    const tenantId = await this.ctx.storage.get<string>("tenantId");
    if (!tenantId) return;
    await this.run(tenantId, Date.now());
    await this.ctx.storage.setAlarm(Date.now() + TICK_MS);
  }

  private async run(tenantId: string, now: number) {
    await this.runJobs(tenantId, now);
    await this.ctx.storage.put("lastRun", now);
  }
}
