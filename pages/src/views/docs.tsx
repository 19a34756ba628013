// The Documentation Hub (issue 18 §3): /docs lists every endpoint of the served /openapi.json
// by tag (searchable), and shows the chosen one's parameters, request and response schemas, a
// generated example, "Try it" with the signed-in credential, and the "✨ AI Explanation" from
// GET /api/docs/explanations/:id (what it does, when to use it, curl / TypeScript / Python,
// gotchas; badged when its wording comes from the schema alone). /docs/getting-started is each
// product's guide, built by the API from the tenant's catalog. Everything renders from
// structured data: no markdown or highlighting library in the bundle.

import { useState } from "preact/hooks";
import type { ApiExplanation, GettingStartedGuide } from "../../../contracts/docs";
import { exampleOf } from "../../../domain/docs/example";
import { explainParameters } from "../../../domain/docs/explain";
import { groupByTag, matchesSearch } from "../../../domain/docs/openapi";
import { Badge, Empty, ErrorState, Loading, PageHeader, QueryView } from "../components/ui";
import { isAbort, useApi, withQuery } from "../lib/api";
import { useCatalog } from "../lib/catalog";
import {
  canTry,
  type DocOperation,
  explanationOf,
  guideOf,
  initialTry,
  loadOperations,
  sendTry,
  type TryInput,
  type TryResult,
} from "../lib/docs";
import { Link, navigate, useLocation } from "../lib/router";
import { useQuery } from "../lib/use-query";
import "./docs.css";

export function DocsView(props: { search: URLSearchParams; path: string }) {
  const guide = useLocation().path === "/docs/getting-started";
  return (
    <>
      <PageHeader
        title="API Docs"
        subtitle="Every endpoint of /openapi.json, with examples generated from its schemas and a Try it that sends as you"
      />
      <nav class="tabs" aria-label="Docs sections">
        <Link
          href="/docs"
          class={guide ? undefined : "active"}
          aria-current={guide ? undefined : "page"}
        >
          Endpoints
        </Link>
        <Link
          href="/docs/getting-started"
          class={guide ? "active" : undefined}
          aria-current={guide ? "page" : undefined}
        >
          Getting Started
        </Link>
      </nav>
      {guide ? <GettingStarted search={props.search} /> : <Endpoints search={props.search} />}
    </>
  );
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

/** Text whose `backticked` parts are code, as the explanations write field names. */
function Prose(props: { text: string }) {
  return (
    <>
      {props.text.split("`").map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part))}
    </>
  );
}

/** The ✨ of "✨ AI Explanation" drawn, not typed: a headless or emoji-less system shows a
 * missing-glyph box for the character. */
function Sparkles() {
  return (
    <svg class="sparkles" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path d="M10 2l1.8 5.2L17 9l-5.2 1.8L10 16l-1.8-5.2L3 9l5.2-1.8z" />
      <path d="M18.5 13l.9 2.6 2.6.9-2.6.9-.9 2.6-.9-2.6-2.6-.9 2.6-.9z" />
      <path d="M18 2l.6 1.4L20 4l-1.4.6L18 6l-.6-1.4L16 4l1.4-.6z" />
    </svg>
  );
}

function MethodBadge(props: { method: string }) {
  const m = props.method.toLowerCase();
  return <span class={`method method-${m}`}>{m.toUpperCase()}</span>;
}

