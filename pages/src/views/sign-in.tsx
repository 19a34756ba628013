// First run: where the operator token comes from, and a form that checks it before keeping it.

import { useState } from "preact/hooks";
import { ApiClient, ApiError } from "../lib/api";

export function SignIn(props: { notice: string | null; onSignedIn: (token: string) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError("Paste the operator token first.");
      return;
    }
    if (t.startsWith("aforo_ik_")) {
      setError(
        "That is an ingest key (aforo_ik_…): it can only send events. The dashboard needs the operator token (aforo_op_…).",
      );
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await new ApiClient(t).get("/api/products?limit=1");
      props.onSignedIn(t);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "The API does not accept this token. Copy the operator token (aforo_op_…) printed by npm start."
          : err instanceof Error
            ? err.message
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <div class="signin-card">
        <h1>
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Aforo
        </h1>
        <p class="subtitle">Revenue intelligence for usage-priced APIs and AI products.</p>
        {props.notice ? (
          <p class="notice" role="status">
            {props.notice}
          </p>
        ) : null}
        <form onSubmit={submit}>
          <label class="field field-block" for="token">
            <span>Operator token</span>
            <input
              id="token"
              name="token"
              type="password"
              autoComplete="off"
              spellcheck={false}
              placeholder="aforo_op_…"
              value={token}
              onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)}
              aria-describedby="token-help"
              aria-invalid={error ? true : undefined}
            />
          </label>
          {error ? (
            <p class="form-error" role="alert">
              {error}
            </p>
          ) : null}
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? "Checking…" : "Sign in"}
          </button>
        </form>
        <section id="token-help" class="help">
          <h2>Where do I find the token?</h2>
          <ol>
            <li>
              Run <code>npm start</code> in the project folder. When the stack is up it prints the
              demo tenant's keys; copy the line <code>Operator token aforo_op_…</code>.
            </li>
            <li>
              Missed it? The demo tenant's keys are kept in{" "}
              <code>.wrangler/state/aforo-demo.json</code> (field <code>operator_token</code>).
            </li>
            <li>
              For another tenant, an administrator creates one with <code>POST /admin/tenants</code>{" "}
              (admin token from <code>.dev.vars</code>), which answers with its{" "}
              <code>operator_token</code>.
            </li>
          </ol>
          <p>
            The token stays in this browser tab only (session storage) and is sent only to this
            server's API. Ingest keys (<code>aforo_ik_…</code>) are for your gateways, not for the
            dashboard.
          </p>
        </section>
      </div>
    </main>
  );
}
