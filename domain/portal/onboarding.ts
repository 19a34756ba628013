import { CUSTOMER_KEY_PREFIX } from "../customer-api-keys";
import { toMicros, toNanos } from "../money";
import { moneyInWords, plural, quantityInWords } from "../storefront/words";

// Smart Onboarding (issue 19 §6): the portal's chat, grounded in the customer's own setup. The
// common questions — a key's quota, this period's usage, the plan, upgrading, getting started,
// invoices, keys — are answered here with no model: each answer cites the customer's actual keys,
// usage, quota and plan (the facts it quotes are listed beside it) and links to where the
// customer acts next. The model, when the tenant has a key, words a question these intents do
// not cover from the same facts (workers/portal/onboarding.ts), and its wording is kept only when
// every number in it is one of these facts'.

/** What the portal knows of the customer (workers/portal/overview.ts PortalOverview's shape). */
export interface OnboardingSetup {
  customer: { id: string; name: string };
  brand: { name: string };
  /** When the setup was read: an open invoice is past due after its due date. */
  generated_at: string;
  subscriptions: ReadonlyArray<{
    id: string;
    product: string;
    status: string;
    plan: { id: string; name: string; currency: string; summary: string };
    period: { start: string; end: string } | null;
    usage: ReadonlyArray<{
      metric: string;
      unit: string;
      used: string;
      included: string | null;
      percent_of_included: number | null;
      projection: string;
      projection_percent_of_included: number | null;
      method: { description: string };
    }>;
  }>;
  invoices: ReadonlyArray<{
    id: string;
    status: string;
    currency: string;
    total: string;
    amount_due: string;
    due_at: string | null;
    period: { start: string; end: string };
  }>;
  api_keys: ReadonlyArray<{
    id: string;
    name: string | null;
    /** The characters after `sk_live_` a person may see (the rest is never shown). */
    prefix: string;
    revoked_at: string | null;
    quota: { metric: string; limit: string; period: string } | null;
    quota_used: { used: string; limit: string; percent_used: number } | null;
    usage: { period: string; events: number };
  }>;
}

/** Where an answer sends the customer: the portal's own sections and the storefront. */
export interface OnboardingLinks {
  gettingStarted: string;
  keys: string;
  usage: string;
  invoices: string;
  /** The storefront's plan comparison, or null when the tenant has no storefront. */
  upgrade: string | null;
}

export const INTENTS = [
  "key_quota",
  "usage",
  "plan",
  "upgrade",
  "get_started",
  "invoices",
  "keys",
  "unknown",
] as const;
export type OnboardingIntent = (typeof INTENTS)[number];

export interface OnboardingAnswer {
  intent: OnboardingIntent;
  text: string;
  /** The figures the text quotes, each with what it is ("sk_live_ab… quota used: 47.25%"). */
  facts: string[];
  links: Array<{ label: string; href: string }>;
}

/** Keyword rules, first match wins: a question naming a key's quota is about the quota, not
 * about keys in general; one about cost or upgrading before one about usage. */
const RULES: ReadonlyArray<[OnboardingIntent, RegExp]> = [
  ["key_quota", /\b(quota|limit|sk_live_\w*|rate.?limit)/i],
  [
    "upgrade",
    /\b(upgrade|downgrade|switch|cheaper|bigger|more (?:tokens|calls|usage)|change (?:my )?plan)/i,
  ],
  ["invoices", /\b(invoice|bill|billing|owe|due|paid|payment|receipt)/i],
  [
    "usage",
    /\b(usage|used|using|consum|how much|how many|projection|month.?end|this (?:month|period|week))/i,
  ],
  ["plan", /\b(plan|price|pricing|cost|subscription|subscribed|tier)/i],
  [
    "get_started",
    /\b(start|begin|integrat|set ?up|setup|first (?:call|request|event)|how do i|curl|sdk|docs?)\b/i,
  ],
  ["keys", /\b(key|keys|token|credential|revoke|rotate)\b/i],
];

export function classify(question: string): OnboardingIntent {
  for (const [intent, re] of RULES) if (re.test(question)) return intent;
  return "unknown";
}

const grouped = (quantity: string) => quantityInWords(toMicros(quantity));
const money = (amount: string, currency: string) => moneyInWords(toNanos(amount), currency);
const percent = (p: number) => `${p}%`;
const day = (at: string) => at.slice(0, 10);
type Key = OnboardingSetup["api_keys"][number];
const shownKey = (k: Key) => `${CUSTOMER_KEY_PREFIX}${k.prefix}…`;
const keyLabel = (k: Key) => `${shownKey(k)}${k.name ? ` (${k.name})` : ""}`;

/** A metric's unit in the plural, as the customer's usage names it ("tokens"), else its id. */
function unitsOf(s: OnboardingSetup, metric: string): string {
  for (const sub of s.subscriptions) {
    const u = sub.usage.find((x) => x.metric === metric);
    if (u) return plural(u.unit);
  }
  return metric;
}
const PERIOD_WORDS: Record<string, string> = {
  day: "today's",
  week: "this week's",
  month: "this month's",
};