function Endpoints(props: { search: URLSearchParams }) {
  const q = useQuery<DocOperation[]>("docs:openapi", (_api, signal) => loadOperations(signal));
  const search = props.search.get("q") ?? "";
  const selected = props.search.get("op");
  const setUrl = (next: { q?: string; op?: string | null }, replace = false) =>
    navigate(
      withQuery("/docs", { q: next.q ?? search, op: next.op === undefined ? selected : next.op }),
      { replace },
    );
  return (
    <QueryView q={q} what="the API description (/openapi.json)">
      {(ops) => {
        const hits = ops.filter((op) => matchesSearch(op, search));
        const groups = groupByTag(hits);
        const op = ops.find((o) => o.id === selected) ?? null;
        return (
          <div class="docs-layout">
            <aside class="docs-index panel" aria-label="Endpoints">
              <label class="field">
                <span>Search endpoints</span>
                <input
                  type="search"
                  value={search}
                  placeholder="customers, POST, invoices…"
                  onInput={(e) => setUrl({ q: (e.target as HTMLInputElement).value }, true)}
                />
              </label>
              <p class="muted small" aria-live="polite">
                {hits.length} of {ops.length} endpoints
              </p>
              {groups.map((g) => (
                <section key={g.tag} class="docs-tag">
                  <h2>{g.tag}</h2>
                  <ul>
                    {g.operations.map((o) => (
                      <li key={o.id}>
                        <Link
                          href={withQuery("/docs", { q: search, op: o.id })}
                          class={o.id === selected ? "docs-op active" : "docs-op"}
                          aria-current={o.id === selected ? "true" : undefined}
                          data-op={o.id}
                        >
                          <MethodBadge method={o.method} />
                          <span class="docs-op-text">
                            <code>{o.path}</code>
                            <span class="muted small">{o.summary}</span>
                          </span>
                        </Link>
                      </li>
                    ))}
                  </ul>
                </section>
              ))}
              {hits.length === 0 ? <Empty title={`No endpoint matches “${search}”`} /> : null}
            </aside>
            <div class="docs-main">
              {op ? (
                <OperationDetail key={op.id} op={op} />
              ) : (
                <Empty title="Pick an endpoint">
                  Its parameters, schemas, a generated example, Try it and an explanation open here.
                </Empty>
              )}
            </div>
          </div>
        );
      }}
    </QueryView>
  );
}

