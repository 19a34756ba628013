import { describe, expect, it } from "vitest";
import { BoundedCache } from "../../domain/bounded-cache";

describe("BoundedCache", () => {
  it("never holds more than its bound, however many keys pass through", () => {
    const cache = new BoundedCache<string, number>(100);
    for (let i = 0; i < 100_000; i++) cache.set(`tenant-${i}`, i);
    expect(cache.size).toBe(100);
    // The newest are kept, the oldest forgotten.
    expect(cache.get("tenant-99999")).toBe(99_999);
    expect(cache.get("tenant-99900")).toBe(99_900);
    expect(cache.get("tenant-99899")).toBeUndefined();
    expect(cache.get("tenant-0")).toBeUndefined();
  });

  it("forgets the least recently used first: a read keeps an entry", () => {
    const cache = new BoundedCache<string, string>(3);
    cache.set("a", "A").set("b", "B").set("c", "C");
    expect(cache.get("a")).toBe("A"); // a is now the most recent; b the least
    cache.set("d", "D");
    expect(cache.has("b")).toBe(false);
    expect([cache.get("a"), cache.get("c"), cache.get("d")]).toEqual(["A", "C", "D"]);
  });

  it("setting a key again replaces it without growing, and makes it the most recent", () => {
    const cache = new BoundedCache<string, number>(2);
    cache.set("a", 1).set("b", 2).set("a", 3);
    expect(cache.size).toBe(2);
    cache.set("c", 4);
    expect(cache.has("b")).toBe(false);
    expect(cache.get("a")).toBe(3);
  });

  it("keeps a stored undefined apart from a missing key, and deletes", () => {
    const cache = new BoundedCache<string, number | undefined>(2);
    cache.set("u", undefined);
    expect(cache.has("u")).toBe(true);
    expect(cache.delete("u")).toBe(true);
    expect(cache.has("u")).toBe(false);
    expect(cache.delete("u")).toBe(false);
  });

  it("refuses a bound that is not a positive integer", () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
    expect(() => new BoundedCache(1.5)).toThrow(RangeError);
  });
});
