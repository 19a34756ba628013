// Channels (README "Alerts"): where the tenant's alerts go. Add a Slack incoming webhook, an
// e-mail address or a signed webhook (the API's field errors shown beside their fields), send a
// test and see what the receiver answered, rotate a webhook's signing secret (shown once),
// enable / disable, delete, and each channel's delivery log. The alert budget (how many alerts a
// channel gets one by one before the rest are grouped into a digest) is set here too.

import { useEffect, useState } from "preact/hooks";
import type {
  AlertBudget,
  ChannelTestResult,
  ChannelType,
  Delivery,
  NotificationChannel,
  NotificationChannelWithSecret,
} from "../../../contracts/channels";
import type { Page } from "../../../contracts/common";
import {
  Badge,
  ConfirmDialog,
  Empty,
  ErrorState,
  PageHeader,
  QueryView,
  Refused,
} from "../components/ui";
import { ApiError, type FieldError, useApi, withQuery } from "../lib/api";
import { dateTime, integer } from "../lib/format";
import { usePermit } from "../lib/me";
import { Link, navigate } from "../lib/router";
import { useQuery } from "../lib/use-query";
import type { ViewProps } from "./cockpit";

const TYPE_LABELS: Record<ChannelType, string> = {
  slack: "Slack",
  email: "E-mail",
  webhook: "Webhook",
};

const STATUS_TONES: Record<string, string> = {
  delivered: "good",
  pending: "warn",
  dead: "bad",
  canceled: "neutral",
};

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Field errors of a failed request, else one form-level error. */
function fieldErrors(err: unknown): FieldError[] {
  if (err instanceof ApiError && err.errors.length > 0) return err.errors;
  return [{ path: "", message: errorText(err) }];
}

const target = (c: NotificationChannel) => (c.type === "email" ? (c.to ?? "—") : (c.url ?? "—"));

