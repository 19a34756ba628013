// The app's V8 heap, read through wrangler dev's inspector (Chrome DevTools protocol over a
// WebSocket on the stack's inspector port, port + 1000 by default, which wrangler forwards to the
// runtime workerd): heap usage and heap snapshots. The app's worker and its Durable Objects share
// one isolate, so this is the whole app's JavaScript heap. workerd does not answer
// HeapProfiler.collectGarbage; a heap snapshot collects garbage first, so a snapshot's total is
// what the heap really retains.
import { createWriteStream } from "node:fs";

const TIMEOUT_MS = 120_000;

/** Opens a DevTools session on the app's isolate through wrangler's inspector proxy. */
export async function openInspector(inspectorPort) {
  const res = await fetch(`http://127.0.0.1:${inspectorPort}/json`, {
    signal: AbortSignal.timeout(5_000),
  });
  const url = (await res.json()).find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!url) throw new Error("the inspector lists no target");
  if (typeof WebSocket === "undefined") {
    throw new Error(
      "no WebSocket in this Node (22+ has one: run through npm, which uses the bundled Node 22)",
    );
  }
  // The proxy accepts only local origins, and undici's WebSocket sends none of its own.
  const ws = new WebSocket(url, { headers: { origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error("inspector connection failed")), {
      once: true,
    });
  });
  let nextId = 1;
  const pending = new Map();
  const listeners = new Map();
  ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data));
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else p?.resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners.get(msg.method) ?? []) l(msg.params);
    }
  });
  /** @returns {Promise<any>} */
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
      setTimeout(() => {
        if (pending.delete(id)) reject(new Error(`inspector: ${method} timed out`));
      }, TIMEOUT_MS).unref();
    });
  const on = (method, fn) => listeners.set(method, [...(listeners.get(method) ?? []), fn]);
  return { send, on, close: () => ws.close() };
}

/** V8 heap in use and allocated, in MiB (Runtime.getHeapUsage: cheap, no collection). */
export async function heapUsage(inspectorPort) {
  const session = await openInspector(inspectorPort);
  try {
    const { usedSize, totalSize } = await session.send("Runtime.getHeapUsage");
    return { usedMiB: usedSize / 2 ** 20, totalMiB: totalSize / 2 ** 20 };
  } finally {
    session.close();
  }
}

/** Writes a heap snapshot (.heapsnapshot, loadable in Chrome DevTools) and returns its size. */
export async function takeHeapSnapshot(inspectorPort, file) {
  const session = await openInspector(inspectorPort);
  const out = createWriteStream(file);
  let bytes = 0;
  session.on("HeapProfiler.addHeapSnapshotChunk", ({ chunk }) => {
    bytes += chunk.length;
    out.write(chunk);
  });
  try {
    await session.send("HeapProfiler.enable");
    await session.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  } finally {
    session.close();
    await new Promise((r) => out.end(r));
  }
  return bytes;
}

/**
 * Sums a snapshot's self sizes by constructor name (the "Summary" view of DevTools): the
 * biggest entries say what the heap holds. `totalMiB` is everything the snapshot holds (it was
 * taken after a collection: what the heap retains).
 * @returns {{totalMiB: number, top: {name: string, count: number, selfMiB: number}[]}}
 */
export function summarizeSnapshot(json) {
  const snap = typeof json === "string" ? JSON.parse(json) : json;
  const { node_fields: fields, node_types: types } = snap.snapshot.meta;
  const typeNames = types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSelf = fields.indexOf("self_size");
  const by = new Map();
  let totalMiB = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = typeNames[snap.nodes[i + iType]];
    const name =
      type === "object" || type === "closure" ? snap.strings[snap.nodes[i + iName]] : `(${type})`;
    const entry = by.get(name) ?? { name, count: 0, selfMiB: 0 };
    entry.count++;
    entry.selfMiB += snap.nodes[i + iSelf] / 2 ** 20;
    totalMiB += snap.nodes[i + iSelf] / 2 ** 20;
    by.set(name, entry);
  }
  return { totalMiB, top: [...by.values()].sort((a, b) => b.selfMiB - a.selfMiB) };
}
