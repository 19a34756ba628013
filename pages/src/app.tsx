// The shell: sign-in gate, navigation, the catalog every view shares, and the route → view map.

import { useEffect, useMemo, useState } from "preact/hooks";
import type { Plan, Product } from "../../contracts/catalog";
import { ApiClient, ApiContext, fetchAll, isAbort } from "./lib/api";
import { type Catalog, CatalogContext, EMPTY_CATALOG, reportingCurrency } from "./lib/catalog";
import { TIME_ZONE } from "./lib/format";
import { Link, navigate, useLocation } from "./lib/router";
import { clearToken, readToken, saveToken, takeTokenFromFragment } from "./lib/session";
import { CatalogView } from "./views/catalog";
import { ChannelsView } from "./views/channels";
import { CockpitView } from "./views/cockpit";
import { InvoicesView } from "./views/invoices";
import { LiveView } from "./views/live";
import { MarginView } from "./views/margin";
import { PoliciesView } from "./views/policies";
import { SignIn } from "./views/sign-in";
import { SignalsView } from "./views/signals";

export const ROUTES = [
  { path: "/cockpit", label: "Revenue Cockpit", view: CockpitView },
  { path: "/margin", label: "COGS & Margin", view: MarginView },
  { path: "/invoices", label: "Invoices", view: InvoicesView },
  { path: "/signals", label: "Health Signals", view: SignalsView },
  { path: "/live", label: "Live Ingestion", view: LiveView },
  { path: "/catalog", label: "Catalog", view: CatalogView },
  { path: "/policies", label: "Policies", view: PoliciesView },
  { path: "/channels", label: "Channels", view: ChannelsView },
] as const;

export function App() {
  const [token, setToken] = useState<string | null>(() => {
    const handed = takeTokenFromFragment();
    if (handed) saveToken(handed);
    return handed ?? readToken();
  });
  const [notice, setNotice] = useState<string | null>(null);

  const signOut = (why?: string) => {
    clearToken();
    setToken(null);
    setNotice(why ?? null);
  };
  const api = useMemo(
    () =>
      token
        ? new ApiClient(token, () =>
            signOut("The API refused the token (revoked or wrong tenant). Sign in again."),
          )
        : null,
    [token],
  );

  if (!api) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(t) => {
          saveToken(t);
          setNotice(null);
          setToken(t);
        }}
      />
    );
  }
  return (
    <ApiContext.Provider value={api}>
      <Shell api={api} onSignOut={() => signOut("Signed out.")} />
    </ApiContext.Provider>
  );
}

function Shell(props: { api: ApiClient; onSignOut: () => void }) {
  const loc = useLocation();
  const [catalog, setCatalog] = useState<Catalog>(EMPTY_CATALOG);

  useEffect(() => {
    const controller = new AbortController();
    Promise.all([
      fetchAll<Product>(props.api, "/api/products", {}, controller.signal),
      fetchAll<Plan>(props.api, "/api/plans", {}, controller.signal),
    ]).then(
      ([products, plans]) =>
        setCatalog({ products, plans, currency: reportingCurrency(plans), loaded: true }),
      (err) => {
        if (!isAbort(err)) setCatalog({ ...EMPTY_CATALOG, loaded: true });
      },
    );
    return () => controller.abort();
  }, [props.api]);

  useEffect(() => {
    if (loc.path === "/" || loc.path === "/index.html") navigate("/cockpit", { replace: true });
  }, [loc.path]);

  const route = ROUTES.find((r) => loc.path === r.path || loc.path.startsWith(`${r.path}/`));
  useEffect(() => {
    document.title = route ? `${route.label} · Aforo` : "Aforo";
  }, [route]);

  const View = route?.view;
  return (
    <CatalogContext.Provider value={catalog}>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/cockpit" class="brand" aria-label="Aforo home">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Aforo
        </Link>
        <nav aria-label="Main">
          <ul>
            {ROUTES.map((r) => (
              <li key={r.path}>
                <Link
                  href={r.path}
                  class={route?.path === r.path ? "active" : undefined}
                  aria-current={route?.path === r.path ? "page" : undefined}
                >
                  {r.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="topbar-end">
          <span class="tz" title="Times are shown in this time zone">
            {TIME_ZONE}
          </span>
          <button type="button" class="btn btn-small" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {View ? (
          <View key={route.path} search={loc.search} path={route.path} />
        ) : loc.path === "/" ? null : (
          <div class="state state-empty">
            <strong>No page at {loc.path}</strong>
            <div>
              <Link href="/cockpit">Go to the Revenue Cockpit</Link>
            </div>
          </div>
        )}
      </main>
    </CatalogContext.Provider>
  );
}
