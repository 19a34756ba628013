// Settings → Audit: who did what, newest first (GET /api/audit). Filters by person or token, by
// action or its family (`invoice` finds invoice.pay and invoice.void), by target and by date;
// the filters live in the URL like every list's.

import type { AuditEntry } from "../../../contracts/accounts";
import type { Page } from "../../../contracts/common";
import { DataTable } from "../components/data-table";
import { FilterBar, TextFilter } from "../components/filter-bar";
import { Pager } from "../components/pager";
import { Empty, PageHeader, QueryView } from "../components/ui";
import { withQuery } from "../lib/api";
import { dateTimeSeconds } from "../lib/format";
import { actorLabel, usePermit } from "../lib/me";
import { navigate } from "../lib/router";
import { cursor, date, hrefFor, parseState, type Spec, text } from "../lib/url-state";
import { useQuery } from "../lib/use-query";

type AuditState = {
  actor: string;
  action: string;
  target: string;
  from: string | null;
  to: string | null;
  cursor: string | null;
};
const auditSpec: Spec<AuditState> = {
  actor: text,
  action: text,
  target: text,
  from: date,
  to: date,
  cursor,
};

const DAY_MS = 86_400_000;

/** An instant sent as epoch ms (`at`, `…_at`, `start`, `end`) reads as a date, not a number. */
const isInstantField = (key: string, v: unknown): v is number =>
  typeof v === "number" &&
  /^(at|start|end|from|to)$|_at$/.test(key) &&
  v > Date.UTC(2000, 0, 1) &&
  v < Date.UTC(2200, 0, 1);

/** What the request asked for, as a short line (the body the audit row kept, secrets masked by
 * the API); the target and the status are in their own columns. */
function detailLine(detail: Record<string, unknown>): string {
  const body = detail.body;
  const fields =
    body && typeof body === "object" && !Array.isArray(body)
      ? Object.entries(body as Record<string, unknown>)
      : body === undefined
        ? Object.entries(detail).filter(([k]) => k !== "params" && k !== "status")
        : [["body", body] as const];
  return fields
    .map(([k, v]) => {
      const shown =
        typeof v === "string"
          ? v
          : isInstantField(k, v)
            ? dateTimeSeconds(new Date(v).toISOString())
            : JSON.stringify(v);
      return `${k}: ${shown.length > 60 ? `${shown.slice(0, 57)}…` : shown}`;
    })
    .join(" · ");
}

export function AuditSection(props: { search: URLSearchParams; path: string }) {
  const permit = usePermit("audit:read");
  const state = parseState(auditSpec, props.search);
  const go = (changes: Partial<AuditState>) =>
    navigate(hrefFor(props.path, auditSpec, { ...state, cursor: null, ...changes }), {
      replace: true,
    });
  const [targetType, targetId] = state.target.includes(":")
    ? state.target.split(":", 2)
    : [undefined, state.target || undefined];
  const key = permit.allowed
    ? withQuery("/api/audit", {
        actor: state.actor || undefined,
        action: state.action || undefined,
        target_type: targetType,
        target_id: targetId,
        from: state.from ? `${state.from}T00:00:00Z` : undefined,
        to: state.to
          ? new Date(Date.parse(`${state.to}T00:00:00Z`) + DAY_MS).toISOString()
          : undefined,
        limit: 50,
        cursor: state.cursor,
      })
    : null;
  const q = useQuery<Page<AuditEntry>>(key);
  const filtered = Boolean(state.actor || state.action || state.target || state.from || state.to);

  return (
    <>
      <PageHeader
        title="Audit log"
        subtitle="Every change to the workspace, sign-in and sign-out, with the person or token that made it."
      />
      {!permit.allowed ? (
        <p class="notice" data-testid="refused-audit">
          {permit.reason}.
        </p>
      ) : (
        <>
          <FilterBar label="Filter the audit log" onClear={filtered ? () => go(EMPTY) : null}>
            <TextFilter
              label="Who"
              name="actor"
              value={state.actor || null}
              placeholder="e-mail or token id"
              onCommit={(v) => go({ actor: v ?? "" })}
            />
            <TextFilter
              label="Action"
              name="action"
              value={state.action || null}
              placeholder="invoice, policy.update…"
              onCommit={(v) => go({ action: v ?? "" })}
            />
            <TextFilter
              label="Target"
              name="target"
              value={state.target || null}
              placeholder="invoice:inv_… or an id"
              onCommit={(v) => go({ target: v ?? "" })}
            />
            <label class="field">
              <span>From</span>
              <input
                type="date"
                name="from"
                value={state.from ?? ""}
                onChange={(e) => go({ from: (e.currentTarget as HTMLInputElement).value || null })}
              />
            </label>
            <label class="field">
              <span>To</span>
              <input
                type="date"
                name="to"
                value={state.to ?? ""}
                onChange={(e) => go({ to: (e.currentTarget as HTMLInputElement).value || null })}
              />
            </label>
          </FilterBar>
          <QueryView q={q} what="the audit log">
            {(page) =>
              page.data.length === 0 ? (
                <Empty
                  title={filtered ? "Nothing matches these filters" : "Nothing recorded yet"}
                />
              ) : (
                <>
                  <DataTable
                    testid="audit"
                    caption="Audit log entries"
                    rows={page.data}
                    rowKey={(e) => e.id}
                    rowProps={(e) => ({ "data-action": e.action })}
                    columns={[
                      {
                        header: "When",
                        class: "small nowrap",
                        cell: (e) => dateTimeSeconds(e.at),
                      },
                      {
                        header: "Who",
                        cell: (e) => (
                          <>
                            {actorLabel(e.actor, e.actor_name)}{" "}
                            <span class="muted small">{e.actor_role}</span>
                          </>
                        ),
                      },
                      { header: "Action", class: "mono small", cell: (e) => e.action },
                      {
                        header: "Target",
                        class: "mono small",
                        cell: (e) =>
                          e.target_type ? `${e.target_type}:${e.target_id ?? ""}` : "—",
                      },
                      {
                        header: "Detail",
                        class: "small",
                        cell: (e) => detailLine(e.detail) || "—",
                      },
                    ]}
                  />
                  <Pager
                    label="Pages of the audit log"
                    back={{
                      label: "Newest",
                      disabled: !state.cursor,
                      onClick: () => go({ cursor: null }),
                    }}
                    forward={{
                      label: "Older →",
                      disabled: !page.next_cursor,
                      onClick: () => go({ cursor: page.next_cursor }),
                    }}
                  />
                </>
              )
            }
          </QueryView>
        </>
      )}
    </>
  );
}

const EMPTY: Partial<AuditState> = { actor: "", action: "", target: "", from: null, to: null };
