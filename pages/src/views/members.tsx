// Settings → Members: who belongs to the workspace, with which role; invite by e-mail, change a
// role, remove. What the signed-in person may grant follows domain/roles.ts (only an owner makes
// owners; nobody grants a permission they lack), and the API says the same on a 403.

import { useState } from "preact/hooks";
import type { Member, Role } from "../../../contracts/accounts";
import { mayGrant, PERMISSIONS, ROLE_PERMISSIONS, ROLES } from "../../../domain/roles";
import { DataTable } from "../components/data-table";
import { Badge, ConfirmDialog, PageHeader, QueryView } from "../components/ui";
import { ApiError, type FieldError, useApi } from "../lib/api";
import { dateTime } from "../lib/format";
import { actorLabel, useMe, usePermit } from "../lib/me";
import { personaOf } from "../lib/personas";
import { useQuery } from "../lib/use-query";

const ROLE_WORDS: Record<Role, string> = {
  owner: "everything, and making owners",
  admin: "everything but making owners",
  finance: "invoices, customers, reports",
  revops: "cases and actions, customers, reports",
  engineering: "keys, channels, exports, the pipeline",
  viewer: "reads everything, changes nothing",
};

const roleTitle = (role: Role) =>
  ROLE_PERMISSIONS[role].map((p) => `${p}: ${PERMISSIONS[p]}`).join("\n");

export function MembersSection(_props: { search: URLSearchParams; path: string }) {
  const q = useQuery<{ data: Member[] }>("/api/members");
  const me = useMe();
  const manage = usePermit("members:manage");
  const grantable = ROLES.filter((r) => mayGrant(me.role, r));
  const [removing, setRemoving] = useState<Member | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const api = useApi();

  const changeRole = async (m: Member, role: Role) => {
    setBusy(m.id);
    setError(null);
    try {
      await api.patch(`/api/members/${encodeURIComponent(m.id)}`, { role });
      q.reload();
    } catch (err) {
      setError(`${m.email}: ${(err as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  const remove = async () => {
    if (!removing) return;
    setBusy(removing.id);
    setError(null);
    try {
      await api.delete(`/api/members/${encodeURIComponent(removing.id)}`);
      setRemoving(null);
      q.reload();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      <PageHeader
        title="Members"
        subtitle="People who sign in to this workspace, and what their role lets them do."
      />
      {manage.allowed ? (
        <InviteForm grantable={grantable} onInvited={q.reload} />
      ) : (
        <p class="notice" data-testid="refused-members">
          {manage.reason}. Ask an owner or admin to invite people or change roles.
        </p>
      )}
      {error && !removing ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <QueryView q={q} what="members">
        {(page) => (
          <DataTable
            testid="members"
            caption="Members of the workspace"
            rows={page.data}
            rowKey={(m) => m.id}
            rowProps={(m) => ({ "data-member": m.email })}
            columns={[
              {
                header: "Member",
                rowHeader: true,
                cell: (m) => (
                  <>
                    {m.name ? <div>{m.name}</div> : null}
                    <div class={m.name ? "muted small" : undefined}>{m.email}</div>
                    {m.id === me.id ? <Badge tone="info">you</Badge> : null}
                  </>
                ),
              },
              {
                header: "Role",
                cell: (m) =>
                  manage.allowed && mayGrant(me.role, m.role) && m.id !== me.id ? (
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      disabled={busy === m.id}
                      onChange={(e) =>
                        changeRole(m, (e.currentTarget as HTMLSelectElement).value as Role)
                      }
                    >
                      {grantable.map((r) => (
                        <option key={r} value={r} title={roleTitle(r)}>
                          {r}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <span title={roleTitle(m.role)}>{m.role}</span>
                  ),
              },
              {
                header: "Persona",
                class: "small",
                cell: (m) => personaOf(m.persona)?.label ?? m.persona,
              },
              {
                header: "Status",
                cell: (m) => (
                  <Badge tone={m.status === "active" ? "good" : "warn"}>{m.status}</Badge>
                ),
              },
              {
                header: "Last sign-in",
                class: "small",
                cell: (m) => (m.last_sign_in_at ? dateTime(m.last_sign_in_at) : "never"),
              },
              {
                header: "Invited by",
                class: "small",
                cell: (m) => (m.invited_by ? actorLabel(m.invited_by) : "—"),
              },
              {
                header: "",
                key: "actions",
                cell: (m) =>
                  manage.allowed && mayGrant(me.role, m.role) ? (
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={busy === m.id}
                      onClick={() => {
                        setError(null);
                        setRemoving(m);
                      }}
                    >
                      Remove
                    </button>
                  ) : null,
              },
            ]}
          />
        )}
      </QueryView>
      <details class="help">
        <summary>What each role may do</summary>
        <ul>
          {ROLES.map((r) => (
            <li key={r}>
              <strong>{r}</strong> — {ROLE_WORDS[r]}{" "}
              <span class="muted small">({ROLE_PERMISSIONS[r].join(", ")})</span>
            </li>
          ))}
        </ul>
      </details>
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing?.email ?? ""}?`}
        confirmLabel="Remove member"
        danger
        busy={busy !== null}
        error={error}
        onConfirm={remove}
        onCancel={() => {
          setRemoving(null);
          setError(null);
        }}
      >
        <p>
          They are signed out everywhere at once and can no longer sign in. What they did stays in
          the audit log under their name.
        </p>
      </ConfirmDialog>
    </>
  );
}

function InviteForm(props: { grantable: readonly Role[]; onInvited: () => void }) {
  const api = useApi();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(
    props.grantable.includes("viewer") ? "viewer" : (props.grantable[0] ?? "viewer"),
  );
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors([]);
    setError(null);
    setDone(null);
    try {
      const m = await api.post<Member>("/api/members", {
        email: email.trim(),
        role,
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      setDone(`Invited ${m.email} as ${m.role}: a sign-in link is on its way (valid 7 days).`);
      setEmail("");
      setName("");
      props.onInvited();
    } catch (err) {
      if (err instanceof ApiError && err.errors.length) setErrors(err.errors);
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (field: string) => errors.find((f) => f.path === field)?.message;

  return (
    <form class="panel invite-form" onSubmit={submit} aria-labelledby="invite-title" noValidate>
      <h2 id="invite-title">Invite someone</h2>
      <div class="form-row">
        <label class="field">
          <span>E-mail</span>
          <input
            name="email"
            type="email"
            value={email}
            onInput={(e) => setEmail((e.currentTarget as HTMLInputElement).value)}
            aria-invalid={fieldError("email") ? true : undefined}
            aria-describedby={fieldError("email") ? "err-email" : undefined}
          />
          {fieldError("email") ? (
            <span class="field-error" id="err-email">
              {fieldError("email")}
            </span>
          ) : null}
        </label>
        <label class="field">
          <span>Name (optional)</span>
          <input
            name="name"
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field">
          <span>Role</span>
          <select
            name="role"
            value={role}
            onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}
          >
            {props.grantable.map((r) => (
              <option key={r} value={r}>
                {r} — {ROLE_WORDS[r]}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Inviting…" : "Send invitation"}
        </button>
      </div>
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {done ? (
        <p class="notice" role="status">
          {done}
        </p>
      ) : null}
    </form>
  );
}
