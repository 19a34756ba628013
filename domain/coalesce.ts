// Coalescing concurrent calls to one actor into fewer, larger calls (issue 11, hot customers).
//
// A Durable Object serves about 1,000 requests/s, whatever each carries. When many requests
// for one customer arrive at once, only one call per key is in flight at a time: the requests
// that arrive meanwhile wait and go together in the next call, so a hot customer costs its
// actor a call per round trip instead of a call per request, and the actor sees the same
// events in the same order it would have seen them one by one.
//
// The request that finds its lane idle leads: it runs the rounds for everyone waiting, on its
// own call function (the calls' I/O belongs to it; the others get plain values), kept alive by
// its waitUntil, for at most leadMs; then a waiting request takes over. Waiting requests look
// in on their lane from their own timers, so a leader that stops or vanishes (its request was
// cancelled) never wedges the key: after staleMs its round is given up and a waiter leads, and
// no request waits longer than staleMs before being told to retry.

export interface CoalesceOptions {
  /** Most items' weight (e.g. events) one call carries. */
  maxWeight: number;
  /** How long a round may run before it is treated as lost (and a request waits at most). */
  staleMs: number;
  /** How long one request leads rounds for the others before leaving it to the next. */
  leadMs: number;
}

/** How often a waiting request looks in on its lane (only matters when nobody leads). */
const LOOK_IN_MS = 5;

interface Waiter<I, A> {
  item: I;
  weight: number;
  resolve(a: A): void;
  reject(err: unknown): void;
}

interface Lane<I, A> {
  waiting: Waiter<I, A>[];
  /** When the round in flight started; null when idle. */
  roundSince: number | null;
  /** The drain leading the lane (a newer one replaces a lost one). */
  owner: object | null;
}

export class CoalescerTimeout extends Error {
  constructor() {
    super("the coalesced call this request joined did not finish");
  }
}

export class Coalescer<I, A> {
  private readonly lanes = new Map<string, Lane<I, A>>();

  constructor(
    private readonly options: CoalesceOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls in flight or waiting, for tests and metrics. */
  get keys(): number {
    return this.lanes.size;
  }

  /**
   * Submits one item for `key` and resolves with its own answer. `call` runs a round (items in
   * submission order → one answer each, same order) if this request leads one; `keepAlive`
   * (the request's waitUntil) keeps a led round running even if the request goes away.
   */
  submit(
    key: string,
    item: I,
    weight: number,
    call: (items: I[]) => Promise<A[]>,
    keepAlive: (p: Promise<unknown>) => void = () => {},
  ): Promise<A> {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { waiting: [], roundSince: null, owner: null };
      this.lanes.set(key, lane);
    }
    const answer = deferred<A>();
    const since = this.now();
    // While it waits, the request looks in on the lane now and then from its own timer (its own
    // I/O): if nobody leads (the leader's turn ended) or the round in flight was lost, it leads;
    // if it has waited past staleMs, it gives up and its caller is told to retry.
    // (A settled waiter's timer runs out once more and stops: clearing it from the settling
    // request would be I/O on another request's behalf.)
    let settled = false;
    const lookIn = () => {
      if (settled) return;
      const l = this.lanes.get(key) ?? lane;
      if (this.now() - since > this.options.staleMs) {
        const at = l.waiting.indexOf(waiter);
        if (at >= 0) l.waiting.splice(at, 1);
        waiter.reject(new CoalescerTimeout());
        return;
      }
      if (l.waiting.includes(waiter) && this.leaderless(l)) this.lead(key, l, call, keepAlive);
      setTimeout(lookIn, LOOK_IN_MS);
    };
    const waiter: Waiter<I, A> = {
      item,
      weight,
      resolve: (a) => {
        settled = true;
        answer.resolve(a);
      },
      reject: (err) => {
        settled = true;
        answer.reject(err);
      },
    };
    lane.waiting.push(waiter);
    if (this.leaderless(lane)) this.lead(key, lane, call, keepAlive);
    setTimeout(lookIn, LOOK_IN_MS);
    return answer.promise;
  }

  private leaderless(lane: Lane<I, A>): boolean {
    return (
      lane.owner === null ||
      (lane.roundSince !== null && this.now() - lane.roundSince > this.options.staleMs)
    );
  }

  private lead(
    key: string,
    lane: Lane<I, A>,
    call: (items: I[]) => Promise<A[]>,
    keepAlive: (p: Promise<unknown>) => void,
  ) {
    const owner = {};
    lane.owner = owner;
    lane.roundSince = this.now();
    keepAlive(this.drain(key, lane, owner, call));
  }

  /** Runs rounds on the lane's waiters, in order, all on the leader's own call function (so
   * every call's I/O belongs to the leading request), for at most leadMs; then the lane is
   * left to a waiting request to lead. */
  private async drain(
    key: string,
    lane: Lane<I, A>,
    owner: object,
    call: (items: I[]) => Promise<A[]>,
  ) {
    const until = this.now() + this.options.leadMs;
    while (lane.waiting.length > 0 && this.now() < until) {
      lane.roundSince = this.now();
      const taken: Waiter<I, A>[] = [];
      let weight = 0;
      while (lane.waiting.length > 0) {
        const next = lane.waiting[0] as Waiter<I, A>;
        if (taken.length > 0 && weight + next.weight > this.options.maxWeight) break;
        taken.push(next);
        weight += next.weight;
        lane.waiting.shift();
      }
      try {
        const answers = await call(taken.map((w) => w.item));
        taken.forEach((w, i) => {
          const a = answers[i];
          if (a === undefined) w.reject(new Error("the coalesced call gave no answer for an item"));
          else w.resolve(a);
        });
      } catch (err) {
        for (const w of taken) w.reject(err);
      }
      if (lane.owner !== owner) return; // this round was given up as lost; another drain leads
    }
    lane.roundSince = null;
    lane.owner = null;
    if (lane.waiting.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
  }
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
