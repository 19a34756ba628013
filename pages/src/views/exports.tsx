// Exports (issue 16 item 6; docs/exports.md): where the tenant's data goes to its warehouse.
// Destinations (Aforo's R2 under the tenant's prefix, a signed webhook, or the tenant's own S3
// bucket: add one, a webhook's signing secret shown once, an S3 secret access key write-only;
// test it and see what really happened; edit a bucket; disable, enable, delete), an export
// run now, the schedules, the run history with its freshness (`data_as_of`) and a run's files
// (downloads) and webhook batches, and the event archive's partitions for a range of dates.
// Changing anything needs exports:manage: a role without it sees everything and is offered no
// control that the API would refuse. The API's field errors are shown beside their fields.

import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Page } from "../../../contracts/common";
import type {
  ArchivePartition,
  ExportDatasetName,
  ExportDestination,
  ExportDestinationTest,
  ExportDestinationType,
  ExportDestinationWithSecret,
  ExportFile,
  ExportFormat,
  ExportRun,
  ExportRunDetail,
  ExportS3Settings,
  ExportSchedule,
  ExportScheduleRange,
} from "../../../contracts/exports";
import type { SavedReport } from "../../../contracts/reports";
import { DataTable } from "../components/data-table";
import { Badge, ConfirmDialog, Empty, PageHeader, QueryView, Refused } from "../components/ui";
import { type ApiClient, ApiError, type FieldError, useApi, withQuery } from "../lib/api";
import {
  addDays,
  BATCH_TONES,
  byteSize,
  DATASET_LABELS,
  DESTINATION_LABELS,
  destinationType,
  EXPORTS_PERMISSION,
  formatsFor,
  RANGE_LABELS,
  RUN_TONES,
  s3Location,
  todayUtc,
  utcMidnight,
} from "../lib/exports";
import { dateTime, integer } from "../lib/format";
import { actorLabel, usePermit } from "../lib/me";
import { listReports } from "../lib/reports";
import { navigate } from "../lib/router";
import { useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Field errors of a failed request (a query's `query.x` named as its field), else one
 * form-level error. */
function fieldErrors(err: unknown): FieldError[] {
  if (err instanceof ApiError && err.errors.length > 0) {
    return err.errors.map((e) => ({ ...e, path: e.path.replace(/^query\./, "") }));
  }
  return [{ path: "", message: errorText(err) }];
}

/** The messages of `errors` for one field, and those for none of `fields` (the form's own). */
function errorsOf(errors: FieldError[], fields: readonly string[]) {
  return {
    of: (path: string) =>
      errors
        .filter((e) => e.path === path)
        .map((e) => e.message)
        .join("; ") || null,
    rest: errors.filter((e) => !fields.includes(e.path)),
  };
}

function FormError(props: { errors: FieldError[] }) {
  if (props.errors.length === 0) return null;
  return (
    <p class="form-error" role="alert">
      {props.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ")}
    </p>
  );
}

/** A labelled control with its error beside it (`err-<form>-<name>`). */
function Field(props: {
  form: string;
  name: string;
  label: string;
  error: string | null;
  help?: string;
  /** The form's full width (a form of one column). */
  block?: boolean;
  children: (attrs: {
    id: string;
    name: string;
    "aria-invalid": true | undefined;
    "aria-describedby": string | undefined;
  }) => ComponentChildren;
}) {
  const id = `err-${props.form}-${props.name}`;
  const control = `${props.form}-${props.name}`;
  return (
    <div class={props.block ? "field field-block" : "field"}>
      <label for={control}>{props.label}</label>
      {props.children({
        id: control,
        name: props.name,
        "aria-invalid": props.error ? true : undefined,
        "aria-describedby": props.error ? id : undefined,
      })}
      {props.help ? <span class="muted small">{props.help}</span> : null}
      {props.error ? (
        <span class="field-error" id={id}>
          {props.error}
        </span>
      ) : null}
    </div>
  );
}

const value = (e: Event) => (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;

const destinationName = (id: string | null, destinations: readonly ExportDestination[]) =>
  id === null
    ? "Aforo R2 (your prefix)"
    : (destinations.find((d) => d.id === id)?.name ?? `deleted destination ${id}`);

export function ExportsView(props: ViewProps) {
  const permit = usePermit(EXPORTS_PERMISSION);
  const destinations = useQuery<{ data: ExportDestination[] }>("/api/exports/destinations");
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [runsTick, setRunsTick] = useState(0);
  const selectedRun = props.search.get("run");
  const select = (id: string | null) =>
    navigate(withQuery(props.path, { run: id }), { replace: true });
  const list = destinations.data?.data ?? [];

  return (
    <section aria-labelledby="page-title" class="exports">
      <PageHeader
        title="Exports"
        subtitle="Your data in your warehouse: Parquet files in R2 or your own S3 bucket, or signed webhook batches, on demand or on a schedule, and the raw-event archive by day."
      />
      <Refused reason={permit.reason} what="Exports are read-only for you" />
      {secret ? (
        <div class="panel secret-once" role="status" data-testid="secret-once">
          <strong>Signing secret for {secret.name}.</strong> Copy it now: it is shown only this
          once. The receiver verifies each batch with it (Standard Webhooks).
          <div class="secret-value">
            <code data-testid="secret-value">{secret.secret}</code>
            <button
              type="button"
              class="btn btn-small"
              onClick={() => navigator.clipboard?.writeText(secret.secret).catch(() => {})}
            >
              Copy
            </button>
            <button type="button" class="btn btn-small" onClick={() => setSecret(null)}>
              Done
            </button>
          </div>
        </div>
      ) : null}

      <div class={permit.allowed ? "split" : undefined}>
        <section class="panel" aria-labelledby="destinations-title" data-testid="destinations">
          <div class="panel-head">
            <h2 id="destinations-title">Destinations</h2>
            <button
              type="button"
              class="btn btn-small"
              onClick={destinations.reload}
              disabled={destinations.loading}
            >
              Refresh
            </button>
          </div>
          <QueryView q={destinations} what="destinations">
            {(data) =>
              data.data.length === 0 ? (
                <Empty title="No destination yet">
                  An export without one goes to your prefix in Aforo's R2 bucket.
                </Empty>
              ) : (
                <div class="channel-list">
                  {data.data.map((d) => (
                    <DestinationCard
                      key={d.id}
                      destination={d}
                      canManage={permit.allowed}
                      onChanged={destinations.reload}
                      onSecret={(s) => setSecret({ name: d.name, secret: s })}
                    />
                  ))}
                </div>
              )
            }
          </QueryView>
        </section>
        {permit.allowed ? (
          <div class="split-side">
            <AddDestination
              onCreated={(d) => {
                destinations.reload();
                if (d.secret) setSecret({ name: d.name, secret: d.secret });
              }}
            />
            <ExportNow
              destinations={list}
              onRun={(run) => {
                setRunsTick((t) => t + 1);
                select(run.id);
              }}
            />
          </div>
        ) : null}
      </div>

      <RunHistory
        tick={runsTick}
        destinations={list}
        selected={selectedRun}
        onSelect={(id) => select(selectedRun === id ? null : id)}
      />
      {selectedRun ? (
        <RunDetail
          id={selectedRun}
          destinations={list}
          onStatusChange={() => setRunsTick((t) => t + 1)}
        />
      ) : null}
      <Schedules destinations={list} canManage={permit.allowed} />
      <ArchivePartitions />
    </section>
  );
}

// ---- Destinations -------------------------------------------------------------------------------

function DestinationCard(props: {
  destination: ExportDestination;
  canManage: boolean;
  onChanged: () => void;
  onSecret: (secret: string) => void;
}) {
  const api = useApi();
  const d = props.destination;
  const [busy, setBusy] = useState<string | null>(null);
  const [test, setTest] = useState<ExportDestinationTest | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<"delete" | "rotate" | null>(null);
  const [editing, setEditing] = useState(false);
  const path = `/api/exports/destinations/${encodeURIComponent(d.id)}`;

  const run = async (what: string, fn: () => Promise<void>) => {
    setBusy(what);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(null);
    }
  };
  const sendTest = () =>
    run("test", async () => {
      setTest(null);
      setTest(await api.post<ExportDestinationTest>(`${path}/test`));
      props.onChanged();
    });
  const toggle = () =>
    run("toggle", async () => {
      await api.patch(path, { enabled: !d.enabled });
      props.onChanged();
    });
  const rotate = () =>
    run("rotate", async () => {
      const out = await api.patch<ExportDestinationWithSecret>(path, { rotate_secret: true });
      setConfirm(null);
      if (out.secret) props.onSecret(out.secret);
      props.onChanged();
    });
  const remove = () =>
    run("delete", async () => {
      await api.delete(path);
      setConfirm(null);
      props.onChanged();
    });
  const last = d.last_test;

  return (
    <article class="panel channel" data-destination={d.id} aria-labelledby={`exd-${d.id}`}>
      <div class="panel-head">
        <div>
          <h3 id={`exd-${d.id}`}>
            {d.name} <Badge tone="info">{DESTINATION_LABELS[d.type]}</Badge>{" "}
            <Badge tone={d.enabled ? "good" : "neutral"}>
              <span data-testid="destination-state">{d.enabled ? "enabled" : "disabled"}</span>
            </Badge>
          </h3>
          <div class="mono small channel-target">
            {d.s3 ? s3Location(d.s3) : d.type === "r2" ? d.prefix : d.url}
          </div>
          <div class="muted small">
            {d.type === "webhook"
              ? "NDJSON or JSON batches, signed (Standard Webhooks) · "
              : d.s3
                ? `Parquet files in your bucket, SigV4-signed (region ${d.s3.region}) · access key …${d.s3.access_key_id_last4} · `
                : "Parquet files · "}
            {d.secret_set ? "secret stored, never shown again · " : ""}
            {last
              ? `last test ${dateTime(last.at)}: ${last.ok ? "ok" : `failed (${last.error ?? "no answer"})`}`
              : "never tested"}
          </div>
        </div>
        {props.canManage ? (
          <div class="rung-actions">
            <button type="button" class="btn btn-small" onClick={sendTest} disabled={!!busy}>
              {busy === "test" ? "Testing…" : "Test"}
            </button>
            <button type="button" class="btn btn-small" onClick={toggle} disabled={!!busy}>
              {d.enabled ? "Disable" : "Enable"}
            </button>
            {d.type === "webhook" ? (
              <button
                type="button"
                class="btn btn-small"
                onClick={() => setConfirm("rotate")}
                disabled={!!busy}
              >
                Rotate secret
              </button>
            ) : null}
            {d.s3 ? (
              <button
                type="button"
                class="btn btn-small"
                aria-expanded={editing}
                onClick={() => setEditing(!editing)}
                disabled={!!busy}
              >
                {editing ? "Close" : "Edit bucket"}
              </button>
            ) : null}
            <button
              type="button"
              class="btn btn-small btn-danger"
              onClick={() => setConfirm("delete")}
              disabled={!!busy}
            >
              Delete
            </button>
          </div>
        ) : null}
      </div>
      {d.s3 && editing ? (
        <EditS3
          path={path}
          formId={`s3-${d.id}`}
          current={d.s3}
          onSaved={() => {
            setEditing(false);
            props.onChanged();
          }}
        />
      ) : null}
      {test ? (
        <p
          class={test.ok ? "notice" : "warning"}
          role="status"
          data-testid="destination-test"
          data-ok={String(test.ok)}
        >
          {test.ok ? "Test passed" : "Test failed"}
          {test.status !== null ? ` · HTTP ${test.status}` : ""} in {integer(test.duration_ms)} ms
          {test.error ? `: ${test.error}` : ""}
          <span class="muted small mono"> · probe {test.probe}</span>
        </p>
      ) : null}
      {error && !confirm ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <ConfirmDialog
        open={confirm === "rotate"}
        title={`Rotate the signing secret of ${d.name}?`}
        confirmLabel="Rotate secret"
        busy={busy === "rotate"}
        error={confirm === "rotate" ? error : null}
        onConfirm={rotate}
        onCancel={() => setConfirm(null)}
      >
        Batches from now on are signed with a new secret, shown once; the receiver must be given it,
        or it will refuse them.
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === "delete"}
        title={`Delete ${d.name}?`}
        confirmLabel="Delete destination"
        danger
        busy={busy === "delete"}
        error={confirm === "delete" ? error : null}
        onConfirm={remove}
        onCancel={() => setConfirm(null)}
      >
        Its secret is deleted and batches not yet delivered to it are canceled. Files already
        written stay downloadable from their runs; schedules naming it stop running.
      </ConfirmDialog>
    </article>
  );
}

/** An s3 destination's fields as the forms hold them; the secret access key is write-only. */
interface S3Form {
  endpoint: string;
  bucket: string;
  region: string;
  prefix: string;
  path_style: boolean;
  access_key_id: string;
  secret_access_key: string;
}

const S3_FIELDS = [
  "endpoint",
  "bucket",
  "region",
  "prefix",
  "path_style",
  "access_key_id",
  "secret_access_key",
] as const;

const EMPTY_S3: S3Form = {
  endpoint: "",
  bucket: "",
  region: "auto",
  prefix: "",
  path_style: true,
  access_key_id: "",
  secret_access_key: "",
};

/** The bucket's fields. Editing (`current` given), empty key fields keep the stored key. */
function S3Fields(props: {
  form: string;
  value: S3Form;
  onChange: (v: S3Form) => void;
  error: (path: string) => string | null;
  current?: ExportS3Settings;
}) {
  const v = props.value;
  const set = (change: Partial<S3Form>) => props.onChange({ ...v, ...change });
  const text = (
    name: "endpoint" | "bucket" | "region" | "prefix",
    label: string,
    hint: string,
    help?: string,
  ) => (
    <Field
      form={props.form}
      name={name}
      label={label}
      error={props.error(name)}
      block
      {...(help ? { help } : {})}
    >
      {(a) => (
        <input
          {...a}
          value={v[name]}
          placeholder={hint}
          onInput={(e) => set({ [name]: value(e) })}
        />
      )}
    </Field>
  );
  return (
    <>
      {text(
        "endpoint",
        "Endpoint",
        "https://<account>.r2.cloudflarestorage.com",
        "The S3-compatible endpoint's origin, https to a public host (loopback allowed in local mode).",
      )}
      {text("bucket", "Bucket", "my-warehouse")}
      {text("region", "Region", "auto", "auto for R2; the bucket's region for Amazon S3.")}
      {text(
        "prefix",
        "Key prefix (optional)",
        "aforo/exports",
        "Where the date-partitioned files start in the bucket.",
      )}
      <label class="field field-inline">
        <input
          type="checkbox"
          name="path_style"
          checked={v.path_style}
          onChange={(e) => set({ path_style: (e.currentTarget as HTMLInputElement).checked })}
        />
        <span>Path-style addressing (endpoint/bucket/key; R2 and MinIO need it)</span>
      </label>
      <Field
        form={props.form}
        name="access_key_id"
        label="Access key id"
        error={props.error("access_key_id")}
        block
      >
        {(a) => (
          <input
            {...a}
            value={v.access_key_id}
            autocomplete="off"
            placeholder={
              props.current
                ? `…${props.current.access_key_id_last4} (unchanged when empty)`
                : "AKIA…"
            }
            onInput={(e) => set({ access_key_id: value(e) })}
          />
        )}
      </Field>
      <Field
        form={props.form}
        name="secret_access_key"
        label="Secret access key"
        error={props.error("secret_access_key")}
        block
        help="Stored encrypted and never shown again."
      >
        {(a) => (
          <input
            {...a}
            type="password"
            autocomplete="new-password"
            value={v.secret_access_key}
            placeholder={props.current ? "unchanged when empty" : ""}
            onInput={(e) => set({ secret_access_key: value(e) })}
          />
        )}
      </Field>
    </>
  );
}

/** Changes an s3 destination's bucket: only the fields that differ are sent. */
function EditS3(props: {
  path: string;
  formId: string;
  current: ExportS3Settings;
  onSaved: () => void;
}) {
  const api = useApi();
  const c = props.current;
  const [form, setForm] = useState<S3Form>({
    endpoint: c.endpoint,
    bucket: c.bucket,
    region: c.region,
    prefix: c.prefix,
    path_style: c.path_style,
    access_key_id: "",
    secret_access_key: "",
  });
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const err = errorsOf(errors, S3_FIELDS);

  const submit = async (e: Event) => {
    e.preventDefault();
    const change: Record<string, string | boolean> = {};
    for (const f of ["endpoint", "bucket", "region", "prefix"] as const) {
      if (form[f].trim() !== c[f]) change[f] = form[f].trim();
    }
    if (form.path_style !== c.path_style) change.path_style = form.path_style;
    if (form.access_key_id.trim()) change.access_key_id = form.access_key_id.trim();
    if (form.secret_access_key) change.secret_access_key = form.secret_access_key;
    if (Object.keys(change).length === 0) {
      props.onSaved();
      return;
    }
    setBusy(true);
    setErrors([]);
    try {
      await api.patch(props.path, change);
      props.onSaved();
    } catch (error) {
      setErrors(fieldErrors(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="add-channel" aria-label="Edit the bucket" onSubmit={submit} data-testid="edit-s3">
      <S3Fields form={props.formId} value={form} onChange={setForm} error={err.of} current={c} />
      <FormError errors={err.rest} />
      <button type="submit" class="btn btn-primary btn-small" disabled={busy}>
        {busy ? "Saving…" : "Save bucket"}
      </button>
    </form>
  );
}

const DESTINATION_FIELDS = ["type", "name", "url", "secret", ...S3_FIELDS] as const;

function AddDestination(props: { onCreated: (d: ExportDestinationWithSecret) => void }) {
  const api = useApi();
  const [type, setType] = useState<ExportDestinationType>("webhook");
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [secret, setSecret] = useState("");
  const [s3, setS3] = useState<S3Form>(EMPTY_S3);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const err = errorsOf(errors, DESTINATION_FIELDS);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setDone(null);
    const body =
      type === "r2"
        ? { type, name: name.trim() }
        : type === "s3"
          ? {
              type,
              name: name.trim(),
              endpoint: s3.endpoint.trim(),
              bucket: s3.bucket.trim(),
              ...(s3.region.trim() ? { region: s3.region.trim() } : {}),
              ...(s3.prefix.trim() ? { prefix: s3.prefix.trim() } : {}),
              path_style: s3.path_style,
              access_key_id: s3.access_key_id.trim(),
              secret_access_key: s3.secret_access_key,
            }
          : {
              type,
              name: name.trim(),
              url: url.trim(),
              ...(secret.trim() ? { secret: secret.trim() } : {}),
            };
    try {
      const created = await api.post<ExportDestinationWithSecret>(
        "/api/exports/destinations",
        body,
      );
      setName("");
      setUrl("");
      setSecret("");
      setS3(EMPTY_S3);
      setDone(`Added ${created.name}.`);
      props.onCreated(created);
    } catch (error) {
      setErrors(fieldErrors(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel add-channel" aria-labelledby="add-destination-title" onSubmit={submit}>
      <h2 id="add-destination-title">Add a destination</h2>
      <fieldset class="segmented" aria-label="Destination type">
        {(["webhook", "r2", "s3"] as const).map((t) => (
          <button
            key={t}
            type="button"
            class={type === t ? "active" : undefined}
            aria-pressed={type === t}
            onClick={() => {
              setType(t);
              setErrors([]);
            }}
          >
            {DESTINATION_LABELS[t]}
          </button>
        ))}
      </fieldset>
      <p class="muted small">
        {type === "r2"
          ? "Parquet files under your prefix in Aforo's bucket, partitioned by date; read them with DuckDB or copy them into your warehouse (docs/exports.md)."
          : type === "s3"
            ? "The same Parquet files written to your own S3-compatible bucket (Amazon S3, R2, MinIO) with a key that may write there: s3:PutObject and s3:DeleteObject, s3:GetObject for downloads."
            : "Each run's rows sent as NDJSON or JSON batches (the format is chosen per export), signed, each batch delivered once and retried for 48 hours."}
      </p>
      <Field form="destination" name="name" label="Name" error={err.of("name")} block>
        {(a) => (
          <input
            {...a}
            value={name}
            placeholder={type === "webhook" ? "Warehouse loader" : "Warehouse bucket"}
            onInput={(e) => setName(value(e))}
          />
        )}
      </Field>
      {type === "webhook" ? (
        <>
          <Field
            form="destination"
            name="url"
            label="Endpoint URL"
            error={err.of("url")}
            block
            help="https to a public host (loopback allowed in local mode)."
          >
            {(a) => (
              <input
                {...a}
                value={url}
                placeholder="https://example.com/aforo-exports"
                onInput={(e) => setUrl(value(e))}
              />
            )}
          </Field>
          <Field
            form="destination"
            name="secret"
            label="Signing secret (optional)"
            error={err.of("secret")}
            block
          >
            {(a) => (
              <input
                {...a}
                value={secret}
                placeholder="whsec_… — generated when empty"
                onInput={(e) => setSecret(value(e))}
              />
            )}
          </Field>
        </>
      ) : null}
      {type === "s3" ? (
        <S3Fields form="destination" value={s3} onChange={setS3} error={err.of} />
      ) : null}
      <FormError errors={err.rest} />
      {done ? (
        <p class="notice" role="status">
          {done}
        </p>
      ) : null}
      <button type="submit" class="btn btn-primary" disabled={busy}>
        {busy ? "Adding…" : "Add destination"}
      </button>
    </form>
  );
}

// ---- Export now ---------------------------------------------------------------------------------

const EXPORT_FIELDS = ["dataset", "report", "destination", "from", "to", "format"] as const;

/** The saved reports (and templates) a `report` export or schedule may name. */
function useReports(enabled: boolean) {
  return useQuery<SavedReport[]>(enabled ? "exports:reports" : null, (api, signal) =>
    listReports(api, signal),
  );
}

/** Dataset, report (for `report`), destination and format: what an export and a schedule both
 * name. The format follows the destination: what it takes, its default first. */
function TargetFields(props: {
  form: string;
  destinations: readonly ExportDestination[];
  dataset: ExportDatasetName;
  report: string;
  destination: string;
  format: ExportFormat;
  error: (path: string) => string | null;
  onChange: (
    next: Partial<{
      dataset: ExportDatasetName;
      report: string;
      destination: string;
      format: ExportFormat;
    }>,
  ) => void;
}) {
  const reports = useReports(props.dataset === "report");
  const usable = props.destinations.filter((d) => d.enabled);
  const formats = formatsFor(destinationType(props.destination, props.destinations));
  return (
    <>
      <Field form={props.form} name="dataset" label="Dataset" error={props.error("dataset")}>
        {(a) => (
          <select
            {...a}
            value={props.dataset}
            onChange={(e) => props.onChange({ dataset: value(e) as ExportDatasetName })}
          >
            {Object.entries(DATASET_LABELS).map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        )}
      </Field>
      {props.dataset === "report" ? (
        <Field form={props.form} name="report" label="Report" error={props.error("report")}>
          {(a) => (
            <select
              {...a}
              value={props.report}
              onChange={(e) => props.onChange({ report: value(e) })}
            >
              <option value="">Choose a report…</option>
              {(reports.data ?? []).map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                </option>
              ))}
            </select>
          )}
        </Field>
      ) : null}
      <Field
        form={props.form}
        name="destination"
        label="Destination"
        error={props.error("destination")}
      >
        {(a) => (
          <select
            {...a}
            value={props.destination}
            onChange={(e) => {
              const id = value(e);
              props.onChange({
                destination: id,
                format: formatsFor(destinationType(id, props.destinations))[0] ?? "parquet",
              });
            }}
          >
            <option value="">Aforo R2 (your prefix)</option>
            {usable.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name} ({d.type === "webhook" ? "webhook" : DESTINATION_LABELS[d.type]})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field form={props.form} name="format" label="Format" error={props.error("format")}>
        {(a) => (
          <select
            {...a}
            value={props.format}
            onChange={(e) => props.onChange({ format: value(e) as ExportFormat })}
          >
            {formats.map((f) => (
              <option key={f} value={f}>
                {f === "ndjson" ? "NDJSON" : f === "json" ? "JSON" : "Parquet"}
              </option>
            ))}
          </select>
        )}
      </Field>
    </>
  );
}

function ExportNow(props: {
  destinations: readonly ExportDestination[];
  onRun: (run: ExportRunDetail) => void;
}) {
  const api = useApi();
  const today = todayUtc();
  const [target, setTarget] = useState({
    dataset: "rollups_hourly" as ExportDatasetName,
    report: "",
    destination: "",
    format: "parquet" as ExportFormat,
  });
  const [from, setFrom] = useState(addDays(today, -7));
  const [to, setTo] = useState(today);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const err = errorsOf(errors, EXPORT_FIELDS);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    try {
      const run = await api.post<ExportRunDetail>("/api/exports", {
        dataset: target.dataset,
        ...(target.dataset === "report" ? { report: target.report } : {}),
        ...(target.destination ? { destination: target.destination } : {}),
        from: from ? utcMidnight(from) : "",
        to: to ? utcMidnight(to) : "",
        format: target.format,
      });
      props.onRun(run);
    } catch (error) {
      setErrors(fieldErrors(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" aria-labelledby="export-now-title" onSubmit={submit}>
      <h2 id="export-now-title">Export now</h2>
      <p class="muted small">
        Rows with a time in [from, to), UTC days. Re-running a window writes the same file names
        with the same bytes: no second copy.
      </p>
      <div class="field-grid">
        <TargetFields
          form="export"
          destinations={props.destinations}
          {...target}
          error={err.of}
          onChange={(next) => setTarget((t) => ({ ...t, ...next }))}
        />
        <Field form="export" name="from" label="From (UTC day)" error={err.of("from")}>
          {(a) => <input {...a} type="date" value={from} onInput={(e) => setFrom(value(e))} />}
        </Field>
        <Field form="export" name="to" label="To (UTC day, exclusive)" error={err.of("to")}>
          {(a) => <input {...a} type="date" value={to} onInput={(e) => setTo(value(e))} />}
        </Field>
      </div>
      <FormError errors={err.rest} />
      <button type="submit" class="btn btn-primary" disabled={busy}>
        {busy ? "Exporting…" : "Run export"}
      </button>
    </form>
  );
}

// ---- Runs ---------------------------------------------------------------------------------------

/** A run's window: whole UTC days as their dates (how the form asks and the files split),
 * anything else as instants in the viewer's zone. */
function windowLabel(r: { from: string; to: string }): string {
  const midnight = (t: string) => t.endsWith("T00:00:00.000Z");
  return midnight(r.from) && midnight(r.to)
    ? `${r.from.slice(0, 10)} → ${r.to.slice(0, 10)} UTC`
    : `${dateTime(r.from)} → ${dateTime(r.to)}`;
}

function RunHistory(props: {
  /** Changes when a run starts or one on screen changes status: the newest page again. */
  tick: number;
  destinations: readonly ExportDestination[];
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const [cursor, setCursor] = useState<string | null>(null);
  const q = useQuery<Page<ExportRun>>(withQuery("/api/exports/runs", { limit: 20, cursor }));
  useEffect(() => {
    if (props.tick === 0) return;
    if (cursor === null) q.reload();
    else setCursor(null);
  }, [props.tick]);
  return (
    <section class="panel" aria-labelledby="runs-title" data-testid="export-runs">
      <div class="panel-head">
        <h2 id="runs-title">Run history</h2>
        <button type="button" class="btn btn-small" onClick={q.reload} disabled={q.loading}>
          Refresh
        </button>
      </div>
      <QueryView q={q} what="export runs">
        {(page) =>
          page.data.length === 0 ? (
            <Empty title="No export has run yet">
              Run one now or add a schedule; each run is listed here with its rows and files.
            </Empty>
          ) : (
            <>
              <DataTable
                compact
                caption="Export runs"
                rows={page.data}
                rowKey={(r) => r.id}
                rowProps={(r) => ({
                  "data-run": r.id,
                  class: props.selected === r.id ? "row-selected" : undefined,
                })}
                columns={[
                  { header: "Started", cell: (r) => dateTime(r.created_at), rowHeader: true },
                  {
                    header: "Status",
                    cell: (r) => (
                      <Badge tone={RUN_TONES[r.status]} title={r.error ?? undefined}>
                        <span data-testid="run-status">{r.status}</span>
                      </Badge>
                    ),
                  },
                  {
                    header: "Dataset",
                    cell: (r) => (
                      <>
                        {DATASET_LABELS[r.dataset]}
                        {r.report ? <div class="muted small mono">{r.report}</div> : null}
                      </>
                    ),
                  },
                  { header: "Window", class: "small", cell: windowLabel },
                  {
                    header: "Destination",
                    cell: (r) => (
                      <>
                        {destinationName(r.destination, props.destinations)}
                        <div class="muted small">{r.format}</div>
                      </>
                    ),
                  },
                  {
                    header: "Rows",
                    num: true,
                    cell: (r) => <span data-testid="run-rows">{integer(r.rows)}</span>,
                  },
                  { header: "Bytes", num: true, cell: (r) => byteSize(r.bytes) },
                  { header: "Files", num: true, cell: (r) => integer(r.files) },
                  {
                    header: "Data as of",
                    title: "Freshness: the data exported reflects everything up to this instant",
                    cell: (r) => dateTime(r.data_as_of),
                  },
                  {
                    header: "By",
                    class: "small",
                    cell: (r) => (r.schedule ? `schedule ${r.schedule}` : actorLabel(r.created_by)),
                  },
                  {
                    header: "",
                    key: "open",
                    cell: (r) => (
                      <button
                        type="button"
                        class="btn btn-small"
                        aria-expanded={props.selected === r.id}
                        onClick={() => props.onSelect(r.id)}
                      >
                        {props.selected === r.id ? "Hide" : "Details"}
                      </button>
                    ),
                  },
                ]}
              />
              <div class="pager">
                {cursor ? (
                  <button type="button" class="btn btn-small" onClick={() => setCursor(null)}>
                    Newest
                  </button>
                ) : null}
                {page.next_cursor ? (
                  <button
                    type="button"
                    class="btn btn-small"
                    onClick={() => setCursor(page.next_cursor)}
                  >
                    Older
                  </button>
                ) : null}
              </div>
            </>
          )
        }
      </QueryView>
    </section>
  );
}

function RunDetail(props: {
  id: string;
  destinations: readonly ExportDestination[];
  onStatusChange: () => void;
}) {
  const q = useQuery<ExportRunDetail>(`/api/exports/runs/${encodeURIComponent(props.id)}`);
  // A webhook run is `delivering` until every batch is delivered: look again while it is, and
  // have the history say so when it moves on.
  const status = q.data?.status;
  const seen = useRef<{ id: string; status: string } | null>(null);
  useEffect(() => {
    if (!status) return;
    const before = seen.current;
    seen.current = { id: props.id, status };
    if (before?.id === props.id && before.status !== status) props.onStatusChange();
  }, [props.id, status]);
  const live = status === "delivering" || status === "running";
  useEffect(() => {
    if (!live) return;
    const t = setTimeout(q.reload, 3000);
    return () => clearTimeout(t);
  }, [live, q.fetchedAt]);
  return (
    <section
      class="panel"
      aria-labelledby="run-detail-title"
      data-testid="run-detail"
      data-run={q.data?.id}
    >
      <QueryView q={q} what="the run">
        {(r) => (
          <>
            <div class="panel-head">
              <h2 id="run-detail-title">
                Run <span class="mono">{r.id}</span>{" "}
                <Badge tone={RUN_TONES[r.status]}>
                  <span data-testid="run-detail-status">{r.status}</span>
                </Badge>
              </h2>
              <button type="button" class="btn btn-small" onClick={q.reload} disabled={q.loading}>
                Refresh
              </button>
            </div>
            <dl class="exports-facts">
              <dt>Dataset</dt>
              <dd>
                {DATASET_LABELS[r.dataset]}
                {r.report ? ` (${r.report})` : ""}, {r.format}
              </dd>
              <dt>Window</dt>
              <dd>{windowLabel(r)}</dd>
              <dt>Destination</dt>
              <dd>{destinationName(r.destination, props.destinations)}</dd>
              <dt>Rows</dt>
              <dd data-testid="run-detail-rows">{integer(r.rows)}</dd>
              <dt>Data as of</dt>
              <dd>{dateTime(r.data_as_of)}</dd>
              <dt>Finished</dt>
              <dd>{dateTime(r.finished_at)}</dd>
              <dt>Started by</dt>
              <dd>{actorLabel(r.created_by)}</dd>
            </dl>
            {r.error ? (
              <p class="warning" role="status">
                {r.error}
              </p>
            ) : null}
            {r.file_list.length > 0 ? (
              <>
                <h3>Files</h3>
                <DataTable
                  compact
                  testid="run-files"
                  caption="The run's files"
                  rows={r.file_list}
                  rowKey={(f) => f.name}
                  columns={[
                    {
                      header: "File",
                      rowHeader: true,
                      cell: (f) => <FileDownload file={f} />,
                    },
                    { header: "Date", cell: (f) => f.date || "—" },
                    { header: "Rows", num: true, cell: (f) => integer(f.rows) },
                    { header: "Bytes", num: true, cell: (f) => byteSize(f.bytes) },
                    {
                      header: "Key and SHA-256",
                      class: "mono small",
                      cell: (f) => (
                        <>
                          {f.key}
                          <div class="muted" title={f.sha256}>
                            {f.sha256.slice(0, 16)}…
                          </div>
                        </>
                      ),
                    },
                  ]}
                />
              </>
            ) : null}
            {r.batches.length > 0 ? (
              <>
                <h3>Webhook batches</h3>
                <DataTable
                  compact
                  testid="run-batches"
                  caption="The run's webhook batches"
                  rows={r.batches}
                  rowKey={(b) => b.id}
                  columns={[
                    { header: "#", num: true, cell: (b) => b.seq, rowHeader: true },
                    { header: "Batch id", class: "mono small", cell: (b) => b.id },
                    { header: "Rows", num: true, cell: (b) => integer(b.rows) },
                    {
                      header: "Status",
                      cell: (b) => (
                        <>
                          <Badge tone={BATCH_TONES[b.status]}>
                            <span data-testid="batch-status">{b.status}</span>
                          </Badge>
                          {b.next_attempt_at ? (
                            <div class="muted small">next {dateTime(b.next_attempt_at)}</div>
                          ) : null}
                        </>
                      ),
                    },
                    { header: "Attempts", num: true, cell: (b) => b.attempts },
                    {
                      header: "Last answer",
                      class: "small",
                      cell: (b) => (
                        <>
                          {b.last_status !== null ? `HTTP ${b.last_status}` : "—"}
                          {b.last_error ? <div class="text-bad">{b.last_error}</div> : null}
                        </>
                      ),
                    },
                    { header: "Delivered", cell: (b) => dateTime(b.delivered_at) },
                  ]}
                />
              </>
            ) : null}
            {r.file_list.length === 0 && r.batches.length === 0 ? (
              <p class="muted">No file and no batch: the window held no rows.</p>
            ) : null}
          </>
        )}
      </QueryView>
    </section>
  );
}

/** A run's file. A session's cookie goes with a plain link; an API token has to be sent as a
 * header, so the file is fetched and handed over as a Blob. */
function FileDownload(props: { file: ExportFile }) {
  const api = useApi();
  const f = props.file;
  const [error, setError] = useState<string | null>(null);
  const cred = api.credential;
  if (cred.kind !== "token") {
    return (
      <a href={f.download} download={f.name} class="mono small">
        {f.name}
      </a>
    );
  }
  const fetchIt = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await saveWithToken(f.download, f.name, cred.token);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <>
      <a href={f.download} download={f.name} class="mono small" onClick={fetchIt}>
        {f.name}
      </a>
      {error ? (
        <div class="field-error" role="alert">
          {error}
        </div>
      ) : null}
    </>
  );
}

async function saveWithToken(path: string, name: string, token: string) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) {
    let detail = `HTTP ${res.status}`;
    try {
      detail = ((await res.json()) as { detail?: string }).detail ?? detail;
    } catch {}
    throw new Error(`The download failed: ${detail}`);
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---- Schedules ----------------------------------------------------------------------------------

/** "Mon 8 Dec, 02:00" in the schedule's zone. */
function inZone(at: string, zone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    timeZone: zone,
  }).format(new Date(at));
}

function Schedules(props: { destinations: readonly ExportDestination[]; canManage: boolean }) {
  const api = useApi();
  const q = useQuery<{ data: ExportSchedule[] }>("/api/exports/schedules");
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<ExportSchedule | null>(null);
  const [busy, setBusy] = useState(false);
  const path = (s: ExportSchedule) => `/api/exports/schedules/${encodeURIComponent(s.id)}`;
  const change = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      setDeleting(null);
      q.reload();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="panel" aria-labelledby="schedules-title" data-testid="export-schedules">
      <div class="panel-head">
        <h2 id="schedules-title">Schedules</h2>
        <button type="button" class="btn btn-small" onClick={q.reload} disabled={q.loading}>
          Refresh
        </button>
      </div>
      <QueryView q={q} what="export schedules">
        {(data) =>
          data.data.length === 0 ? (
            <Empty title="Nothing scheduled">
              A schedule runs an export at each slot of its cron pattern, over a window that ends at
              the slot.
            </Empty>
          ) : (
            <DataTable
              compact
              caption="Export schedules"
              rows={data.data}
              rowKey={(s) => s.id}
              rowProps={(s) => ({ "data-schedule": s.id })}
              columns={[
                {
                  header: "When",
                  rowHeader: true,
                  cell: (s) => (
                    <>
                      <code>{s.cron}</code>
                      <div class="muted small">{s.runs_in}</div>
                    </>
                  ),
                },
                {
                  header: "Dataset",
                  cell: (s) => (
                    <>
                      {DATASET_LABELS[s.dataset]}
                      {s.report ? <div class="muted small mono">{s.report}</div> : null}
                    </>
                  ),
                },
                { header: "Window", cell: (s) => RANGE_LABELS[s.range] },
                {
                  header: "Destination",
                  cell: (s) => (
                    <>
                      {destinationName(s.destination, props.destinations)}
                      <div class="muted small">{s.format}</div>
                    </>
                  ),
                },
                {
                  header: "Next runs",
                  class: "small",
                  cell: (s) =>
                    s.enabled ? (
                      <span data-testid="schedule-next">
                        {s.next_runs.map((t) => inZone(t, s.runs_in)).join("; ") || "never"}
                      </span>
                    ) : (
                      <Badge>paused</Badge>
                    ),
                },
                {
                  header: "Last run",
                  cell: (s) =>
                    s.last_run ? (
                      <Badge tone={RUN_TONES[s.last_run.status]}>{s.last_run.status}</Badge>
                    ) : (
                      "—"
                    ),
                },
                props.canManage && {
                  header: "",
                  key: "actions",
                  cell: (s) => (
                    <span class="rung-actions">
                      <button
                        type="button"
                        class="btn btn-small"
                        disabled={busy}
                        onClick={() => change(() => api.patch(path(s), { enabled: !s.enabled }))}
                      >
                        {s.enabled ? "Pause" : "Resume"}
                      </button>
                      <button
                        type="button"
                        class="btn btn-small btn-danger"
                        disabled={busy}
                        onClick={() => setDeleting(s)}
                      >
                        Delete
                      </button>
                    </span>
                  ),
                },
              ]}
            />
          )
        }
      </QueryView>
      {error && !deleting ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this schedule?"
        confirmLabel="Delete schedule"
        danger
        busy={busy}
        error={deleting ? error : null}
        onConfirm={() => deleting && change(() => api.delete(path(deleting)))}
        onCancel={() => {
          setDeleting(null);
          setError(null);
        }}
      >
        Its runs and their files stay; no new slot runs.
      </ConfirmDialog>
      {props.canManage ? (
        <AddSchedule api={api} destinations={props.destinations} onCreated={q.reload} />
      ) : null}
    </section>
  );
}

const SCHEDULE_FIELDS = [...EXPORT_FIELDS, "cron", "time_zone", "range"] as const;

function AddSchedule(props: {
  api: ApiClient;
  destinations: readonly ExportDestination[];
  onCreated: () => void;
}) {
  const [target, setTarget] = useState({
    dataset: "rollups_daily" as ExportDatasetName,
    report: "",
    destination: "",
    format: "parquet" as ExportFormat,
  });
  const [cron, setCron] = useState("0 2 * * *");
  const [zone, setZone] = useState("");
  const [range, setRange] = useState<ExportScheduleRange>("yesterday");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const err = errorsOf(errors, SCHEDULE_FIELDS);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setNotice(null);
    try {
      const s = await props.api.post<ExportSchedule>("/api/exports/schedules", {
        dataset: target.dataset,
        ...(target.dataset === "report" ? { report: target.report } : {}),
        ...(target.destination ? { destination: target.destination } : {}),
        format: target.format,
        cron: cron.trim(),
        time_zone: zone.trim() || null,
        range,
      });
      setNotice(
        `Scheduled: next run ${s.next_runs[0] ? inZone(s.next_runs[0], s.runs_in) : "—"} (${s.runs_in}).`,
      );
      props.onCreated();
    } catch (error) {
      setErrors(fieldErrors(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="exports-subform" aria-labelledby="add-schedule-title" onSubmit={submit}>
      <h3 id="add-schedule-title">Add a schedule</h3>
      <div class="field-grid">
        <TargetFields
          form="schedule"
          destinations={props.destinations}
          {...target}
          error={err.of}
          onChange={(next) => setTarget((t) => ({ ...t, ...next }))}
        />
        <Field
          form="schedule"
          name="cron"
          label="Cron"
          error={err.of("cron")}
          help="minute hour day month weekday; at most every 15 minutes"
        >
          {(a) => <input {...a} value={cron} maxLength={120} onInput={(e) => setCron(value(e))} />}
        </Field>
        <Field
          form="schedule"
          name="time_zone"
          label="Time zone"
          error={err.of("time_zone")}
          help="Empty: the workspace's zone"
        >
          {(a) => (
            <input
              {...a}
              value={zone}
              placeholder="Europe/Berlin"
              maxLength={64}
              onInput={(e) => setZone(value(e))}
            />
          )}
        </Field>
        <Field form="schedule" name="range" label="Each run exports" error={err.of("range")}>
          {(a) => (
            <select
              {...a}
              value={range}
              onChange={(e) => setRange(value(e) as ExportScheduleRange)}
            >
              {Object.entries(RANGE_LABELS).map(([v, l]) => (
                <option key={v} value={v}>
                  {l}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <FormError errors={err.rest} />
      {notice ? (
        <p class="notice" role="status" data-testid="schedule-notice">
          {notice}
        </p>
      ) : null}
      <button type="submit" class="btn" disabled={busy}>
        {busy ? "Adding…" : "Add schedule"}
      </button>
    </form>
  );
}

// ---- The event archive --------------------------------------------------------------------------

function ArchivePartitions() {
  const today = todayUtc();
  const [draft, setDraft] = useState({ from: addDays(today, -30), to: today });
  const [range, setRange] = useState(draft);
  const q = useQuery<{ data: ArchivePartition[] }>(
    withQuery("/api/exports/archive", { from: range.from, to: range.to }),
  );
  const errors = q.error instanceof ApiError ? fieldErrors(q.error).filter((e) => e.path) : [];
  const err = errorsOf(errors, ["from", "to"]);
  const totals = (q.data?.data ?? []).reduce(
    (t, p) => ({ files: t.files + p.files, rows: t.rows + p.rows, bytes: t.bytes + p.bytes }),
    { files: 0, rows: 0, bytes: 0 },
  );
  return (
    <section class="panel" aria-labelledby="archive-title" data-testid="archive-partitions">
      <div class="panel-head">
        <div>
          <h2 id="archive-title">Event archive</h2>
          <p class="muted small">
            Every accepted event, rated, as Parquet under <code>dataset=events/date=…/</code>,
            compacted every five minutes into a few files per UTC day.
          </p>
        </div>
        <form
          class="panel-tools"
          onSubmit={(e) => {
            e.preventDefault();
            setRange(draft);
          }}
        >
          <Field form="archive" name="from" label="From (UTC date)" error={err.of("from")}>
            {(a) => (
              <input
                {...a}
                type="date"
                value={draft.from}
                onInput={(e) => setDraft({ ...draft, from: value(e) })}
              />
            )}
          </Field>
          <Field form="archive" name="to" label="To (UTC date)" error={err.of("to")}>
            {(a) => (
              <input
                {...a}
                type="date"
                value={draft.to}
                onInput={(e) => setDraft({ ...draft, to: value(e) })}
              />
            )}
          </Field>
          <button type="submit" class="btn btn-small">
            Show
          </button>
        </form>
      </div>
      {/* A refused range is said beside its dates; anything else is the section's error. */}
      {q.error && errors.length > 0 && err.rest.length === 0 ? null : (
        <QueryView q={q} what="the archive's partitions">
          {(data) =>
            data.data.length === 0 ? (
              <Empty title={`No compacted partition from ${range.from} to ${range.to}`}>
                Events accepted since the last compaction are staged and land here within about five
                minutes.
              </Empty>
            ) : (
              <DataTable
                compact
                testid="archive-table"
                caption="Archive partitions"
                rows={data.data}
                rowKey={(p) => p.date}
                rowProps={(p) => ({ "data-date": p.date })}
                columns={[
                  { header: "Date", rowHeader: true, cell: (p) => p.date },
                  { header: "Files", num: true, cell: (p) => integer(p.files) },
                  { header: "Rows", num: true, cell: (p) => integer(p.rows) },
                  { header: "Bytes", num: true, cell: (p) => byteSize(p.bytes) },
                  {
                    header: "Event times",
                    class: "small",
                    cell: (p) => `${dateTime(p.min_event_time)} → ${dateTime(p.max_event_time)}`,
                  },
                  { header: "Last compaction", cell: (p) => dateTime(p.compacted_at) },
                  { header: "Prefix", class: "mono small", cell: (p) => p.prefix },
                ]}
                foot={
                  <>
                    <th scope="row">Total</th>
                    <td class="num">{integer(totals.files)}</td>
                    <td class="num">{integer(totals.rows)}</td>
                    <td class="num">{byteSize(totals.bytes)}</td>
                    <td colSpan={3} />
                  </>
                }
              />
            )
          }
        </QueryView>
      )}
    </section>
  );
}
