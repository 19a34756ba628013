import type { Brand } from "../../contracts/storefront";
import { toMicros } from "../../domain/money";
import { plural, quantityInWords } from "../../domain/storefront/words";
import {
  brandHeader,
  escapeHtml,
  fontsOf,
  inkOn,
  palette,
  SAFE_IMAGE,
  storefrontCsp,
} from "../storefront/page";
import type { PortalOverview, PortalSubscription, PortalUsage } from "./overview";

// The customer portal page (GET /portal, issue 19 §5): one server-rendered document branded like
// the storefront (the same palette, fonts and logo rules, workers/storefront/page.ts) and served
// under the same kind of nonce CSP. Every name in it is operator or customer input, so all of it
// is escaped; the figures are the overview's own strings, never recomputed here.

export interface PortalPage {
  overview: PortalOverview;
  brand: Brand | null;
  expiresAt: number;
  nonce: string;
}

const e = escapeHtml;

const CURRENCY_SYMBOL: Record<string, string> = { USD: "$", EUR: "€", GBP: "£", JPY: "¥" };
const money = (amount: string, currency: string) => {
  const symbol = CURRENCY_SYMBOL[currency];
  return symbol ? `${symbol}${amount}` : `${amount} ${currency}`;
};
const day = (isoText: string | null) => (isoText ? isoText.slice(0, 10) : "—");
const percent = (p: number | null) => (p === null ? "" : ` (${p.toFixed(2)} %)`);

/** A native <meter> of the included quantity used (the CSP allows no style attributes). */
function meter(u: PortalUsage): string {
  if (u.percent_of_included === null) return "";
  const used = Math.min(u.percent_of_included, 100);
  return `<meter min="0" max="100" low="80" high="100" optimum="0" value="${used}" title="${e(`${u.percent_of_included.toFixed(2)} % of the included quantity used`)}"></meter>`;
}

/** A cell that names its column, so a phone can show each row as a small labelled card. */
const td = (label: string, html: string, cls = "") =>
  `<td data-label="${e(label)}"${cls ? ` class="${cls}"` : ""}>${html}</td>`;

/** An exact decimal quantity with its thousands grouped ("1,250,000.5"). */
const qty = (decimal: string) => e(quantityInWords(toMicros(decimal)));

function usageRows(s: PortalSubscription): string {
  if (s.usage.length === 0) return `<p class="muted">No usage this period yet.</p>`;
  const rows = s.usage
    .map(
      (u) => `<tr data-metric="${e(u.metric)}">
<th scope="row">${e(plural(u.unit))}${plural(u.unit) === u.metric ? "" : ` <small>${e(u.metric)}</small>`}</th>
${td("Used", qty(u.used), "num")}
${td("Included", `${u.included === null ? "—" : qty(u.included)}${e(percent(u.percent_of_included))}`, "num")}
${td("Projected at period end", `${qty(u.projection)}${e(percent(u.projection_percent_of_included))}`, "num")}
${td("Of the included", meter(u))}</tr>`,
    )
    .join("");
  const methods = [...new Set(s.usage.map((u) => u.method.description))];
  return `<table><thead><tr><th>Metric</th><th>Used</th><th>Included</th><th>Projected at period end</th><th></th></tr></thead><tbody>${rows}</tbody></table>
${methods.map((m) => `<p class="method">${e(m)}</p>`).join("")}`;
}

function subscriptionCard(s: PortalSubscription): string {
  return `<article class="card" data-subscription="${e(s.id)}">
<h3>${e(s.plan.name)} <span class="badge">${e(s.status)}</span></h3>
<p class="price">${e(s.plan.headline)}</p>
${s.plan.lines.length ? `<ul>${s.plan.lines.map((l) => `<li>${e(l)}</li>`).join("")}</ul>` : ""}
<p class="muted">Since ${e(day(s.start))}${s.end ? `, ends ${e(day(s.end))}` : ""}${s.period ? ` · this period ${e(day(s.period.start))} to ${e(day(s.period.end))}` : ""}</p>
${s.period ? usageRows(s) : ""}
</article>`;
}

