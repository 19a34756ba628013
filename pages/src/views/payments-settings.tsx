// Settings → Payments: the Stripe webhook's set-up (is a signing secret set, the URL and events
// to enter in Stripe, set or replace the secret) and the Adaptive Retry policy (attempts,
// window, time zone, default hour), with a preview of the schedule a soft decline failing now
// would get. Both change behind invoices:write; other roles see them read-only and why.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { StripeSettings } from "../../../contracts/invoices";
import type { RetryPolicySettings } from "../../../contracts/payments-settings";
import { Badge, ErrorState, Loading, PageHeader, Refused } from "../components/ui";
import { ApiError, type FieldError, useApi } from "../lib/api";
import { dateTime, LOCALE } from "../lib/format";
import { actorLabel, usePermit } from "../lib/me";
import {
  bodyOf,
  draftOf,
  inZone,
  policyOf,
  previewAttempts,
  RETRY_FIELDS,
  type RetryDraft,
  timeZones,
} from "../lib/retry-policy";
import { useQuery } from "../lib/use-query";

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Field errors of a failed request, else one form-level error. */
function fieldErrors(err: unknown): FieldError[] {
  if (err instanceof ApiError && err.errors.length > 0) return err.errors;
  return [{ path: "", message: errorText(err) }];
}

export function PaymentsSection(_props: { search: URLSearchParams; path: string }) {
  const permit = usePermit("invoices:write");
  return (
    <>
      <PageHeader
        title="Payments"
        subtitle="Where your payment provider reports attempts, and how failed payments are retried"
      />
      <Refused reason={permit.reason} what="Payment settings are read-only for you" />
      <div class="grid-2">
        <StripePanel />
        <RetryPolicyPanel />
      </div>
    </>
  );
}

function StripePanel() {
  const permit = usePermit("invoices:write");
  const api = useApi();
  const q = useQuery<StripeSettings>("/api/payments/stripe");
  const [secret, setSecret] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} what="the Stripe settings" />;
  const s = q.data;
  if (!s) return <Loading label="Loading the Stripe settings…" />;
  const secretError = errors.map((e) => e.message).join("; ") || null;

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setSaved(false);
    try {
      await api.put("/api/payments/stripe", { signing_secret: secret.trim() });
      setSecret("");
      setSaved(true);
      q.reload();
    } catch (err) {
      setErrors(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel" aria-labelledby="stripe-title" onSubmit={save} data-testid="stripe-panel">
      <h2 id="stripe-title">
        Stripe webhook{" "}
        {s.configured ? (
          <Badge tone="good">Signing secret set</Badge>
        ) : (
          <Badge tone="warn">Not set up</Badge>
        )}
      </h2>
      <p class="muted small">
        In the Stripe dashboard (Developers → Webhooks) add an endpoint at this URL, select these
        events, and put the Aforo invoice id in each Stripe invoice's{" "}
        <code>metadata.aforo_invoice_id</code>.
      </p>
      <p>
        <strong>Endpoint URL</strong>
        <br />
        <code data-testid="stripe-webhook-url">{s.webhook_url}</code>{" "}
        <button
          type="button"
          class="btn btn-small"
          onClick={() => navigator.clipboard?.writeText(s.webhook_url).catch(() => {})}
        >
          Copy
        </button>
      </p>
      <p>
        <strong>Events to select</strong>
        <br />
        <span data-testid="stripe-events">
          {s.events.map((e, i) => (
            <span key={e}>
              {i > 0 ? ", " : ""}
              <code>{e}</code>
            </span>
          ))}
        </span>
      </p>
      <p>
        <strong>Signing secret</strong>
        <br />
        <span data-testid="stripe-status">
          {s.configured
            ? `Set${s.updated_at ? ` ${dateTime(s.updated_at)}` : ""}${s.updated_by ? ` by ${actorLabel(s.updated_by)}` : ""}`
            : "Not set: Stripe's events are refused (401) until it is"}
        </span>
      </p>
      <fieldset class="bare" disabled={!permit.allowed}>
        <label class="field field-block">
          <span>{s.configured ? "Replace the signing secret" : "Signing secret"}</span>
          <input
            name="signing_secret"
            type="password"
            autocomplete="off"
            placeholder="whsec_…"
            value={secret}
            aria-invalid={secretError ? true : undefined}
            aria-describedby={secretError ? "err-signing_secret" : undefined}
            onInput={(e) => setSecret((e.currentTarget as HTMLInputElement).value)}
          />
          <span class="help">
            The endpoint's signing secret from Stripe. Stored encrypted and never shown again; roll
            it in Stripe, then paste the new one here.
          </span>
          {secretError ? (
            <span class="field-error" id="err-signing_secret">
              {secretError}
            </span>
          ) : null}
        </label>
        {saved ? (
          <p class="notice" role="status">
            Signing secret saved.
          </p>
        ) : null}
        <button type="submit" class="btn" disabled={busy || secret.trim() === ""}>
          {busy ? "Saving…" : s.configured ? "Replace secret" : "Save secret"}
        </button>
      </fieldset>
    </form>
  );
}

