// Settings → Your account: who you are signed in as, what your role lets you do, your passkeys
// (add one in this browser, remove one), and signing out of every browser at once.

import { useState } from "preact/hooks";
import type { Passkey } from "../../../contracts/accounts";
import { PERMISSIONS } from "../../../domain/roles";
import { DataTable } from "../components/data-table";
import { ConfirmDialog, Empty, PageHeader, QueryView } from "../components/ui";
import { useApi } from "../lib/api";
import { dateTime } from "../lib/format";
import { useMe } from "../lib/me";
import { personaOf } from "../lib/personas";
import { passkeyFailure, passkeysSupported, registerPasskey, signOut } from "../lib/session";
import { useQuery } from "../lib/use-query";

export function AccountSection(_props: { search: URLSearchParams; path: string }) {
  const me = useMe();
  return (
    <>
      <PageHeader
        title="Your account"
        subtitle={
          me.kind === "member"
            ? `Signed in as ${me.email}`
            : `Signed in with an API token (${me.actor.replace(/^token:/, "")})`
        }
      />
      <div class="grid-2">
        <section class="panel" aria-labelledby="role-title">
          <h2 id="role-title">
            Role: <span data-testid="my-role">{me.role}</span>
          </h2>
          <p class="muted">
            Your home opens as {personaOf(me.persona)?.label ?? me.persona}. Trails and the audit
            log name you <code>{me.actor}</code>.
          </p>
          <ul class="permissions" data-testid="my-permissions">
            {(Object.keys(PERMISSIONS) as (keyof typeof PERMISSIONS)[]).map((p) => {
              const allowed = me.permissions.includes(p);
              return (
                <li key={p} class={allowed ? undefined : "muted"}>
                  <span aria-hidden="true">{allowed ? "✓" : "—"}</span>{" "}
                  <span class="sr-only">{allowed ? "may" : "may not"}</span> {PERMISSIONS[p]}
                </li>
              );
            })}
          </ul>
        </section>
        {me.kind === "member" ? <SessionsPanel sessions={me.sessions ?? 1} /> : null}
      </div>
      {me.kind === "member" ? <PasskeysPanel /> : null}
    </>
  );
}

function SessionsPanel(props: { sessions: number }) {
  const api = useApi();
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const everywhere = async () => {
    setBusy(true);
    setError(null);
    try {
      await signOut(api, true);
      // The session is gone: the shell's next request is refused and it shows the sign-in page.
      location.assign("/sign-in");
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <section class="panel" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p>
        You are signed in on <strong data-testid="session-count">{props.sessions}</strong>{" "}
        {props.sessions === 1 ? "browser" : "browsers"}. A session lasts 30 days, or 7 without use.
      </p>
      <button type="button" class="btn" onClick={() => setConfirm(true)}>
        Sign out everywhere
      </button>
      <ConfirmDialog
        open={confirm}
        title="Sign out of every browser?"
        confirmLabel="Sign out everywhere"
        danger
        busy={busy}
        error={error}
        onConfirm={everywhere}
        onCancel={() => setConfirm(false)}
      >
        <p>
          Every session of yours ends now, this one included. You sign in again by link or passkey.
        </p>
      </ConfirmDialog>
    </section>
  );
}

function PasskeysPanel() {
  const api = useApi();
  const q = useQuery<{ data: Passkey[] }>("/api/me/passkeys");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const supported = passkeysSupported();

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy("add");
    setError(null);
    setAdded(null);
    try {
      const p = await registerPasskey(api, name);
      setAdded(`Passkey ${p.name ?? ""} added: you can sign in with it from now on.`);
      setName("");
      q.reload();
    } catch (err) {
      setError(
        passkeyFailure(err, "The passkey prompt was closed or timed out; nothing was added."),
      );
    } finally {
      setBusy(null);
    }
  };
  const remove = async (p: Passkey) => {
    setBusy(p.id);
    setError(null);
    try {
      await api.delete(`/api/me/passkeys/${encodeURIComponent(p.id)}`);
      q.reload();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section class="panel" aria-labelledby="passkeys-title">
      <h2 id="passkeys-title">Passkeys</h2>
      <p class="muted">
        A passkey signs you in with this device's screen lock or a security key, without an e-mail.
      </p>
      <QueryView q={q} what="your passkeys">
        {(page) =>
          page.data.length === 0 ? (
            <Empty title="No passkey yet" />
          ) : (
            <DataTable
              testid="passkeys"
              caption="Your passkeys"
              rows={page.data}
              rowKey={(p) => p.id}
              columns={[
                { header: "Name", rowHeader: true, cell: (p) => p.name ?? "Passkey" },
                { header: "Added", class: "small", cell: (p) => dateTime(p.created_at) },
                {
                  header: "Last used",
                  class: "small",
                  cell: (p) => (p.last_used_at ? dateTime(p.last_used_at) : "never"),
                },
                {
                  header: "",
                  key: "actions",
                  cell: (p) => (
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={busy === p.id}
                      onClick={() => remove(p)}
                    >
                      Remove
                    </button>
                  ),
                },
              ]}
            />
          )
        }
      </QueryView>
      <form class="form-row" onSubmit={add}>
        <label class="field">
          <span>Passkey name (optional)</span>
          <input
            name="passkey-name"
            placeholder="Work laptop"
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <button
          type="submit"
          class="btn btn-primary"
          disabled={busy !== null || !supported}
          title={supported ? undefined : "This browser cannot create passkeys"}
        >
          {busy === "add" ? "Waiting for the authenticator…" : "Add a passkey"}
        </button>
      </form>
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {added ? (
        <p class="notice" role="status">
          {added}
        </p>
      ) : null}
    </section>
  );
}