function invoicesTable(o: PortalOverview): string {
  if (o.invoices.length === 0) return `<p class="muted">No invoices yet.</p>`;
  const rows = o.invoices
    .map(
      (i) => `<tr data-invoice="${e(i.id)}">${td("Invoice", e(i.id))}
${td("Period", `${e(day(i.period.start))} – ${e(day(i.period.end))}`)}
${td("Total", e(money(i.total, i.currency)), "num")}${td("Due", e(money(i.amount_due, i.currency)), "num")}
${td("Status", e(i.status))}</tr>`,
    )
    .join("");
  return `<table><thead><tr><th>Invoice</th><th>Period</th><th>Total</th><th>Due</th><th>Status</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function keysTable(o: PortalOverview): string {
  if (o.api_keys.length === 0) return `<p class="muted">No API keys.</p>`;
  const rows = o.api_keys
    .map((k) => {
      const quota = k.quota
        ? `${qty(k.quota_used?.used ?? "0")} of ${qty(k.quota.limit)} ${e(k.quota.metric)} a ${e(k.quota.period)}${e(percent(k.quota_used?.percent_used ?? null))}`
        : "No quota";
      const usage =
        k.usage.metrics.length === 0
          ? "—"
          : k.usage.metrics.map((m) => `${qty(m.units)} ${e(m.metric)}`).join("<br>");
      return `<tr data-key="${e(k.id)}">${td("Key", `<code>sk_live_${e(k.prefix)}…</code>${k.name ? `<br>${e(k.name)}` : ""}`)}
${td("Created", e(day(k.created_at)))}${td("State", k.revoked_at ? `Revoked ${e(day(k.revoked_at))}` : "Active")}
${td("Quota", quota)}${td("Usage this period", usage)}</tr>`;
    })
    .join("");
  return `<table><thead><tr><th>Key</th><th>Created</th><th>State</th><th>Quota</th><th>Usage this period</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const ADVISOR_SECTION = `<section id="advisor" aria-labelledby="advisor-h"><h2 id="advisor-h">Usage Advisor</h2>
<button id="analyze" type="button">✨ Analyze my usage</button><p id="advisor-status" role="status"></p>
<div id="advice" hidden><p id="verdict"></p><p id="advice-text"></p><p id="advice-method" class="method"></p><ul id="advice-list"></ul></div></section>`;

// The advisor: posts for the advice and writes it with textContent only (plan, endpoint and model
// names are operator or customer input).
const ADVISOR_SCRIPT = `(()=>{const b=document.getElementById("analyze"),s=document.getElementById("advisor-status"),box=document.getElementById("advice");
const W={stay:"Stay on your plan",upgrade:"Consider another plan",optimize:"Trim your heaviest usage"};
b.addEventListener("click",async()=>{b.disabled=true;s.textContent="Analyzing…";let r,j;
try{r=await fetch("/portal/api/advisor",{method:"POST",headers:{"content-type":"application/json"},body:"{}"});j=await r.json()}catch{s.textContent="The analysis did not load; try again.";b.disabled=false;return}
b.disabled=false;if(!r.ok){s.textContent=j.detail||j.title||"The analysis failed.";return}
s.textContent="";document.getElementById("verdict").textContent=W[j.verdict]||j.verdict;box.dataset.verdict=j.verdict;
const t=document.getElementById("advice-text");t.textContent=j.narrative.text;t.dataset.source=j.narrative.source;
document.getElementById("advice-method").textContent=j.method;const l=document.getElementById("advice-list");l.replaceChildren();
const items=j.verdict==="optimize"?j.top_spend.map(x=>x.kind+" "+x.name+": "+x.amount+" "+j.currency):j.verdict==="upgrade"?[j.current,...j.alternatives].map(p=>p.name+": "+p.cost+" "+j.currency+(p.plan_id===j.current.plan_id?" (your plan)":"")):[];
for(const x of items){const li=document.createElement("li");li.textContent=x;l.append(li)}box.hidden=false})})();`;

// The refresh: this period's usage figures from GET /portal/api/overview every minute and when
// the tab comes back into view, written into the rendered rows as the server formats them
// (grouped digits, percents to the hundredth). A session that has ended reloads into the
// expired page, so an open portal stops showing figures at expiry or revocation too.
const REFRESH_SCRIPT = `(()=>{const g=(d)=>{const[i,f]=d.split(".");return i.replace(/\\B(?=(\\d{3})+(?!\\d))/g,",")+(f===undefined?"":"."+f)};
const pc=(p)=>p===null?"":" ("+p.toFixed(2)+" %)";
async function refresh(){let r;try{r=await fetch("/portal/api/overview",{headers:{accept:"application/json"}})}catch{return}
if(r.status===401){location.reload();return}if(!r.ok)return;const o=await r.json();
for(const s of o.subscriptions){const card=document.querySelector('article[data-subscription="'+CSS.escape(s.id)+'"]');if(!card)continue;
for(const u of s.usage){const row=card.querySelector('tr[data-metric="'+CSS.escape(u.metric)+'"]');if(!row)continue;
const set=(label,text)=>{const c=row.querySelector('td[data-label="'+label+'"]');if(c)c.textContent=text};
set("Used",g(u.used));set("Included",(u.included===null?"—":g(u.included))+pc(u.percent_of_included));
set("Projected at period end",g(u.projection)+pc(u.projection_percent_of_included));
const m=row.querySelector("meter");if(m&&u.percent_of_included!==null)m.value=Math.min(u.percent_of_included,100)}
const ms=[...new Set(s.usage.map((u)=>u.method.description))];card.querySelectorAll(".method").forEach((p,i)=>{if(ms[i])p.textContent=ms[i]})}
document.getElementById("as-of").textContent=o.generated_at.slice(0,16).replace("T"," ")}
setInterval(refresh,60000);document.addEventListener("visibilitychange",()=>{if(document.visibilityState==="visible")refresh()})})();`;

/** How to send a first call: with the customer's own key, as the gateway in front of the API
 * reads it (examples/hono-gateway, @aforo/client's identify: "api_key"). */
function gettingStarted(o: PortalPage["overview"]): string {
  const key = o.api_keys.find((k) => k.revoked_at === null);
  const shown = `sk_live_${key ? `${key.prefix}…` : "…"}`;
  return `<section id="getting-started" aria-labelledby="start-h"><h2 id="start-h">Getting started</h2>
<p>${key ? `Send every call with your key <code>${e(shown)}</code>${key.name ? ` (${e(key.name)})` : ""}` : `Ask ${e(o.brand.name)} for an API key, then send every call with it`} in the <code>Authorization</code> header (or <code>x-api-key</code>); each call is counted for ${e(o.customer.name)} and shows here within seconds.</p>
<pre><code>curl -H "Authorization: Bearer ${e(shown)}" https://&lt;${e(o.brand.name)}'s API&gt;/…</code></pre></section>`;
}

const CHAT_SECTION = `<section id="assistant" aria-labelledby="chat-h"><h2 id="chat-h">Ask about your account</h2>
<ol id="chat-log" aria-live="polite"></ol>
<form id="chat"><label for="question">Your question</label>
<input id="question" name="question" maxlength="500" autocomplete="off" placeholder="How much of my key's quota is used?">
<button type="submit">Ask</button></form></section>`;

// The chat: each answer is written with textContent, its links only to this portal's sections or
// the storefront (paths starting with /portal or /s/), never anywhere a reply could name.
const CHAT_SCRIPT = `(()=>{const f=document.getElementById("chat"),q=document.getElementById("question"),log=document.getElementById("chat-log");const history=[];
const add=(role,text,links,source)=>{const li=document.createElement("li");li.className=role;const p=document.createElement("p");p.textContent=text;li.append(p);
if(source)li.dataset.source=source;for(const l of links||[]){if(!(l.href.startsWith("/portal")||l.href.startsWith("/s/")))continue;const a=document.createElement("a");a.href=l.href;a.textContent=l.label;li.append(a," ")}log.append(li);li.scrollIntoView({block:"nearest"})};
f.addEventListener("submit",async(ev)=>{ev.preventDefault();const question=q.value.trim();if(!question)return;q.value="";add("user",question);
let r,j;try{r=await fetch("/portal/api/onboarding",{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify({question,history:history.slice(-6)})});j=await r.json()}catch{add("assistant","The answer did not load; try again.");return}
if(r.status===401){location.reload();return}if(!r.ok){add("assistant",j.detail||j.title||"That did not work.");return}
add("assistant",j.text,j.links,j.source);history.push({role:"user",text:question},{role:"assistant",text:j.text})})})();`;

/** The page and the Content-Security-Policy it must be served with. */
export function renderPortal(page: PortalPage): { html: string; csp: string } {
  const { overview: o, brand, nonce } = page;
  const colors = palette(brand);
  const fonts = fontsOf(brand);
  const logo = brand?.logo_url && SAFE_IMAGE.test(brand.logo_url) ? brand.logo_url : null;
  const favicon =
    brand?.favicon_url && SAFE_IMAGE.test(brand.favicon_url) ? brand.favicon_url : null;
  const css = `:root{--primary:${colors.primary};--on-primary:${inkOn(colors.primary)};--accent:${colors.accent};--bg:${colors.background};--text:${colors.text}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--text);font:16px/1.5 ${fonts.body}}
h1,h2,h3{font-family:${fonts.heading};line-height:1.2}main{max-width:1100px;margin:0 auto;padding:0 20px 48px}
header{display:flex;align-items:center;gap:12px;max-width:1100px;margin:0 auto;padding:20px}header img{height:40px;width:auto}
header strong{font-size:20px}header .who{margin-left:auto;text-align:right;font-size:14px;opacity:.8}
h1{font-size:clamp(24px,4vw,36px);margin:16px 0 4px}section{margin-top:32px}
.card{border:1px solid color-mix(in srgb,var(--text) 18%,transparent);border-radius:12px;padding:20px;margin-top:16px}
.card h3{margin:0 0 4px}.price{font-size:20px;font-weight:700;color:var(--primary);margin:0}.card ul{padding-left:18px;margin:8px 0}
.badge{font-size:12px;font-weight:600;padding:2px 8px;border-radius:999px;background:color-mix(in srgb,var(--accent) 15%,transparent);color:var(--accent);vertical-align:middle}
.muted,.method{opacity:.75;font-size:14px}.method{margin:6px 0 0}
table{border-collapse:collapse;width:100%;margin-top:12px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid color-mix(in srgb,var(--text) 15%,transparent);vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}th small{font-weight:400;opacity:.7}
meter{width:120px;height:12px;margin-top:6px}
#analyze{font:inherit;font-weight:700;padding:10px 16px;border:0;border-radius:8px;background:var(--primary);color:var(--on-primary);cursor:pointer}#verdict{font-size:18px;font-weight:700;margin-bottom:4px}
pre{overflow-x:auto;padding:12px;border-radius:8px;background:color-mix(in srgb,var(--text) 6%,transparent)}
#chat-log{list-style:none;padding:0;margin:12px 0;display:grid;gap:8px}#chat-log li{padding:10px 14px;border-radius:10px;max-width:46rem}
#chat-log li.user{justify-self:end;background:color-mix(in srgb,var(--primary) 14%,transparent)}#chat-log li.assistant{border:1px solid color-mix(in srgb,var(--text) 15%,transparent)}
#chat-log p{margin:0 0 4px}#chat{display:flex;gap:8px;flex-wrap:wrap;align-items:center}#chat label{width:100%;font-weight:600}
#question{flex:1;min-width:200px;font:inherit;padding:8px 10px;border-radius:8px;border:1px solid color-mix(in srgb,var(--text) 30%,transparent)}
#chat button{font:inherit;font-weight:700;padding:8px 16px;border:0;border-radius:8px;background:var(--primary);color:var(--on-primary);cursor:pointer}
footer{max-width:1100px;margin:0 auto;padding:20px;font-size:13px;opacity:.7}
@media (max-width:600px){header{padding:16px;flex-wrap:wrap}header .who{margin-left:0;text-align:left;width:100%}main{padding:0 12px 32px}.card{padding:14px}
thead{display:none}table,tbody,tr,th,td{display:block;width:100%}tr{border-bottom:1px solid color-mix(in srgb,var(--text) 15%,transparent);padding:8px 0}
th,td,td.num{border:0;padding:3px 0;text-align:left;white-space:normal}td[data-label]::before{content:attr(data-label) ": ";font-weight:600;opacity:.75}}`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>${e(`${o.brand.name} — your account`)}</title>
${favicon ? `<link rel="icon" href="${e(favicon)}">` : ""}
<style nonce="${nonce}">${css}</style>
</head><body>
<header>${brandHeader(o.brand.name, logo)}
<span class="who">Signed in as ${e(o.customer.name)}<br>until ${e(new Date(page.expiresAt).toISOString().slice(0, 16).replace("T", " "))} UTC</span></header>
<main>
<h1>Your account</h1>
<p class="muted">Figures as of <span id="as-of">${e(o.generated_at.slice(0, 16).replace("T", " "))}</span> UTC.</p>
<section id="usage" aria-labelledby="subs-h"><h2 id="subs-h">Subscriptions and usage</h2>
${o.subscriptions.length === 0 ? `<p class="muted">No subscriptions.</p>` : o.subscriptions.map(subscriptionCard).join("")}</section>
${o.subscriptions.some((sub) => sub.period !== null) ? ADVISOR_SECTION : ""}
<section id="invoices" aria-labelledby="inv-h"><h2 id="inv-h">Invoices</h2>${invoicesTable(o)}</section>
<section id="keys" aria-labelledby="keys-h"><h2 id="keys-h">API keys</h2>${keysTable(o)}</section>
${gettingStarted(o)}
${CHAT_SECTION}
</main>
<footer>Usage and invoices computed by Aforo for ${e(o.brand.name)}.</footer>
${
  fonts.googleHref
    ? `<script nonce="${nonce}">document.head.append(Object.assign(document.createElement("link"),{rel:"stylesheet",href:${JSON.stringify(fonts.googleHref).replace(/</g, "\\u003c")}}))</script>`
    : ""
}
${o.subscriptions.some((sub) => sub.period !== null) ? `<script nonce="${nonce}">${ADVISOR_SCRIPT}</script>` : ""}
<script nonce="${nonce}">${REFRESH_SCRIPT}</script>
<script nonce="${nonce}">${CHAT_SCRIPT}</script>
</body></html>`;
  return { html, csp: storefrontCsp(nonce, fonts.googleHref !== null) };
}

/** The one page every link that does not open shows: no reason, nothing of the tenant. */
export function renderPortalClosed(nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>This link has expired</title><meta name="robots" content="noindex">
<style nonce="${nonce}">body{font:16px/1.5 system-ui,sans-serif;max-width:560px;margin:80px auto;padding:0 20px;color:#1f2937}</style>
</head><body><h1>This link has expired</h1><p>Ask for a new link to your account.</p></body></html>`;
}