const activeKeys = (s: OnboardingSetup) => s.api_keys.filter((k) => k.revoked_at === null);
const liveSubscriptions = (s: OnboardingSetup) =>
  s.subscriptions.filter((x) => ["trialing", "active", "past_due"].includes(x.status));

/** The key a question names by its shown prefix (or any part of it), if one does. */
function namedKey(s: OnboardingSetup, question: string) {
  const token = /sk_live_([A-Za-z0-9_-]+)/.exec(question)?.[1];
  if (!token) return null;
  return (
    s.api_keys.find((k) => k.prefix.startsWith(token)) ??
    s.api_keys.find((k) => token.startsWith(k.prefix)) ??
    null
  );
}

function keyQuota(s: OnboardingSetup, question: string, links: OnboardingLinks): OnboardingAnswer {
  const named = namedKey(s, question);
  const keys = named ? [named] : activeKeys(s).filter((k) => k.quota !== null);
  const facts: string[] = [];
  const sentences: string[] = [];
  for (const k of keys) {
    if (!k.quota || !k.quota_used) {
      sentences.push(`Your ${keyLabel(k)} key has no quota of its own: your plan's terms apply.`);
      continue;
    }
    const pct = percent(k.quota_used.percent_used);
    const units = unitsOf(s, k.quota.metric);
    facts.push(`${shownKey(k)} quota used: ${pct}`);
    facts.push(
      `${shownKey(k)} quota: ${grouped(k.quota_used.used)} of ${grouped(k.quota_used.limit)} ${units}`,
    );
    sentences.push(
      `Your ${keyLabel(k)} key has used ${pct} of ${PERIOD_WORDS[k.quota.period] ?? "its"} quota: ${grouped(k.quota_used.used)} of ${grouped(k.quota_used.limit)} ${units}.`,
    );
    if (k.quota_used.percent_used >= 80) {
      sentences.push(
        links.upgrade
          ? "That is close to the limit: here is how to upgrade before calls are refused."
          : "That is close to the limit: ask us for a larger quota before calls are refused.",
      );
    }
  }
  if (keys.length === 0) {
    sentences.push(
      activeKeys(s).length === 0
        ? "You have no active API key yet, so there is no key quota to report."
        : "None of your API keys has a quota of its own: your plan's terms apply.",
    );
  }
  return {
    intent: "key_quota",
    text: sentences.join(" "),
    facts,
    links: [
      { label: "Your API keys", href: links.keys },
      ...(links.upgrade ? [{ label: "Compare plans and upgrade", href: links.upgrade }] : []),
    ],
  };
}

function usage(s: OnboardingSetup, links: OnboardingLinks): OnboardingAnswer {
  const facts: string[] = [];
  const sentences: string[] = [];
  for (const sub of liveSubscriptions(s)) {
    for (const u of sub.usage) {
      const unit = plural(u.unit);
      const used = `${grouped(u.used)} ${unit}`;
      facts.push(`${sub.plan.name} ${u.metric} used: ${used}`);
      let sentence = `On ${sub.plan.name} you have used ${used} this period`;
      if (u.included !== null && u.percent_of_included !== null) {
        facts.push(`${sub.plan.name} ${u.metric} included: ${grouped(u.included)} ${unit}`);
        sentence += `, ${percent(u.percent_of_included)} of the ${grouped(u.included)} included`;
      }
      facts.push(`${sub.plan.name} ${u.metric} projected: ${grouped(u.projection)} ${unit}`);
      sentence += `; at this pace you will reach ${grouped(u.projection)} by ${day(sub.period?.end ?? "")}`;
      if (u.projection_percent_of_included !== null) {
        sentence += ` (${percent(u.projection_percent_of_included)} of what is included)`;
      }
      sentences.push(`${sentence}. ${u.method.description}`);
    }
  }
  if (sentences.length === 0)
    sentences.push("There is no metered usage on an active plan this period yet.");
  return {
    intent: "usage",
    text: sentences.join(" "),
    facts,
    links: [{ label: "Your usage", href: links.usage }],
  };
}

function plan(s: OnboardingSetup, links: OnboardingLinks): OnboardingAnswer {
  const subs = liveSubscriptions(s);
  const facts = subs.map((x) => `${x.plan.name}: ${x.plan.summary}`);
  const text = subs.length
    ? subs
        .map(
          (x) =>
            `You are on ${x.plan.name} (${x.product}): ${x.plan.summary}.${x.period ? ` This period runs ${day(x.period.start)} to ${day(x.period.end)}.` : ""}`,
        )
        .join(" ")
    : "You have no active subscription.";
  return {
    intent: "plan",
    text,
    facts,
    links: [
      { label: "Your usage", href: links.usage },
      ...(links.upgrade ? [{ label: "Compare plans", href: links.upgrade }] : []),
    ],
  };
}

