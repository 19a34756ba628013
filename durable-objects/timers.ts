// One Durable Object alarm multiplexes named timers (STYLE: "one alarm, many timers"). The
// table is mirrored in memory, so scheduling a timer that is already due earlier costs no
// storage at all — the ingest hot path asks for its flush and silence timers on every batch.

export type TimerName = "flush" | "retention" | "silence" | "reconcile";

export class Timers {
  private readonly due = new Map<TimerName, number>();
  private alarmAt: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** Loads the table and the alarm (in the actor's blockConcurrencyWhile). */
  async load() {
    for (const t of this.sql.exec<{ name: TimerName; due: number }>(
      "SELECT name, due FROM timers",
    )) {
      this.due.set(t.name, t.due);
    }
    this.alarmAt = await this.storage.getAlarm();
  }

  has(name: TimerName): boolean {
    return this.due.has(name);
  }

  /** Makes `name` due at `at`, unless it is already due sooner. */
  schedule(name: TimerName, at: number) {
    const current = this.due.get(name);
    if (current !== undefined && current <= at) return;
    this.sql.exec("INSERT OR REPLACE INTO timers (name, due) VALUES (?, ?)", name, at);
    this.due.set(name, at);
    if (this.alarmAt === null || at < this.alarmAt) {
      this.alarmAt = at;
      void this.storage.setAlarm(at);
    }
  }

  /** Takes the timers due at `now`, earliest first, off the table (the alarm runs them). */
  takeDue(now: number): TimerName[] {
    this.alarmAt = null;
    const due = [...this.due].filter(([, at]) => at <= now).sort((a, b) => a[1] - b[1]);
    for (const [name] of due) {
      this.sql.exec("DELETE FROM timers WHERE name = ?", name);
      this.due.delete(name);
    }
    return due.map(([name]) => name);
  }

  /** Arms the alarm for the earliest remaining timer. */
  async rearm() {
    const next = Math.min(...this.due.values());
    if (Number.isFinite(next)) {
      this.alarmAt = next;
      await this.storage.setAlarm(next);
    }
  }
}