function OperationDetail(props: { op: DocOperation }) {
  const { op } = props;
  const params = explainParameters(op);
  return (
    <article class="panel docs-operation" aria-labelledby="op-title">
      <div class="panel-head">
        <h2 id="op-title" class="docs-op-title">
          <MethodBadge method={op.method} /> <code>{op.path}</code>
        </h2>
        <div class="chips">
          {op.permission ? <Badge tone="info">needs {op.permission}</Badge> : null}
          {op.security.map((s) => (
            <Badge key={s}>{s}</Badge>
          ))}
        </div>
      </div>
      <p>
        <strong>{op.summary}</strong>
        {op.description ? (
          <span class="muted">
            {" "}
            <Prose text={op.description} />
          </span>
        ) : null}
      </p>
      <Explanation op={op} />

      <h3>Parameters</h3>
      {params.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>In</th>
                <th>Type</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {params.map((p) => (
                <tr key={`${p.in}:${p.name}`}>
                  <td>
                    <code>{p.name}</code>
                    {p.required ? <span class="docs-required"> required</span> : null}
                  </td>
                  <td>{p.in}</td>
                  <td class="small">{p.type}</td>
                  <td class="small">{p.description ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {op.requestBody ? (
        <>
          <h3>Request body</h3>
          <p class="muted small">
            {op.requestBody.required ? "Required" : "Optional"} ·{" "}
            {op.requestBody.contentTypes.join(", ")}
          </p>
          <details class="docs-schema">
            <summary>Request schema</summary>
            <pre>{pretty(op.requestBody.schema)}</pre>
          </details>
          <details class="docs-schema" open>
            <summary>Example (generated from the schema)</summary>
            <pre data-testid="request-example">
              {pretty(exampleOf(op.requestBody.schema, "request"))}
            </pre>
          </details>
        </>
      ) : null}

      <h3>Responses</h3>
      {op.responses.map((r) => (
        <details key={r.status} class="docs-schema">
          <summary>
            <span class={`status status-${r.status[0]}xx`}>{r.status}</span> {r.description}
            {r.contentType ? <span class="muted small"> · {r.contentType}</span> : null}
          </summary>
          {r.schema ? (
            <>
              <div class="small muted">Schema</div>
              <pre>{pretty(r.schema)}</pre>
              <div class="small muted">Example</div>
              <pre>{pretty(exampleOf(r.schema, "response"))}</pre>
            </>
          ) : (
            <p class="muted small">No body.</p>
          )}
        </details>
      ))}

      <TryIt op={op} />
    </article>
  );
}

function Explanation(props: { op: DocOperation }) {
  const [open, setOpen] = useState(false);
  const q = useQuery<ApiExplanation>(open ? `docs:explanation:${props.op.id}` : null, (a, signal) =>
    explanationOf(a, props.op.id, signal),
  );
  return (
    <section class="docs-explanation">
      <button
        type="button"
        class={`btn ${open ? "btn-primary" : ""}`}
        aria-pressed={open}
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <Sparkles /> AI Explanation
      </button>
      {open ? (
        <QueryView q={q} what="the explanation">
          {(e) => (
            <div class="docs-explained" data-testid="explanation">
              <div class="docs-explained-head">
                {e.source === "schema" ? (
                  <Badge
                    tone="neutral"
                    title={`Derived from /openapi.json (spec ${e.spec_hash.slice(0, 12)})`}
                  >
                    from the schema (no AI key)
                  </Badge>
                ) : (
                  <Badge tone="info">worded by AI</Badge>
                )}
              </div>
              <h4>What it does</h4>
              <p>
                <Prose text={e.summary} />
              </p>
              <h4>When to use it</h4>
              <p>
                <Prose text={e.when_to_use} />
              </p>
              <h4>Examples</h4>
              <CodeTabs
                label={`Examples of ${e.method} ${e.path}`}
                tabs={[
                  { id: "curl", label: "curl", code: e.examples.curl },
                  { id: "typescript", label: "TypeScript", code: e.examples.typescript },
                  { id: "python", label: "Python", code: e.examples.python },
                ]}
              />
              <h4>Gotchas</h4>
              <ul class="docs-gotchas">
                {e.gotchas.map((g) => (
                  <li key={g}>
                    <Prose text={g} />
                  </li>
                ))}
              </ul>
            </div>
          )}
        </QueryView>
      ) : null}
    </section>
  );
}

function CodeTabs(props: { label: string; tabs: { id: string; label: string; code: string }[] }) {
  const [active, setActive] = useState(props.tabs[0]?.id ?? "");
  const [copied, setCopied] = useState<string | null>(null);
  const tab = props.tabs.find((t) => t.id === active) ?? props.tabs[0];
  if (!tab) return null;
  const copy = () =>
    navigator.clipboard.writeText(tab.code).then(
      () => setCopied(tab.id),
      () => setCopied(null),
    );
  return (
    <div class="code-tabs">
      <div class="code-tabs-bar">
        <div class="segmented" role="tablist" aria-label={props.label}>
          {props.tabs.map((t) => (
            <button
              key={t.id}
              type="button"
              role="tab"
              aria-selected={t.id === tab.id}
              class={t.id === tab.id ? "active" : undefined}
              onClick={() => {
                setActive(t.id);
                setCopied(null);
              }}
            >
              {t.label}
            </button>
          ))}
        </div>
        <button type="button" class="btn btn-small" onClick={copy}>
          {copied === tab.id ? "Copied" : `Copy ${tab.label}`}
        </button>
      </div>
      <pre role="tabpanel" aria-label={tab.label} class="code">
        {tab.code}
      </pre>
    </div>
  );
}

function TryIt(props: { op: DocOperation }) {
  const { op } = props;
  const api = useApi();
  const [input, setInput] = useState<TryInput>(() => initialTry(op));
  const [result, setResult] = useState<TryResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fields = op.parameters.filter((p) => p.in === "path" || p.in === "query");
  if (!canTry(op)) {
    const key = op.security.includes("ingestKey")
      ? "an ingest key"
      : op.security.includes("adminToken")
        ? "the admin token"
        : "no dashboard credential";
    return (
      <section class="docs-try" aria-label="Try it">
        <h3>Try it</h3>
        <p class="muted">
          This endpoint takes {key}, not the dashboard's sign-in: run the curl of its explanation
          with your key instead.
        </p>
      </section>
    );
  }
  const send = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    sendTry(api, op, input).then(
      (r) => {
        setResult(r);
        setBusy(false);
      },
      (err) => {
        if (!isAbort(err)) setError((err as Error).message || "The request did not go out");
        setBusy(false);
      },
    );
  };
  const problem =
    result && /problem\+json/.test(result.contentType)
      ? (result.body as {
          code?: string;
          detail?: string;
          errors?: { path: string; message: string }[];
        })
      : null;
  return (
    <section class="docs-try" aria-label="Try it">
      <h3>Try it</h3>
      <p class="muted small">
        Sent as you ({api.credential.kind === "token" ? "the operator token" : "your session"}):
        {op.method === "get" ? " it only reads." : " it really changes the workspace."}
      </p>
      <form onSubmit={send} class="field-form">
        {fields.length ? (
          <div class="field-grid">
            {fields.map((p) => (
              <label class="field" key={p.name}>
                <span>
                  {p.name}{" "}
                  <span class="muted small">
                    ({p.in}
                    {p.required ? ", required" : ""})
                  </span>
                </span>
                <input
                  value={input.params[p.name] ?? ""}
                  required={p.required}
                  onInput={(e) =>
                    setInput({
                      ...input,
                      params: { ...input.params, [p.name]: (e.target as HTMLInputElement).value },
                    })
                  }
                />
              </label>
            ))}
          </div>
        ) : null}
        {op.requestBody ? (
          <label class="field field-block">
            <span>Body ({op.requestBody.contentTypes[0]})</span>
            <textarea
              class="mono"
              rows={Math.min(16, Math.max(4, input.body.split("\n").length))}
              value={input.body}
              onInput={(e) => setInput({ ...input, body: (e.target as HTMLTextAreaElement).value })}
            />
          </label>
        ) : null}
        <div class="form-row">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? "Sending…" : `Send ${op.method.toUpperCase()}`}
          </button>
          <button
            type="button"
            class="btn"
            onClick={() => setInput(initialTry(op))}
            disabled={busy}
          >
            Reset to the example
          </button>
        </div>
      </form>
      {error ? (
        <p class="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {result ? (
        <div class="docs-try-result" data-testid="try-result" aria-live="polite">
          <p>
            <span class={`status status-${String(result.status)[0]}xx`} data-testid="try-status">
              {result.status}
            </span>{" "}
            <span class="muted small">
              {result.contentType || "no body"} · {result.ms} ms
            </span>
          </p>
          {problem ? (
            <div class="state state-error" role="alert">
              <strong>
                {problem.code ?? "error"}: {problem.detail ?? ""}
              </strong>
              {problem.errors?.length ? (
                <ul>
                  {problem.errors.map((f) => (
                    <li key={f.path}>
                      <code>{f.path || "(body)"}</code>: {f.message}
                    </li>
                  ))}
                </ul>
              ) : null}
            </div>
          ) : null}
          <pre class="code">
            {typeof result.body === "string" ? result.body : pretty(result.body)}
          </pre>
        </div>
      ) : null}
    </section>
  );
}

function GettingStarted(props: { search: URLSearchParams }) {
  const catalog = useCatalog();
  const chosen = props.search.get("product") ?? catalog.products[0]?.id ?? null;
  const q = useQuery<GettingStartedGuide>(chosen ? `docs:guide:${chosen}` : null, (api, signal) =>
    guideOf(api, chosen ?? "", signal),
  );
  const products = catalog.products;
  if (!catalog.loaded) return <Loading label="Loading the catalog…" />;
  if (products.length === 0) {
    return (
      <Empty title="No product yet">
        Add one in the <Link href="/catalog">Catalog</Link>; its guide appears here.
      </Empty>
    );
  }
  return (
    <>
      <div class="panel-tools">
        <label class="field">
          <span>Product</span>
          <select
            value={chosen ?? ""}
            onChange={(e) =>
              navigate(
                withQuery("/docs/getting-started", {
                  product: (e.target as HTMLSelectElement).value,
                }),
              )
            }
          >
            {products.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name} ({p.id})
              </option>
            ))}
          </select>
        </label>
      </div>
      {q.error ? (
        <ErrorState error={q.error} onRetry={q.reload} what="the guide" />
      ) : !q.data ? (
        <Loading label="Building the guide…" />
      ) : (
        <Guide guide={q.data} />
      )}
    </>
  );
}