function upgrade(s: OnboardingSetup, links: OnboardingLinks): OnboardingAnswer {
  const over = liveSubscriptions(s).flatMap((x) =>
    x.usage
      .filter((u) => (u.projection_percent_of_included ?? 0) > 100)
      .map((u) => ({ plan: x.plan.name, u })),
  );
  const facts = over.map(
    ({ plan: p, u }) =>
      `${p} ${u.metric} projected: ${percent(u.projection_percent_of_included ?? 0)} of included`,
  );
  const why = over.length
    ? `At this pace you will pass what ${over[0]?.plan} includes (${over
        .map(({ u }) => `${plural(u.unit)} at ${percent(u.projection_percent_of_included ?? 0)}`)
        .join(", ")}), so a larger plan may cost less than the overage.`
    : "Nothing you use is projected past what your plan includes this period.";
  const how = links.upgrade
    ? "The plan comparison shows each plan's cost for your usage; your account team switches the plan."
    : "Ask your account team to switch the plan.";
  return {
    intent: "upgrade",
    text: `${why} ${how}`,
    facts,
    links: links.upgrade ? [{ label: "Compare plans", href: links.upgrade }] : [],
  };
}

function getStarted(s: OnboardingSetup, links: OnboardingLinks): OnboardingAnswer {
  const key = activeKeys(s)[0];
  const text = key
    ? `Send your calls with your ${keyLabel(key)} key in the x-api-key header (or as a Bearer token): each call is counted for ${s.customer.name}. The getting-started guide has a curl, TypeScript and Python example.`
    : `You have no active API key yet: ask ${s.brand.name} for one, then follow the getting-started guide.`;
  return {
    intent: "get_started",
    text,
    facts: key ? [`key: ${shownKey(key)}`] : [],
    links: [
      { label: "Getting started", href: links.gettingStarted },
      { label: "Your API keys", href: links.keys },
    ],
  };
}

function invoices(s: OnboardingSetup, links: OnboardingLinks): OnboardingAnswer {
  const open = s.invoices.filter((i) => i.status === "open");
  const latest = s.invoices[0];
  const facts: string[] = [];
  const sentences: string[] = [];
  for (const i of open) {
    const due = money(i.amount_due, i.currency);
    facts.push(`${i.id} due: ${due}`);
    sentences.push(
      `Invoice ${i.id} (${day(i.period.start)} to ${day(i.period.end)}) has ${due} due${i.due_at ? ` by ${day(i.due_at)}` : ""}${i.due_at !== null && i.due_at < s.generated_at ? ", and it is past due" : ""}.`,
    );
  }
  if (sentences.length === 0) {
    sentences.push(
      latest
        ? `Nothing is due. Your latest invoice, ${latest.id}, totals ${money(latest.total, latest.currency)} (${latest.status}).`
        : "You have no invoices yet.",
    );
    if (latest) facts.push(`${latest.id} total: ${money(latest.total, latest.currency)}`);
  }
  return {
    intent: "invoices",
    text: sentences.join(" "),
    facts,
    links: [{ label: "Your invoices", href: links.invoices }],
  };
}

function keys(s: OnboardingSetup, links: OnboardingLinks): OnboardingAnswer {
  const active = activeKeys(s);
  const revoked = s.api_keys.length - active.length;
  const listed = active.map(
    (k) => `${keyLabel(k)}, ${k.usage.events} calls this ${k.usage.period}`,
  );
  const text = active.length
    ? `You have ${active.length} active API key${active.length === 1 ? "" : "s"}: ${listed.join("; ")}.${revoked ? ` ${revoked} more ${revoked === 1 ? "is" : "are"} revoked.` : ""} Keys are issued and revoked by ${s.brand.name}; a key is shown in full only once, when it is made.`
    : `You have no active API key. Keys are issued by ${s.brand.name}.`;
  return {
    intent: "keys",
    text,
    facts: active.map((k) => `${shownKey(k)} calls: ${k.usage.events}`),
    links: [{ label: "Your API keys", href: links.keys }],
  };
}

const HELP =
  "I can tell you how much of a key's quota is used, your usage and its projection to the end of the period, your plan, whether to upgrade, what is due on your invoices, and how to send your first call.";

/** The deterministic answer to `question`, from the customer's own setup. */
export function answerOnboarding(
  setup: OnboardingSetup,
  question: string,
  links: OnboardingLinks,
): OnboardingAnswer {
  switch (classify(question)) {
    case "key_quota":
      return keyQuota(setup, question, links);
    case "usage":
      return usage(setup, links);
    case "plan":
      return plan(setup, links);
    case "upgrade":
      return upgrade(setup, links);
    case "get_started":
      return getStarted(setup, links);
    case "invoices":
      return invoices(setup, links);
    case "keys":
      return keys(setup, links);
    case "unknown":
      return {
        intent: "unknown",
        text: HELP,
        facts: [],
        links: [{ label: "Getting started", href: links.gettingStarted }],
      };
  }
}
