import { describe, expect, it } from "vitest";
import { Coalescer, CoalescerTimeout } from "../../domain/coalesce";

/** A call the test settles by hand, recording what each round carried. */
function controlledCall() {
  const rounds: { items: number[]; settle(fail?: Error): void }[] = [];
  const call = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      rounds.push({
        items,
        settle: (fail) => (fail ? reject(fail) : resolve(items.map((i) => `answer ${i}`))),
      });
    });
  return { rounds, call };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("Coalescer", () => {
  it("sends a lone request at once, on its own", async () => {
    const c = new Coalescer<number, string>({ maxWeight: 100, staleMs: 1000, leadMs: 1000 });
    const { rounds, call } = controlledCall();
    const a = c.submit("k", 1, 1, call);
    await tick();
    expect(rounds.map((r) => r.items)).toEqual([[1]]);
    rounds[0]?.settle();
    await expect(a).resolves.toBe("answer 1");
    expect(c.keys).toBe(0);
  });

  it("merges the requests that arrive while a call is in flight into the next, in order", async () => {
    const c = new Coalescer<number, string>({ maxWeight: 100, staleMs: 1000, leadMs: 1000 });
    const { rounds, call } = controlledCall();
    const answers = [c.submit("k", 1, 1, call)];
    await tick();
    for (const i of [2, 3, 4]) answers.push(c.submit("k", i, 1, call));
    const other = c.submit("other", 9, 1, call); // another key is not held back
    await tick();
    expect(rounds.map((r) => r.items)).toEqual([[1], [9]]);
    rounds[0]?.settle();
    await tick();
    expect(rounds.map((r) => r.items)).toEqual([[1], [9], [2, 3, 4]]);
    rounds[2]?.settle();
    rounds[1]?.settle();
    await expect(Promise.all(answers)).resolves.toEqual([
      "answer 1",
      "answer 2",
      "answer 3",
      "answer 4",
    ]);
    await expect(other).resolves.toBe("answer 9");
  });

  it("keeps each call under the weight limit (a heavier request goes alone)", async () => {
    const c = new Coalescer<number, string>({ maxWeight: 10, staleMs: 1000, leadMs: 1000 });
    const { rounds, call } = controlledCall();
    const all = [c.submit("k", 0, 1, call)];
    await tick();
    all.push(c.submit("k", 1, 6, call), c.submit("k", 2, 4, call), c.submit("k", 3, 20, call));
    rounds[0]?.settle();
    await tick();
    rounds[1]?.settle();
    await tick();
    rounds[2]?.settle();
    await Promise.all(all);
    expect(rounds.map((r) => r.items)).toEqual([[0], [1, 2], [3]]);
  });

  it("hands the lane on when its leader's turn ends, so nobody is left waiting", async () => {
    let now = 0;
    const c = new Coalescer<number, string>(
      { maxWeight: 1, staleMs: 10_000, leadMs: 100 },
      () => now,
    );
    const { rounds, call } = controlledCall();
    const first = c.submit("k", 1, 1, call);
    await tick();
    const second = c.submit("k", 2, 1, call);
    now = 500; // the first leader's turn is over when its round ends
    rounds[0]?.settle();
    await expect(first).resolves.toBe("answer 1");
    while (rounds.length < 2) await new Promise((r) => setTimeout(r, 5));
    rounds[1]?.settle();
    await expect(second).resolves.toBe("answer 2");
  });

  it("fails every request of a failed call, and the next round still runs", async () => {
    const c = new Coalescer<number, string>({ maxWeight: 100, staleMs: 1000, leadMs: 1000 });
    const { rounds, call } = controlledCall();
    const first = c.submit("k", 1, 1, call);
    await tick();
    const second = c.submit("k", 2, 1, call);
    const third = c.submit("k", 3, 1, call);
    rounds[0]?.settle(new Error("actor overloaded"));
    await expect(first).rejects.toThrow("actor overloaded");
    await tick();
    rounds[1]?.settle(new Error("again"));
    await expect(second).rejects.toThrow("again");
    await expect(third).rejects.toThrow("again");
    const fourth = c.submit("k", 4, 1, call);
    await tick();
    rounds[2]?.settle();
    await expect(fourth).resolves.toBe("answer 4");
  });

  it("never wedges on a round that never ends: its requests time out and new ones go on", async () => {
    let now = 0;
    const c = new Coalescer<number, string>(
      { maxWeight: 100, staleMs: 20, leadMs: 1000 },
      () => now,
    );
    const { rounds, call } = controlledCall();
    const lost = c.submit("k", 1, 1, call);
    await tick();
    const waiting = c.submit("k", 2, 1, call);
    now = 50;
    await expect(lost).rejects.toBeInstanceOf(CoalescerTimeout);
    await expect(waiting).rejects.toBeInstanceOf(CoalescerTimeout);
    now = 100;
    const fresh = c.submit("k", 3, 1, call);
    await tick();
    expect(rounds.map((r) => r.items)).toEqual([[1], [3]]);
    rounds[1]?.settle();
    await expect(fresh).resolves.toBe("answer 3");
    rounds[0]?.settle(); // the lost round ending late changes nothing
    await tick();
    expect(c.keys).toBe(0);
  });
});
