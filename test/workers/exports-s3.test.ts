import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { readExactRows } from "../../domain/exports/parquet-decimal";
import { getDestination, getDestinationSecret, getRun } from "../../store/exports";
import { objectUrl, s3ErrorOf } from "../../workers/exports/s3";
import { S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from "../s3-server/credentials";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// The s3 export destination (issue 16 §3): a run to the tenant's own S3-compatible bucket, here
// the Node stand-in (test/s3-server/server.ts) that recomputes every SigV4 signature from the
// AWS specification and checks each body against its x-amz-content-sha256 before it stores
// anything. The files are the r2 destination's names and bytes under the destination's prefix;
// their rows sum to GET /api/rollups; a wrong secret fails the run with S3's own code; a re-run
// rewrites identical bytes; the secret is sealed and never answered. Then the migration that
// let the tables take 's3' (schema/0040_s3_destination.sql) keeps every row it rebuilds.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const D0 = Date.UTC(2026, 9, 5);
const FROM = new Date(D0).toISOString();
const TO = new Date(D0 + 2 * DAY).toISOString();
const WINDOW = "20261005T000000Z_20261007T000000Z";
const PREFIX = "warehouse/aforo/";

const s3Origin = () => `http://127.0.0.1:${inject("s3Port")}`;

let tenant: Tenant;
let other: Tenant;

const op = (t: Tenant) => ({ token: t.operator_token });

interface StoredObject {
  key: string;
  size: number;
  sha256: string;
  content_type: string;
}

async function bucketObjects(bucket: string): Promise<StoredObject[]> {
  const res = await fetch(`${s3Origin()}/_control/objects?bucket=${bucket}`);
  return (await res.json()) as StoredObject[];
}

async function bucketObject(bucket: string, key: string): Promise<ArrayBuffer> {
  const res = await fetch(
    `${s3Origin()}/_control/object?bucket=${bucket}&key=${encodeURIComponent(key)}`,
  );
  expect(res.status).toBe(200);
  return res.arrayBuffer();
}

async function bucketLog(bucket: string) {
  const res = await fetch(`${s3Origin()}/_control/log?bucket=${bucket}`);
  return (await res.json()) as {
    method: string;
    key: string;
    status: number;
    content_sha256: string | null;
  }[];
}

const sha = async (bytes: ArrayBuffer) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");

/** `customers` × 24 hours × 2 metrics on each of `days` days, revenue and cost in nanos. */
async function seedRollups(t: string, start: number, days: number, customers: number) {
  await env.DB.prepare(
    `INSERT INTO rollups_hourly (tenant_id, start, customer_id, product_id, metric_id, units,
       revenue, cost, events, uncosted_events, uncosted_revenue)
     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1)
     SELECT ?1, ?2 + ((i / 2) % (24 * ?4)) * ${HOUR}, 'cust-' || (i / (48 * ?4)), 'chat-api',
       CASE i % 2 WHEN 0 THEN 'input_tokens' ELSE 'output_tokens' END,
       (i * 7919) % 1000003 * 1000 + 123, i * 1234567 + 89, i * 345679 + 1, 1 + i % 5, i % 2,
       (i % 2) * 17
     FROM n`,
  )
    .bind(t, start, customers * 24 * 2 * days, days)
    .run();
}

/** A decimal string → the integer at 10^-digits (exact). */
function scaled(text: string, digits: number): bigint {
  const negative = text.startsWith("-");
  const [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
  const v = BigInt(whole as string) * 10n ** BigInt(digits) + BigInt(frac.padEnd(digits, "0"));
  return negative ? -v : v;
}

async function rollupTotals(t: Tenant) {
  const res = await call("GET", `/api/rollups?granularity=hour&from=${FROM}&to=${TO}`, op(t));
  expect(res.status).toBe(200);
  const sum = { units: 0n, revenue: 0n, cost: 0n, events: 0 };
  for (const r of res.body.data) {
    sum.units += scaled(r.units, 6);
    sum.revenue += scaled(r.revenue, 9);
    sum.cost += scaled(r.cost, 9);
    sum.events += r.events;
  }
  return sum;
}

function fileSums(rows: Record<string, unknown>[]) {
  const sum = { units: 0n, revenue: 0n, cost: 0n, events: 0 };
  for (const r of rows) {
    sum.units += BigInt(r.units as string);
    sum.revenue += BigInt(r.revenue as string);
    sum.cost += BigInt(r.cost as string);
    sum.events += Number(r.events);
  }
  return sum;
}

async function createS3(t: Tenant, bucket: string, extra: Record<string, unknown> = {}) {
  const res = await call("POST", "/api/exports/destinations", {
    ...op(t),
    body: {
      type: "s3",
      name: `Warehouse ${bucket}`,
      endpoint: s3Origin(),
      bucket,
      prefix: "warehouse/aforo",
      access_key_id: S3_ACCESS_KEY_ID,
      secret_access_key: S3_SECRET_ACCESS_KEY,
      ...extra,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function exportTo(t: Tenant, destination: string | undefined) {
  const res = await call("POST", "/api/exports", {
    ...op(t),
    body: {
      dataset: "rollups_hourly",
      from: FROM,
      to: TO,
      ...(destination ? { destination } : {}),
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

beforeAll(async () => {
  tenant = await createTenant("S3 Exports Co");
  other = await createTenant("Other S3 Exports");
  await seedRollups(tenant.tenant_id, D0, 2, 3);
});

describe("the s3 destination", () => {
  it("stores the bucket with the secret sealed, shows only the key id's last 4 and never the secret", async () => {
    const created = await createS3(tenant, "sealed-bucket");
    expect(created).toMatchObject({
      type: "s3",
      url: null,
      prefix: null,
      secret_set: true,
      s3: {
        endpoint: s3Origin(),
        bucket: "sealed-bucket",
        region: "auto",
        prefix: PREFIX,
        path_style: true,
        access_key_id_last4: S3_ACCESS_KEY_ID.slice(-4),
        secret_access_key_set: true,
      },
    });
    expect(created.secret).toBeUndefined();
    const list = await call("GET", "/api/exports/destinations", op(tenant));
    const one = await call("GET", "/api/exports/runs", op(tenant));
    for (const text of [JSON.stringify(created), JSON.stringify(list.body), JSON.stringify(one)]) {
      expect(text).not.toContain(S3_SECRET_ACCESS_KEY);
      expect(text).not.toContain(S3_ACCESS_KEY_ID);
    }
    // At rest the secret is sealed (AES-GCM, bound to the tenant and destination).
    const stored = await getDestinationSecret(env.DB, tenant.tenant_id, created.id);
    expect(stored?.secret?.startsWith("v1:")).toBe(true);
    expect(stored?.secret).not.toContain(S3_SECRET_ACCESS_KEY);
    const row = await env.DB.prepare(
      "SELECT config FROM export_destinations WHERE tenant_id = ? AND id = ?",
    )
      .bind(tenant.tenant_id, created.id)
      .first<{ config: string }>();
    expect(row?.config).not.toContain(S3_SECRET_ACCESS_KEY);
  });

  it("refuses private, metadata and non-origin endpoints, bad buckets and s3 fields elsewhere", async () => {
    const base = {
      type: "s3",
      name: "Bad",
      bucket: "some-bucket",
      access_key_id: S3_ACCESS_KEY_ID,
      secret_access_key: S3_SECRET_ACCESS_KEY,
    };
    for (const [field, value] of [
      ["endpoint", "https://10.1.2.3"],
      ["endpoint", "http://169.254.169.254"],
      ["endpoint", "https://metadata.google.internal"],
      ["endpoint", "http://s3.example.com"],
      ["endpoint", `${s3Origin()}/bucket`],
      ["endpoint", "not a url"],
      ["bucket", "Bad_Bucket"],
      ["prefix", "/leading"],
      ["prefix", "a/../b"],
      ["region", "Not A Region"],
    ] as const) {
      const res = await call("POST", "/api/exports/destinations", {
        ...op(tenant),
        body: { endpoint: "https://s3.example.com", ...base, [field]: value },
      });
      expectProblem(res, 400, "validation_failed");
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        `${field}=${value}`,
      ).toContain(field);
    }
    // A webhook has no bucket; an s3 destination takes parquet only.
    const hook = await call("POST", "/api/exports/destinations", {
      ...op(tenant),
      body: { type: "webhook", name: "Hook", url: "https://hooks.example.com/x" },
    });
    const patched = await call("PATCH", `/api/exports/destinations/${hook.body.id}`, {
      ...op(tenant),
      body: { bucket: "other-bucket" },
    });
    expectProblem(patched, 400, "validation_failed");
    const dest = await createS3(tenant, "format-bucket");
    const ndjson = await call("POST", "/api/exports", {
      ...op(tenant),
      body: {
        dataset: "rollups_hourly",
        from: FROM,
        to: TO,
        destination: dest.id,
        format: "ndjson",
      },
    });
    expectProblem(ndjson, 400, "validation_failed");
    const urlOnS3 = await call("PATCH", `/api/exports/destinations/${dest.id}`, {
      ...op(tenant),
      body: { url: "https://hooks.example.com/y" },
    });
    expectProblem(urlOnS3, 400, "validation_failed");
  });

  it("writes r2's names and bytes under the prefix, signed; rows sum to GET /api/rollups; a re-run is identical", async () => {
    const bucket = "warehouse-bucket";
    const dest = await createS3(tenant, bucket);
    const viaR2 = await exportTo(tenant, undefined);
    const run = await exportTo(tenant, dest.id);
    expect(run).toMatchObject({
      status: "succeeded",
      destination: dest.id,
      destination_type: "s3",
      format: "parquet",
      rows: 3 * 24 * 2 * 2,
      files: 2,
      error: null,
    });
    const keys = ["2026-10-05", "2026-10-06"].map(
      (d) =>
        `${PREFIX}tenant=${tenant.tenant_id}/dataset=rollups_hourly/date=${d}/${WINDOW}-part-00000.parquet`,
    );
    expect(run.file_list.map((f: { key: string }) => f.key)).toEqual(keys);
    const objects = await bucketObjects(bucket);
    expect(objects.map((o) => o.key)).toEqual(keys);
    expect(objects.every((o) => o.content_type === "application/vnd.apache.parquet")).toBe(true);
    // The same bytes as the r2 destination's files of the window, and the recorded checksums.
    expect(objects.map((o) => o.sha256)).toEqual(
      viaR2.file_list.map((f: { sha256: string }) => f.sha256),
    );
    expect(run.file_list.map((f: { sha256: string }) => f.sha256)).toEqual(
      objects.map((o) => o.sha256),
    );
    // Every PUT carried its body's SHA-256 (the bucket refuses anything else).
    const puts = (await bucketLog(bucket)).filter((l) => l.method === "PUT");
    expect(puts).toHaveLength(2);
    expect(puts.map((p) => p.content_sha256)).toEqual(objects.map((o) => o.sha256));
    expect(puts.every((p) => p.status === 200)).toBe(true);

    // Read back from the bucket with the exports' exact reader (hyparquet underneath).
    const rows = [];
    for (const o of objects) rows.push(...(await readExactRows(await bucketObject(bucket, o.key))));
    expect(rows).toHaveLength(run.rows);
    expect(fileSums(rows)).toEqual(await rollupTotals(tenant));

    // The download streams the file back from the tenant's bucket with a signed GET.
    const first = run.file_list[0];
    const got = await exports.default.fetch(`http://aforo.test${first.download}`, {
      headers: { authorization: `Bearer ${tenant.operator_token}` },
    });
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("application/vnd.apache.parquet");
    expect(await sha(await got.arrayBuffer())).toBe(first.sha256);
    // Another tenant cannot reach the run, its file or the destination.
    const foreign = await call("GET", first.download, op(other));
    expectProblem(foreign, 404, "not_found");
    const foreignTest = await call("POST", `/api/exports/destinations/${dest.id}/test`, op(other));
    expectProblem(foreignTest, 404, "not_found");

    // A re-run rewrites the same keys with the same bytes, and nothing more.
    const again = await exportTo(tenant, dest.id);
    expect(again.status).toBe("succeeded");
    expect(await bucketObjects(bucket)).toEqual(objects);
    expect((await bucketLog(bucket)).filter((l) => l.method === "PUT")).toHaveLength(4);
  });

  it("a re-run of a window that lost a day deletes that day's object from the tenant's bucket, not from Aforo's", async () => {
    const t = await createTenant("S3 Shrinking Co");
    await seedRollups(t.tenant_id, D0, 2, 1);
    const bucket = "shrinking-bucket";
    const dest = await createS3(t, bucket);
    const inR2 = await exportTo(t, undefined);
    const first = await exportTo(t, dest.id);
    expect(first.files).toBe(2);
    await env.DB.prepare("DELETE FROM rollups_hourly WHERE tenant_id = ? AND start >= ?")
      .bind(t.tenant_id, D0 + DAY)
      .run();
    const shorter = await exportTo(t, dest.id);
    expect(shorter).toMatchObject({ status: "succeeded", files: 1 });
    const gone = first.file_list[1].key;
    expect((await bucketObjects(bucket)).map((o) => o.key)).toEqual([first.file_list[0].key]);
    expect((await bucketLog(bucket)).filter((l) => l.method === "DELETE")).toEqual([
      { method: "DELETE", key: gone, status: 204, content_sha256: expect.any(String) },
    ]);
    // The r2 run of the same window is its own window: its files are all still there.
    for (const f of inR2.file_list) expect(await env.EXPORTS.head(f.key)).not.toBeNull();
  });

  it("a wrong secret: the bucket answers 403 SignatureDoesNotMatch, the run fails with it; rotating the secret back works", async () => {
    const bucket = "rotated-bucket";
    const dest = await createS3(tenant, bucket);
    const wrong = await call("PATCH", `/api/exports/destinations/${dest.id}`, {
      ...op(tenant),
      body: { secret_access_key: "not-the-secret-at-all" },
    });
    expect(wrong.status).toBe(200);
    expect(JSON.stringify(wrong.body)).not.toContain("not-the-secret-at-all");

    const failed = await exportTo(tenant, dest.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^S3 PUT answered 403 SignatureDoesNotMatch/);
    expect(failed.files).toBe(0);
    expect(await bucketObjects(bucket)).toEqual([]);
    expect((await getRun(env.DB, tenant.tenant_id, failed.id))?.status).toBe("failed");

    const test = await call("POST", `/api/exports/destinations/${dest.id}/test`, op(tenant));
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: false, status: 403 });
    expect(test.body.error).toContain("SignatureDoesNotMatch");
    expect((await getDestination(env.DB, tenant.tenant_id, dest.id))?.last_test_ok).toBe(false);

    await call("PATCH", `/api/exports/destinations/${dest.id}`, {
      ...op(tenant),
      body: { secret_access_key: S3_SECRET_ACCESS_KEY },
    });
    const fixed = await exportTo(tenant, dest.id);
    expect(fixed.status).toBe("succeeded");
    expect(await bucketObjects(bucket)).toHaveLength(2);
  });

  it("the test action PUTs and DELETEs a probe, and reports a bucket that refuses the delete", async () => {
    const bucket = "probe-bucket";
    const dest = await createS3(tenant, bucket);
    const ok = await call("POST", `/api/exports/destinations/${dest.id}/test`, op(tenant));
    expect(ok.status).toBe(200);
    const probe = `${PREFIX}tenant=${tenant.tenant_id}/_probe/${dest.id}.json`;
    expect(ok.body).toMatchObject({ ok: true, status: null, error: null, probe });
    expect((await bucketLog(bucket)).map((l) => [l.method, l.key, l.status])).toEqual([
      ["PUT", probe, 200],
      ["DELETE", probe, 204],
    ]);
    expect(await bucketObjects(bucket)).toEqual([]);

    await fetch(`${s3Origin()}/_control/deny?bucket=${bucket}&method=DELETE`, { method: "POST" });
    const refused = await call("POST", `/api/exports/destinations/${dest.id}/test`, op(tenant));
    expect(refused.body).toMatchObject({ ok: false, status: 403 });
    expect(refused.body.error).toMatch(/^S3 DELETE answered 403 AccessDenied/);
    const listed = await call("GET", "/api/exports/destinations", op(tenant));
    const shown = listed.body.data.find((d: { id: string }) => d.id === dest.id);
    expect(shown.last_test).toMatchObject({ ok: false });
  });
});

describe("addressing and errors", () => {
  it("path-style and virtual-hosted URLs encode the Hive keys; an S3 error body gives its code", async () => {
    const settings = {
      endpoint: "https://abc123.r2.cloudflarestorage.com",
      bucket: "my-warehouse",
      region: "auto",
      prefix: "aforo/",
      path_style: true,
      access_key_id: S3_ACCESS_KEY_ID,
    };
    const key = "aforo/tenant=ten_1/dataset=rollups_hourly/date=2026-10-05/x y.parquet";
    expect(objectUrl(settings, key)).toBe(
      "https://abc123.r2.cloudflarestorage.com/my-warehouse/aforo/tenant%3Dten_1/dataset%3Drollups_hourly/date%3D2026-10-05/x%20y.parquet",
    );
    expect(objectUrl({ ...settings, path_style: false }, "a/b=c")).toBe(
      "https://my-warehouse.abc123.r2.cloudflarestorage.com/a/b%3Dc",
    );
    expect(
      s3ErrorOf(
        '<?xml version="1.0"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>',
      ),
    ).toEqual({ code: "NoSuchBucket", message: "The specified bucket does not exist" });
    expect(s3ErrorOf("Bad Gateway")).toEqual({ code: null, message: null });

    // Virtual-hosted is stored as asked; the bucket's own host goes through the guard too.
    const hosted = await call("POST", "/api/exports/destinations", {
      ...op(tenant),
      body: {
        type: "s3",
        name: "Hosted",
        endpoint: "https://s3.eu-west-1.amazonaws.com",
        bucket: "hosted-bucket",
        region: "eu-west-1",
        path_style: false,
        access_key_id: S3_ACCESS_KEY_ID,
        secret_access_key: S3_SECRET_ACCESS_KEY,
      },
    });
    expect(hosted.status).toBe(201);
    expect(hosted.body.s3).toMatchObject({ path_style: false, region: "eu-west-1", prefix: "" });
    const local = await call("POST", "/api/exports/destinations", {
      ...op(tenant),
      body: {
        type: "s3",
        name: "Hosted on a private name",
        endpoint: "https://storage.internal",
        bucket: "hosted-bucket",
        path_style: false,
        access_key_id: S3_ACCESS_KEY_ID,
        secret_access_key: S3_SECRET_ACCESS_KEY,
      },
    });
    expectProblem(local, 400, "validation_failed");
  });
});

describe("schema/0040_s3_destination.sql", () => {
  it("rebuilds both tables keeping every r2, webhook and s3 row, and their CHECKs take s3 only beside them", async () => {
    const t = await createTenant("Migration Co");
    const hook = await call("POST", "/api/exports/destinations", {
      ...op(t),
      body: { type: "webhook", name: "Hook", url: "https://hooks.example.com/m" },
    });
    const r2 = await call("POST", "/api/exports/destinations", {
      ...op(t),
      body: { type: "r2", name: "Ours" },
    });
    await seedRollups(t.tenant_id, D0, 2, 1);
    const run = await exportTo(t, undefined);
    const before = {
      hook: await getDestinationSecret(env.DB, t.tenant_id, hook.body.id),
      r2: await getDestination(env.DB, t.tenant_id, r2.body.id),
      run: await getRun(env.DB, t.tenant_id, run.id),
    };

    // Run the migration again over the migrated tables: it copies every row into the rebuilt
    // tables exactly as it did when it first ran over 0028's.
    const migration = (env.TEST_MIGRATIONS as { name: string; queries: string[] }[]).find((m) =>
      m.name.startsWith("0040_"),
    );
    expect(migration?.queries.length).toBeGreaterThan(5);
    for (const q of migration?.queries ?? []) await env.DB.prepare(q).run();

    expect(await getDestinationSecret(env.DB, t.tenant_id, hook.body.id)).toEqual(before.hook);
    expect(await getDestination(env.DB, t.tenant_id, r2.body.id)).toEqual(before.r2);
    expect(await getRun(env.DB, t.tenant_id, run.id)).toEqual(before.run);
    expect(before.hook?.secret?.startsWith("v1:")).toBe(true);
    // The indexes came back.
    const indexes = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'export_runs' AND name LIKE 'export_runs_%' ORDER BY name",
    ).all<{ name: string }>();
    expect(indexes.results.map((r) => r.name)).toEqual([
      "export_runs_by_time",
      "export_runs_one_per_slot",
    ]);
    // s3 is taken; anything else is still refused.
    await expect(
      env.DB.prepare(
        `INSERT INTO export_destinations (tenant_id, id, type, name, created_at, updated_at)
         VALUES (?, 'exd_ftp', 'ftp', 'x', 0, 0)`,
      )
        .bind(t.tenant_id)
        .run(),
    ).rejects.toThrow(/CHECK/);
    const s3 = await createS3(t, "after-migration");
    expect((await getDestination(env.DB, t.tenant_id, s3.id))?.type).toBe("s3");
  });
});
