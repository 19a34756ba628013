import { type ClockRun, TenantClockBase } from "../durable-objects/tenant-clock";
import { catchUpTenantJobs, runTenantJobs } from "./periodic";

/** The deployed TenantClock: the clock's timing (durable-objects/) with this app's jobs. */
export class TenantClock extends TenantClockBase {
  protected override runJobs(tenantId: string, now: number): Promise<ClockRun> {
    return runTenantJobs(this.env, tenantId, now);
  }

  protected override catchUp(tenantId: string, now: number): Promise<ClockRun> {
    return catchUpTenantJobs(this.env, tenantId, now);
  }
}
