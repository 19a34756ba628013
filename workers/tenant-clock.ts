import { TenantClockBase } from "../durable-objects/tenant-clock";
import { runTenantJobs } from "./periodic";

/** The deployed TenantClock: the clock's timing (durable-objects/) with this app's jobs. */
export class TenantClock extends TenantClockBase {
  protected override runJobs(tenantId: string, now: number): Promise<void> {
    return runTenantJobs(this.env, tenantId, now);
  }
}