function Guide(props: { guide: GettingStartedGuide }) {
  const g = props.guide;
  return (
    <article class="panel docs-guide" aria-labelledby="guide-title" data-testid="guide">
      <h2 id="guide-title">Getting started with {g.product.name}</h2>
      {g.product.description ? <p class="muted">{g.product.description}</p> : null}
      <h3>Its metrics</h3>
      {g.metrics.length ? (
        <ul>
          {g.metrics.map((m) => (
            <li key={m.id}>
              <code>{m.id}</code>
              {m.name ? ` (${m.name})` : ""}: {m.meaning}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">None yet.</p>
      )}
      <p class="small muted">
        The examples name {g.customer.from_catalog ? "your customer" : "a placeholder customer"}{" "}
        <code>{g.customer.id}</code>
        {g.customer.from_catalog ? "" : " (you have no customer yet)"}. Set AFORO_URL to{" "}
        <code>{location.origin}</code> and the keys from Settings.
      </p>
      {g.steps.map((s) => (
        <section key={s.title} class="docs-step">
          <h3>{s.title}</h3>
          <p>{s.text}</p>
          <CodeTabs
            label={s.title}
            tabs={[
              { id: "curl", label: "curl", code: s.curl },
              { id: "typescript", label: "TypeScript", code: s.typescript },
              { id: "python", label: "Python", code: s.python },
            ]}
          />
        </section>
      ))}
    </article>
  );
}
