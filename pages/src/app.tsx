// The shell: the sign-in gate (a session cookie, a sign-in link to spend, or an API token), who
// is signed in, navigation, the catalog every view shares, and the route → view map.

import { useEffect, useState } from "preact/hooks";
import type { Me } from "../../contracts/accounts";
import type { Plan, Product } from "../../contracts/catalog";
import { PricingArchitect } from "./components/pricing-architect";
import { Loading } from "./components/ui";
import {
  type ApiClient,
  ApiContext,
  ApiError,
  type Credential,
  fetchAll,
  isAbort,
} from "./lib/api";
import {
  type Catalog,
  CatalogContext,
  EMPTY_CATALOG,
  onCatalogChanged,
  reportingCurrency,
} from "./lib/catalog";
import { TIME_ZONE } from "./lib/format";
import { actorLabel, MeContext } from "./lib/me";
import { Link, navigate, useLocation } from "./lib/router";
import {
  clearToken,
  enter,
  hasSession,
  readToken,
  saveToken,
  signOut,
  takeLinkFromAddress,
  takeTokenFromFragment,
} from "./lib/session";
import { CatalogView } from "./views/catalog";
import { ChannelsView } from "./views/channels";
import { CockpitView } from "./views/cockpit";
import { DocsView } from "./views/docs";
import { ExportsView } from "./views/exports";
import { HomeView, PersonaSwitch } from "./views/home";
import { InvoicesView } from "./views/invoices";
import { LiveView } from "./views/live";
import { MarginView } from "./views/margin";
import { PoliciesView } from "./views/policies";
import { ReportsView } from "./views/reports";
import { SettingsView } from "./views/settings";
import { SignIn } from "./views/sign-in";
import { SignalsView } from "./views/signals";

export const ROUTES = [
  { path: "/home", label: "Home", view: HomeView },
  { path: "/cockpit", label: "Revenue Cockpit", view: CockpitView },
  { path: "/margin", label: "COGS & Margin", view: MarginView },
  { path: "/invoices", label: "Invoices", view: InvoicesView },
  { path: "/signals", label: "Health Signals", view: SignalsView },
  { path: "/reports", label: "Reports", view: ReportsView },
  { path: "/exports", label: "Exports", view: ExportsView },
  { path: "/live", label: "Live Ingestion", view: LiveView },
  { path: "/catalog", label: "Catalog", view: CatalogView },
  { path: "/policies", label: "Policies", view: PoliciesView },
  { path: "/channels", label: "Channels", view: ChannelsView },
  { path: "/docs", label: "API Docs", view: DocsView },
  { path: "/settings", label: "Settings", view: SettingsView },
] as const;

type Boot =
  | { phase: "checking" }
  | { phase: "out"; notice: string | null; link: string | null }
  | { phase: "in"; api: ApiClient; me: Me };

export function App() {
  const [boot, setBoot] = useState<Boot>({ phase: "checking" });

  const signedOut = (notice: string | null) => {
    clearToken();
    setBoot({ phase: "out", notice, link: null });
  };
  const refused = () =>
    signedOut(
      "Your session ended or the API refused the token (revoked or wrong tenant). Sign in again.",
    );

  /** Enters with a credential; a refused one lands on the sign-in page with `notice`. */
  const enterWith = (credential: Credential, notice: string | null) =>
    enter(credential, refused).then(
      ({ api, me }) => {
        if (credential.kind === "token") saveToken(credential.token);
        if (location.pathname.replace(/\/+$/, "") === "/sign-in") {
          navigate("/cockpit", { replace: true });
        }
        setBoot({ phase: "in", api, me });
      },
      (err) => {
        if (credential.kind === "token") clearToken();
        setBoot({
          phase: "out",
          notice: err instanceof ApiError && err.status === 401 ? notice : (err as Error).message,
          link: null,
        });
      },
    );

  useEffect(() => {
    // A sign-in link is spent by the sign-in page; a token (handed in the fragment or kept in
    // this tab) comes next; otherwise the session cookie, if the browser holds a live one.
    const link = takeLinkFromAddress();
    if (link) {
      setBoot({ phase: "out", notice: null, link });
      return;
    }
    const token = takeTokenFromFragment() ?? readToken();
    if (token) {
      void enterWith(
        { kind: "token", token },
        "The API refused the token (revoked or wrong tenant). Sign in again.",
      );
      return;
    }
    hasSession().then(
      (live) =>
        live
          ? enterWith({ kind: "session", csrfToken: "" }, null)
          : setBoot({ phase: "out", notice: null, link: null }),
      (err) => setBoot({ phase: "out", notice: (err as Error).message, link: null }),
    );
  }, []);

  if (boot.phase === "checking") return <Loading label="Signing in…" />;
  if (boot.phase === "out") {
    return (
      <SignIn
        notice={boot.notice}
        link={boot.link}
        onSignedIn={(how) =>
          enterWith(
            how.kind === "token" ? how : { kind: "session", csrfToken: "" },
            "The sign-in did not hold; try again.",
          )
        }
      />
    );
  }
  return (
    <ApiContext.Provider value={boot.api}>
      <MeContext.Provider value={boot.me}>
        <Shell
          api={boot.api}
          me={boot.me}
          onSignOut={() =>
            signOut(boot.api).then(
              () => signedOut("Signed out."),
              (err) => signedOut(`Signed out here; the server said: ${(err as Error).message}`),
            )
          }
        />
      </MeContext.Provider>
    </ApiContext.Provider>
  );
}

function Shell(props: { api: ApiClient; me: Me; onSignOut: () => void }) {
  const loc = useLocation();
  const [catalog, setCatalog] = useState<Catalog>(EMPTY_CATALOG);
  // Bumped when a view changes the catalog, so the shell loads it again.
  const [catalogVersion, setCatalogVersion] = useState(0);
  useEffect(() => onCatalogChanged(() => setCatalogVersion((v) => v + 1)), []);

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
  }, [props.api, catalogVersion]);

  useEffect(() => {
    if (loc.path === "/" || loc.path === "/index.html" || loc.path === "/sign-in") {
      navigate("/cockpit", { replace: true });
    }
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
          <PersonaSwitch />
          <span class="tz" title="Times are shown in this time zone">
            {TIME_ZONE}
          </span>
          <Link
            href="/settings/account"
            class="whoami"
            data-testid="whoami"
            title={`Signed in as ${actorLabel(props.me.actor, props.me.name)}: your account`}
          >
            {props.me.kind === "member" ? (props.me.name ?? props.me.email) : "API token"}{" "}
            <span class="role-badge">{props.me.role}</span>
          </Link>
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
      <PricingArchitect />
    </CatalogContext.Provider>
  );
}