export function ChannelsView(props: ViewProps) {
  const selected = props.search.get("channel");
  const list = useQuery<{ data: NotificationChannel[] }>("/api/channels");
  const [secret, setSecret] = useState<{ channel: string; secret: string; why: string } | null>(
    null,
  );
  const select = (id: string | null) =>
    navigate(withQuery(props.path, { channel: id }), { replace: true });
  const refused = usePermit("channels:manage").reason;

  return (
    <section aria-labelledby="page-title">
      <PageHeader
        title="Channels"
        subtitle="Where alerts go: every new alert is delivered to every enabled channel, within the alert budget."
        actions={
          <button type="button" class="btn" onClick={list.reload} disabled={list.loading}>
            {list.loading && list.data ? "Refreshing…" : "Refresh"}
          </button>
        }
      />
      <Refused reason={refused} what="Channels are read-only for you" />
      {secret ? (
        <div class="panel secret-once" role="status" data-testid="secret-once">
          <strong>{secret.why}</strong> Copy it now: it is shown only this once.
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
      <div class="split">
        <div class="split-main">
          <QueryView q={list} what="channels">
            {(data) =>
              data.data.length === 0 ? (
                <Empty title="No alert channel yet">
                  Alerts are recorded as <code>no_channel</code> and reach nobody until you add one
                  below.
                </Empty>
              ) : (
                <div class="channel-list" data-testid="channel-list">
                  {data.data.map((c) => (
                    <ChannelCard
                      key={c.id}
                      channel={c}
                      selected={selected === c.id}
                      onSelect={() => select(selected === c.id ? null : c.id)}
                      onChanged={list.reload}
                      onDeleted={() => {
                        if (selected === c.id) select(null);
                        list.reload();
                      }}
                      onSecret={(s) =>
                        setSecret({
                          channel: c.id,
                          secret: s,
                          why: `New signing secret for ${c.name}.`,
                        })
                      }
                    />
                  ))}
                </div>
              )
            }
          </QueryView>
          {selected ? (
            <DeliveryLog
              channelId={selected}
              name={list.data?.data.find((c) => c.id === selected)?.name ?? selected}
            />
          ) : null}
        </div>
        <div class="split-side">
          <AddChannel
            onCreated={(c) => {
              list.reload();
              if (c.secret) {
                setSecret({
                  channel: c.id,
                  secret: c.secret,
                  why: `Signing secret for ${c.name}.`,
                });
              }
            }}
          />
          <BudgetPanel />
        </div>
      </div>
    </section>
  );
}

function ChannelCard(props: {
  channel: NotificationChannel;
  selected: boolean;
  onSelect: () => void;
  onChanged: () => void;
  onDeleted: () => void;
  onSecret: (secret: string) => void;
}) {
  const refused = usePermit("channels:manage").reason ?? undefined;
  const locked = refused !== undefined;
  const api = useApi();
  const c = props.channel;
  const [busy, setBusy] = useState<string | null>(null);
  const [test, setTest] = useState<ChannelTestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<"delete" | "rotate" | null>(null);

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
      setTest(await api.post<ChannelTestResult>(`/api/channels/${c.id}/test`));
    });
  const toggle = () =>
    run("toggle", async () => {
      await api.request("PATCH", `/api/channels/${c.id}`, { body: { enabled: !c.enabled } });
      props.onChanged();
    });
  const rotate = () =>
    run("rotate", async () => {
      const out = await api.request<NotificationChannelWithSecret>(
        "PATCH",
        `/api/channels/${c.id}`,
        { body: { rotate_secret: true } },
      );
      setConfirm(null);
      if (out.secret) props.onSecret(out.secret);
      props.onChanged();
    });
  const remove = () =>
    run("delete", async () => {
      await api.request("DELETE", `/api/channels/${c.id}`);
      setConfirm(null);
      props.onDeleted();
    });

  return (
    <article
      class={`panel channel${props.selected ? " row-selected" : ""}`}
      data-channel={c.id}
      aria-labelledby={`ch-${c.id}`}
    >
      <div class="panel-head">
        <div>
          <h2 id={`ch-${c.id}`}>
            {c.name} <Badge tone="info">{TYPE_LABELS[c.type]}</Badge>{" "}
            <Badge tone={c.enabled ? "good" : "neutral"}>
              <span data-testid="channel-state">{c.enabled ? "enabled" : "disabled"}</span>
            </Badge>
          </h2>
          <div class="mono small channel-target">{target(c)}</div>
          <div class="muted small">
            {c.type === "webhook" ? "Signed (Standard Webhooks) · " : ""}
            {c.secret_set ? "secret stored, never shown again · " : ""}
            added {dateTime(c.created_at)}
          </div>
        </div>
        <div class="rung-actions">
          <button
            type="button"
            class="btn btn-small"
            onClick={sendTest}
            disabled={!!busy || locked}
            title={refused}
          >
            {busy === "test" ? "Sending…" : "Send test"}
          </button>
          <button
            type="button"
            class="btn btn-small"
            onClick={toggle}
            disabled={!!busy || locked}
            title={refused}
          >
            {c.enabled ? "Disable" : "Enable"}
          </button>
          {c.type === "webhook" ? (
            <button
              type="button"
              class="btn btn-small"
              onClick={() => setConfirm("rotate")}
              disabled={!!busy || locked}
              title={refused}
            >
              Rotate secret
            </button>
          ) : null}
          <button
            type="button"
            class="btn btn-small"
            onClick={props.onSelect}
            aria-expanded={props.selected}
          >
            {props.selected ? "Hide deliveries" : "Deliveries"}
          </button>
          <button
            type="button"
            class="btn btn-small btn-danger"
            onClick={() => setConfirm("delete")}
            disabled={!!busy || locked}
            title={refused}
          >
            Delete
          </button>
        </div>
      </div>
      {test ? (
        <p
          class={test.ok ? "notice" : "warning"}
          role="status"
          data-testid="test-result"
          data-ok={String(test.ok)}
        >
          {test.ok
            ? `Test delivered${test.status !== null ? ` · HTTP ${test.status}` : ""} in ${integer(test.duration_ms)} ms.`
            : `Test failed${test.status !== null ? ` · HTTP ${test.status}` : ""}: ${test.error ?? "no answer"}`}
        </p>
      ) : null}
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <ConfirmDialog
        open={confirm === "delete"}
        title={`Delete ${c.name}?`}
        confirmLabel="Delete channel"
        danger
        busy={busy === "delete"}
        error={confirm === "delete" ? error : null}
        onConfirm={remove}
        onCancel={() => setConfirm(null)}
      >
        Its secret is deleted and its pending deliveries are canceled. Alerts will no longer reach{" "}
        {target(c)}.
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === "rotate"}
        title={`Rotate the signing secret of ${c.name}?`}
        confirmLabel="Rotate secret"
        busy={busy === "rotate"}
        error={confirm === "rotate" ? error : null}
        onConfirm={rotate}
        onCancel={() => setConfirm(null)}
      >
        Deliveries from now on are signed with a new secret, shown once. The receiver must be given
        it, or it will refuse them.
      </ConfirmDialog>
    </article>
  );
}

