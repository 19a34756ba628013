// Settings: the workspace's members, the audit log, payments (the Stripe webhook, Adaptive
// Retry's policy), the storefront's brand and address, and your own account (passkeys,
// sign-out everywhere). One route, /settings/<section>, each section its own module.

import { Link, useLocation } from "../lib/router";
import { AccountSection } from "./account";
import { AuditSection } from "./audit";
import { MembersSection } from "./members";
import { PaymentsSection } from "./payments-settings";
import { StorefrontSection } from "./storefront-settings";

const SECTIONS = [
  { slug: "members", label: "Members", view: MembersSection },
  { slug: "audit", label: "Audit", view: AuditSection },
  { slug: "payments", label: "Payments", view: PaymentsSection },
  { slug: "storefront", label: "Storefront", view: StorefrontSection },
  { slug: "account", label: "Your account", view: AccountSection },
] as const;

export function SettingsView(props: { search: URLSearchParams; path: string }) {
  const loc = useLocation();
  const slug = loc.path.slice(props.path.length + 1) || "members";
  const section = SECTIONS.find((s) => s.slug === slug);
  const View = section?.view;
  return (
    <section aria-labelledby="page-title">
      <nav class="tabs" aria-label="Settings sections">
        {SECTIONS.map((s) => (
          <Link
            key={s.slug}
            href={`${props.path}/${s.slug}`}
            class={s === section ? "active" : undefined}
            aria-current={s === section ? "page" : undefined}
          >
            {s.label}
          </Link>
        ))}
      </nav>
      {View ? (
        <View search={props.search} path={`${props.path}/${slug}`} />
      ) : (
        <div class="state state-empty">
          <strong>No settings section "{slug}"</strong>
        </div>
      )}
    </section>
  );
}
