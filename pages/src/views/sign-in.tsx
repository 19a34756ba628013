// Signing in: a link by e-mail or a passkey for people; an operator API token for those who hold
// one (the first run, scripts). A sign-in link opens this page (`/sign-in?link=…`) and the page
// spends it with a POST, so a mail scanner that fetches the link cannot.

import { useEffect, useState } from "preact/hooks";
import { ApiClient, ApiError } from "../lib/api";
import {
  passkeyFailure,
  passkeysSupported,
  requestMagicLink,
  signInWithPasskey,
  verifyMagicLink,
} from "../lib/session";

export type SignedInWith = { kind: "session" } | { kind: "token"; token: string };

const messageOf = (err: unknown) =>
  err instanceof Error ? err.message || String(err) : String(err);

export function SignIn(props: {
  notice: string | null;
  /** A sign-in link's token taken from the address, to spend at once. */
  link: string | null;
  onSignedIn: (how: SignedInWith) => void;
}) {
  const [verifying, setVerifying] = useState(Boolean(props.link));
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!props.link) return;
    verifyMagicLink(props.link).then(
      () => props.onSignedIn({ kind: "session" }),
      (err) => {
        setVerifying(false);
        setError(messageOf(err));
      },
    );
  }, [props.link]);

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
        {verifying ? (
          <p class="state state-loading" role="status">
            <span class="spinner" aria-hidden="true" /> Signing you in…
          </p>
        ) : (
          <>
            {error ? (
              <p class="form-error" role="alert">
                {error}
              </p>
            ) : null}
            <MagicLinkForm />
            <PasskeySignIn onSignedIn={() => props.onSignedIn({ kind: "session" })} />
            <TokenForm onSignedIn={(token) => props.onSignedIn({ kind: "token", token })} />
          </>
        )}
      </div>
    </main>
  );
}

function MagicLinkForm() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const address = email.trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address)) {
      setError("Type the e-mail address you were invited with.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const answer = await requestMagicLink(address);
      setSent(`${answer.detail}.`);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-labelledby="signin-email-title" noValidate>
      <h2 id="signin-email-title">Sign in with your e-mail</h2>
      <label class="field field-block" for="email">
        <span>E-mail address</span>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username webauthn"
          value={email}
          onInput={(e) => setEmail((e.currentTarget as HTMLInputElement).value)}
          aria-invalid={error ? true : undefined}
        />
      </label>
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {sent ? (
        <p class="notice" role="status" data-testid="link-sent">
          {sent} Running locally? The message is written as an <code>.eml</code> file, and{" "}
          <code>npm start</code> prints the demo owner's link.
        </p>
      ) : null}
      <button type="submit" class="btn btn-primary" disabled={busy}>
        {busy ? "Sending…" : "E-mail me a sign-in link"}
      </button>
    </form>
  );
}

function PasskeySignIn(props: { onSignedIn: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const supported = passkeysSupported();

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      await signInWithPasskey();
      props.onSignedIn();
    } catch (err) {
      setError(
        passkeyFailure(
          err,
          "The passkey prompt was closed or timed out. Try again, or sign in by e-mail.",
        ),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin-alt">
      <button
        type="button"
        class="btn"
        onClick={start}
        disabled={busy || !supported}
        title={supported ? undefined : "This browser cannot use passkeys"}
      >
        {busy ? "Waiting for your passkey…" : "Sign in with a passkey"}
      </button>
      {supported ? null : <p class="muted">This browser cannot use passkeys; sign in by e-mail.</p>}
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

function TokenForm(props: { onSignedIn: (token: string) => void }) {
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
        "That is an ingest key (aforo_ik_…): it can only send events. The dashboard needs an operator token (aforo_op_…).",
      );
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await new ApiClient({ kind: "token", token: t }).get("/api/me");
      props.onSignedIn(t);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "The API does not accept this token. Copy the operator token (aforo_op_…) printed by npm start."
          : messageOf(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <details class="signin-token">
      <summary>Use an operator API token instead</summary>
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
        <button type="submit" class="btn" disabled={busy}>
          {busy ? "Checking…" : "Sign in with the token"}
        </button>
      </form>
      <section id="token-help" class="help">
        <h2>Where do I find a token?</h2>
        <ol>
          <li>
            <code>npm start</code> prints the demo workspace's owner sign-in link and its operator
            token (<code>Operator token aforo_op_…</code>).
          </li>
          <li>
            Missed it? The demo's keys are kept in <code>.wrangler/state/aforo-demo.json</code>{" "}
            (field <code>operator_token</code>).
          </li>
          <li>
            For another workspace, an administrator creates one with{" "}
            <code>POST /admin/tenants</code> (admin token from <code>.dev.vars</code>), which
            answers with its <code>operator_token</code>; members with <em>keys:manage</em> issue
            more on <code>POST /api/keys</code>.
          </li>
        </ol>
        <p>
          The token stays in this browser tab only (session storage) and is sent only to this
          server's API. Ingest keys (<code>aforo_ik_…</code>) are for your gateways, not for the
          dashboard.
        </p>
      </section>
    </details>
  );
}