function DeliveryLog(props: { channelId: string; name: string }) {
  const [cursor, setCursor] = useState<string | null>(null);
  useEffect(() => setCursor(null), [props.channelId]);
  const q = useQuery<Page<Delivery>>(
    withQuery("/api/deliveries", { channel: props.channelId, limit: 25, cursor }),
  );
  return (
    <div class="panel delivery-log" data-testid="delivery-log">
      <div class="panel-head">
        <h2>Deliveries to {props.name}</h2>
        <button type="button" class="btn btn-small" onClick={q.reload} disabled={q.loading}>
          Refresh
        </button>
      </div>
      <QueryView q={q} what="deliveries">
        {(page) =>
          page.data.length === 0 ? (
            <Empty title="Nothing delivered yet">
              Each new alert adds a row here; tests are not logged.
            </Empty>
          ) : (
            <>
              <div class="table-wrap">
                <table class="compact">
                  <caption class="sr-only">Deliveries</caption>
                  <thead>
                    <tr>
                      <th scope="col">Created</th>
                      <th scope="col">Alert</th>
                      <th scope="col">Status</th>
                      <th scope="col" class="num">
                        Attempts
                      </th>
                      <th scope="col">Last answer</th>
                      <th scope="col">Delivered</th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((d) => (
                      <tr key={d.id} data-delivery={d.id}>
                        <td>{dateTime(d.created_at)}</td>
                        <td>
                          {d.kind === "digest" ? (
                            <>
                              Digest <span class="muted small">of the alerts over the budget</span>
                            </>
                          ) : (
                            <Link
                              href={`/signals?status=all&signal=${encodeURIComponent(d.signal_id)}`}
                              class="mono small"
                            >
                              {d.signal_id}
                            </Link>
                          )}
                          {d.digest_id ? <div class="muted small">sent in a digest</div> : null}
                        </td>
                        <td>
                          <Badge tone={STATUS_TONES[d.status]}>
                            <span data-testid="delivery-status">{d.status}</span>
                          </Badge>
                          {d.status === "pending" && d.next_attempt_at ? (
                            <div class="muted small">next {dateTime(d.next_attempt_at)}</div>
                          ) : null}
                        </td>
                        <td class="num">{d.attempts}</td>
                        <td class="small">
                          {d.last_status !== null ? `HTTP ${d.last_status}` : ""}
                          {d.last_error ? <div class="text-bad">{d.last_error}</div> : null}
                          {d.last_status === null && !d.last_error ? "—" : null}
                        </td>
                        <td>{d.delivered_at ? dateTime(d.delivered_at) : "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
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
    </div>
  );
}

function AddChannel(props: { onCreated: (c: NotificationChannelWithSecret) => void }) {
  const permit = usePermit("channels:manage");
  const api = useApi();
  const [type, setType] = useState<ChannelType>("email");
  const [fields, setFields] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const set = (k: string, v: string) => setFields((f) => ({ ...f, [k]: v }));
  const errorOf = (path: string) =>
    errors
      .filter((e) => e.path === path)
      .map((e) => e.message)
      .join("; ") || null;
  const formError = errors.filter((e) => !["name", "url", "to", "from", "secret"].includes(e.path));

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setDone(null);
    const body: Record<string, string> = { type, name: fields.name?.trim() ?? "" };
    for (const k of type === "email"
      ? ["to", "from"]
      : type === "slack"
        ? ["url"]
        : ["url", "secret"]) {
      const v = fields[k]?.trim();
      if (v) body[k] = v;
      else if (k === "url" || k === "to") body[k] = "";
    }
    try {
      const created = await api.post<NotificationChannelWithSecret>("/api/channels", body);
      setFields({});
      setDone(`Added ${created.name}.`);
      props.onCreated(created);
    } catch (err) {
      setErrors(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };

  const input = (
    name: string,
    label: string,
    opts: { placeholder?: string; email?: boolean; help?: string } = {},
  ) => (
    <label class="field field-block" key={`${type}-${name}`}>
      <span>{label}</span>
      <input
        name={name}
        inputMode={opts.email ? "email" : "text"}
        value={fields[name] ?? ""}
        placeholder={opts.placeholder}
        aria-invalid={errorOf(name) ? true : undefined}
        aria-describedby={errorOf(name) ? `err-${name}` : undefined}
        onInput={(e) => set(name, (e.currentTarget as HTMLInputElement).value)}
      />
      {opts.help ? <span class="help">{opts.help}</span> : null}
      {errorOf(name) ? (
        <span class="field-error" id={`err-${name}`}>
          {errorOf(name)}
        </span>
      ) : null}
    </label>
  );

  return (
    <form class="panel add-channel" aria-labelledby="add-channel-title" onSubmit={submit}>
      <fieldset class="bare" disabled={!permit.allowed}>
        <h2 id="add-channel-title">Add a channel</h2>
        <fieldset class="segmented" aria-label="Channel type">
          {(["email", "slack", "webhook"] as const).map((t) => (
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
              {TYPE_LABELS[t]}
            </button>
          ))}
        </fieldset>
        {input("name", "Name", { placeholder: type === "slack" ? "#alerts" : "On-call" })}
        {type === "email" ? (
          <>
            {input("to", "Recipient", { email: true, placeholder: "ops@example.com" })}
            {input("from", "Sender (optional)", {
              email: true,
              help: "Deployed: a domain with Email Routing. Locally the message is written to an .eml file.",
            })}
          </>
        ) : type === "slack" ? (
          input("url", "Incoming-webhook URL", {
            placeholder: "https://hooks.slack.com/services/…",
            help: "Kept secret: shown afterwards only as a hint.",
          })
        ) : (
          <>
            {input("url", "Endpoint URL", {
              placeholder: "https://example.com/aforo-webhook",
              help: "https to a public host (loopback allowed in local mode).",
            })}
            {input("secret", "Signing secret (optional)", {
              placeholder: "whsec_… — generated when empty",
            })}
          </>
        )}
        {formError.length > 0 ? (
          <p class="form-error" role="alert">
            {formError.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ")}
          </p>
        ) : null}
        {done ? (
          <p class="notice" role="status">
            {done}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Adding…" : "Add channel"}
        </button>
      </fieldset>
    </form>
  );
}

function BudgetPanel() {
  const permit = usePermit("channels:manage");
  const api = useApi();
  const q = useQuery<AlertBudget>("/api/deliveries/budget");
  const [draft, setDraft] = useState<Record<string, string> | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (q.data) {
      setDraft({
        max_per_window: String(q.data.max_per_window),
        window_minutes: String(q.data.window_seconds / 60),
        digest_delay_seconds: String(q.data.digest_delay_seconds),
      });
    }
  }, [q.data]);
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} what="the alert budget" />;
  if (!draft) return null;
  const errorOf = (path: string) =>
    errors
      .filter((e) => e.path === path || (path === "window_minutes" && e.path === "window_seconds"))
      .map((e) => (e.path === "window_seconds" ? `${e.message} seconds` : e.message))
      .join("; ") || null;
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setSaved(false);
    try {
      await api.put("/api/deliveries/budget", {
        max_per_window: Number(draft.max_per_window),
        window_seconds: Math.round(Number(draft.window_minutes) * 60),
        digest_delay_seconds: Number(draft.digest_delay_seconds),
      });
      setSaved(true);
      q.reload();
    } catch (err) {
      setErrors(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };
  const field = (name: string, label: string) => (
    <label class="field" key={name}>
      <span>{label}</span>
      <input
        name={name}
        inputMode="numeric"
        value={draft[name] ?? ""}
        aria-invalid={errorOf(name) ? true : undefined}
        onInput={(e) => setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement).value })}
      />
      {errorOf(name) ? <span class="field-error">{errorOf(name)}</span> : null}
    </label>
  );
  return (
    <form class="panel" aria-labelledby="budget-title" onSubmit={save}>
      <fieldset class="bare" disabled={!permit.allowed}>
        <h2 id="budget-title">Alert budget</h2>
        <p class="muted small">
          Each channel gets at most this many alerts one by one in the window; the rest of a burst
          is grouped into one digest message, sent after the delay.
        </p>
        <div class="field-grid">
          {field("max_per_window", "Alerts per window")}
          {field("window_minutes", "Window (minutes)")}
          {field("digest_delay_seconds", "Digest delay (seconds)")}
        </div>
        {errors.some((e) => e.path === "") ? (
          <p class="form-error" role="alert">
            {errors.map((e) => e.message).join("; ")}
          </p>
        ) : null}
        {saved ? (
          <p class="notice" role="status">
            Budget saved.
          </p>
        ) : null}
        <button type="submit" class="btn" disabled={busy}>
          {busy ? "Saving…" : "Save budget"}
        </button>
      </fieldset>
    </form>
  );
}