const LABELS: Record<(typeof RETRY_FIELDS)[number], { label: string; help: string }> = {
  max_attempts: { label: "Retries", help: "0 to 8; 0 retries nothing" },
  window_days: { label: "Within (days)", help: "1 to 60 days after the failure" },
  time_zone: { label: "Time zone", help: "IANA name, e.g. Europe/Berlin" },
  default_hour: {
    label: "Hour of day",
    help: "0 to 23, local; used until a customer's own paying hour is known",
  },
};

function RetryPolicyPanel() {
  const permit = usePermit("invoices:write");
  const api = useApi();
  const q = useQuery<RetryPolicySettings>("/api/payments/retry-policy");
  const [draft, setDraft] = useState<RetryDraft | null>(null);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const zones = useMemo(timeZones, []);
  useEffect(() => {
    if (q.data) setDraft(draftOf(q.data));
  }, [q.data]);
  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} what="the retry policy" />;
  if (!q.data || !draft) return <Loading label="Loading the retry policy…" />;
  const current = q.data;
  const errorOf = (path: string) =>
    errors
      .filter((e) => e.path === path)
      .map((e) => e.message)
      .join("; ") || null;
  const formError = errors.filter((e) => !(RETRY_FIELDS as readonly string[]).includes(e.path));
  const changed = RETRY_FIELDS.some((f) => draft[f] !== String(current[f]));

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setSaved(false);
    try {
      await api.put("/api/payments/retry-policy", bodyOf(draft));
      setSaved(true);
      q.reload();
    } catch (err) {
      setErrors(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };

  const field = (name: (typeof RETRY_FIELDS)[number]) => {
    const err = errorOf(name);
    const isDefault = draft[name] === String(current.defaults[name]);
    return (
      <label class="field" key={name}>
        <span>{LABELS[name].label}</span>
        <input
          name={name}
          inputMode={name === "time_zone" ? "text" : "numeric"}
          list={name === "time_zone" ? "retry-time-zones" : undefined}
          value={draft[name]}
          aria-invalid={err ? true : undefined}
          aria-describedby={err ? `err-${name}` : undefined}
          onInput={(e) => {
            setSaved(false);
            setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement).value });
          }}
        />
        <span class="help">
          {LABELS[name].help}
          {isDefault ? " (default)" : ` (default ${current.defaults[name]})`}
        </span>
        {err ? (
          <span class="field-error" id={`err-${name}`}>
            {err}
          </span>
        ) : null}
      </label>
    );
  };

  return (
    <form class="panel" aria-labelledby="retry-title" onSubmit={save} data-testid="retry-panel">
      <h2 id="retry-title">Adaptive Retry</h2>
      <p class="muted small">
        A soft decline (insufficient funds, issuer unavailable) is retried on business days, denser
        early, on paydays when near, at the hour the customer usually pays; a hard decline (stolen
        or expired card) is not retried: the customer is asked for a new payment method.
      </p>
      <p class="help" data-testid="retry-anchors">
        For reference: Stripe's Smart Retries default is 8 tries in 2 weeks; Recurly advises a
        window of at least 27 days.
      </p>
      <fieldset class="bare" disabled={!permit.allowed}>
        <div class="field-grid">{RETRY_FIELDS.map(field)}</div>
        <datalist id="retry-time-zones">
          {zones.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        {formError.length > 0 ? (
          <p class="form-error" role="alert">
            {formError.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ")}
          </p>
        ) : null}
        <p class="muted small">
          A change applies to retries planned from then on; invoices already being retried keep
          their schedule.
        </p>
        {saved ? (
          <p class="notice" role="status">
            Retry policy saved.
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={busy || !changed}>
          {busy ? "Saving…" : "Save policy"}
        </button>
      </fieldset>
      <RetryPreview draft={draft} changed={changed} />
    </form>
  );
}

function RetryPreview(props: { draft: RetryDraft; changed: boolean }) {
  // One instant per mount, so the preview moves only when the policy does.
  const [now] = useState(() => Date.now());
  const policy = policyOf(props.draft);
  const attempts = policy ? previewAttempts(policy, now) : [];
  return (
    <section aria-labelledby="retry-preview-title" data-testid="retry-preview">
      <h3 id="retry-preview-title">
        A soft decline failing now{props.changed ? " (unsaved policy)" : ""}
      </h3>
      {!policy ? (
        <p class="muted">Fix the fields above to see the schedule.</p>
      ) : attempts.length === 0 ? (
        <p data-testid="retry-preview-none">Would not be retried.</p>
      ) : (
        <>
          <p class="muted small">
            Failed {inZone(now, policy.time_zone, LOCALE)} ({policy.time_zone}); retried{" "}
            {attempts.length === 1 ? "once" : `${attempts.length} times`}, for a customer without a
            payment history:
          </p>
          <ol data-testid="retry-preview-list">
            {attempts.map((t, i) => (
              <li key={t}>
                <span class="sr-only">Attempt {i + 1}: </span>
                <time dateTime={new Date(t).toISOString()}>
                  {inZone(t, policy.time_zone, LOCALE)}
                </time>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
