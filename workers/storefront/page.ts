import type { Brand } from "../../contracts/storefront";
import {
  INTEGRATION_DEPTHS,
  SEAT_METRIC,
  USAGE_LEVELS_NAMES,
} from "../../domain/storefront/comparator";
import { type PlanInWords, plural } from "../../domain/storefront/words";

// The public storefront page (/s/:slug, issue 19 §2): one server-rendered HTML document, no SPA
// bundle — a few KB of CSS from the brand's colours and fonts and a small script for the Plan
// Comparator form. Everything the tenant typed (brand name, copy, plan and metric names, URLs)
// is operator input shown to the public, so every one is escaped, colours must be `#rrggbb`,
// font families plain names, and images https (or data:image) only. The Content-Security-Policy
// (storefrontCsp) lets in only this page's own nonce-tagged style and script, Google Fonts when
// the brand uses one, and fetches to this origin.
// The brand helpers (palette, fontsOf, inkOn, SAFE_IMAGE, escapeHtml) also brand the customer
// portal (workers/portal/page.ts), so both pages read a brand the same way.

export interface StorefrontPlan {
  id: string;
  name: string;
  currency: string;
  period: "month" | "year";
  words: PlanInWords;
  /** The flat fee of a period, a decimal string (JSON-LD's Offer price); null without one. */
  flat_price: string | null;
}

/** One product the storefront sells: its published plans and the metrics they price. */
export interface StorefrontProduct {
  id: string;
  name: string;
  plans: StorefrontPlan[];
  /** Metrics the plans price (seats aside), for the comparator's quantities. */
  metrics: Array<{ id: string; unit: string }>;
}

export interface StorefrontPage {
  slug: string;
  tenantName: string;
  brand: Brand | null;
  /** The products with published plans. With several, each is a section of its own and the
   * comparator asks which one; with one, the page reads as a single list of plans. */
  products: StorefrontProduct[];
  /** The page's own URL, for the canonical link and og:url. */
  url: string;
  nonce: string;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);

const HEX = /^#[0-9a-fA-F]{6}$/;
const FONT_FAMILY = /^[A-Za-z0-9][A-Za-z0-9 -]{0,63}$/;
export const SAFE_IMAGE =
  /^(https:\/\/[^\s"'<>]+|data:image\/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+)$/;

const NEUTRAL = { primary: "#2f4b7c", accent: "#0f766e", background: "#ffffff", text: "#1f2937" };

/** Relative luminance (WCAG) of `#rrggbb`. */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Black or white, whichever reads better on `hex`. */
export const inkOn = (hex: string) => (luminance(hex) > 0.4 ? "#111111" : "#ffffff");

export function palette(brand: Brand | null) {
  const colors = { ...NEUTRAL };
  for (const c of brand?.colors ?? []) {
    if (HEX.test(c.hex) && c.role in colors) colors[c.role] = c.hex.toLowerCase();
  }
  return colors;
}

export function fontsOf(brand: Brand | null) {
  const pick = (role: "body" | "heading") =>
    brand?.fonts.find((f) => f.role === role && FONT_FAMILY.test(f.family)) ?? null;
  const body = pick("body");
  const heading = pick("heading") ?? body;
  const google = [...new Set([body, heading].filter((f) => f?.source === "google"))].map(
    (f) => f?.family ?? "",
  );
  const stack = (f: typeof body, fallback: string) => (f ? `"${f.family}", ${fallback}` : fallback);
  return {
    body: stack(body, "system-ui, -apple-system, 'Segoe UI', sans-serif"),
    heading: stack(heading, "system-ui, -apple-system, 'Segoe UI', sans-serif"),
    googleHref:
      google.length === 0
        ? null
        : `https://fonts.googleapis.com/css2?${google
            .map((family) => `family=${family.replaceAll(" ", "+")}:wght@400;700`)
            .join("&")}&display=swap`,
  };
}

/** The page's Content-Security-Policy: its nonce-tagged style and script, Google Fonts when the
 * brand uses one, images over https, fetches to this origin only. */
export function storefrontCsp(nonce: string, googleFonts: boolean): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'${googleFonts ? " https://fonts.googleapis.com" : ""}`,
    ...(googleFonts ? ["font-src https://fonts.gstatic.com"] : []),
    "img-src https: data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** JSON inside a <script> element: `<` escaped so no string in it can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

function planCard(p: StorefrontPlan): string {
  const lines = p.words.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("");
  return `<article class="plan" data-plan="${escapeHtml(p.id)}">
<h3>${escapeHtml(p.name)}</h3>
<p class="price">${escapeHtml(p.words.headline)}</p>
${p.words.trial ? `<p class="trial">${escapeHtml(p.words.trial)}</p>` : ""}
<ul>${lines}</ul>
</article>`;
}

/** The own-numbers inputs of one product. Only the chosen product's set is enabled, so the
 * form posts that product's metrics only; the others wait hidden and disabled. */
function quantitiesOf(product: StorefrontProduct, chosen: boolean, several: boolean): string {
  const inputs = product.metrics
    .filter((m) => m.id !== SEAT_METRIC)
    .map(
      (
        m,
      ) => `<label>${escapeHtml(plural(m.unit))} a month${plural(m.unit) === m.id ? "" : ` <small>(${escapeHtml(m.id)})</small>`}
<input name="m:${escapeHtml(m.id)}" inputmode="decimal" pattern="\\d+(\\.\\d{1,6})?" placeholder="from the level"></label>`,
    )
    .join("");
  if (!inputs) return "";
  const legend = several
    ? `Or your own numbers for ${escapeHtml(product.name)}`
    : "Or your own numbers";
  return `<fieldset data-product="${escapeHtml(product.id)}"${chosen ? "" : " hidden disabled"}><legend>${legend}</legend>${inputs}</fieldset>`;
}

function comparatorForm(page: StorefrontPage): string {
  const levels = USAGE_LEVELS_NAMES.map(
    (l, i) =>
      `<option value="${l}"${i === 1 ? " selected" : ""}>${l[0]?.toUpperCase()}${l.slice(1)}</option>`,
  ).join("");
  const depthWords: Record<(typeof INTEGRATION_DEPTHS)[number], string> = {
    evaluate: "Evaluating",
    production: "In production",
    mission_critical: "Mission-critical",
  };
  const depths = INTEGRATION_DEPTHS.map(
    (d) => `<option value="${d}"${d === "production" ? " selected" : ""}>${depthWords[d]}</option>`,
  ).join("");
  const several = page.products.length > 1;
  const products = page.products
    .map(
      (p, i) =>
        `<option value="${escapeHtml(p.id)}"${i === 0 ? " selected" : ""}>${escapeHtml(p.name)}</option>`,
    )
    .join("");
  const quantities = page.products.map((p, i) => quantitiesOf(p, i === 0, several)).join("");
  return `<form id="compare" data-endpoint="/v1/storefront/${escapeHtml(page.slug)}/compare">
${several ? `<label>Product <select name="product">${products}</select></label>` : ""}
<label>Team size <input name="team_size" type="number" min="1" max="100000" value="5" required></label>
<label>Expected usage <select name="level">${levels}</select></label>
<label>Integration depth <select name="depth">${depths}</select></label>
${quantities}
<button type="submit">Compare plans</button>
<p id="compare-status" role="status"></p>
</form>
<div id="results" hidden>
<p id="recommendation"></p>
<div class="scroll"><table><thead><tr><th>Plan</th><th>Per month</th><th>Fits</th><th>Why</th></tr></thead><tbody></tbody></table></div>
<p id="narrative"></p>
</div>`;
}

// The comparator: posts the three answers (and the product, when there is a choice), then draws
// the table with textContent only (the answer carries plan names, which are operator input).
// Choosing another product swaps in its own-numbers inputs and clears the last product's table.
const SCRIPT = `(()=>{const f=document.getElementById("compare"),s=document.getElementById("compare-status"),r=document.getElementById("results"),ps=f.elements.namedItem("product");
if(ps)ps.addEventListener("change",()=>{for(const fs of f.querySelectorAll("fieldset[data-product]")){const off=fs.dataset.product!==ps.value;fs.hidden=off;fs.disabled=off}r.hidden=true;s.textContent=""});
f.addEventListener("submit",async(e)=>{e.preventDefault();const d=new FormData(f),u={};let own=false;
for(const[k,v]of d){if(k.startsWith("m:")&&String(v).trim()!==""){u[k.slice(2)]=String(v).trim();own=true}}
const body={team_size:Number(d.get("team_size")),expected_usage:own?u:d.get("level"),integration_depth:d.get("depth")};if(ps)body.product=ps.value;
s.textContent="Comparing…";let res,j;
try{res=await fetch(f.dataset.endpoint,{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify(body)});j=await res.json()}catch{s.textContent="The comparison did not load; try again.";return}
if(!res.ok){s.textContent=j.detail||j.title||"The comparison failed.";return}
s.textContent="";const tb=r.querySelector("tbody");tb.replaceChildren();
for(const p of j.plans){const tr=document.createElement("tr");if(p.id===j.recommendation.plan_id)tr.className="rec";
for(const t of[p.name,p.monthly_in_words,p.fits?"Yes":"No",p.why]){const td=document.createElement("td");td.textContent=t;tr.append(td)}tb.append(tr)}
document.getElementById("recommendation").textContent=j.recommendation.reason;
const n=document.getElementById("narrative");n.textContent=j.narrative.text;n.dataset.source=j.narrative.source;
r.hidden=false})})();`;

/** The words an SVG logo draws as text (its <text> and <tspan> content), lowercased with
 * whitespace collapsed; empty for any other image. Only a data: URL can be read here: an https
 * SVG is not fetched to render the page. */
function logoText(logo: string): string {
  const prefix = "data:image/svg+xml;base64,";
  if (!logo.startsWith(prefix)) return "";
  let svg: string;
  try {
    svg = new TextDecoder().decode(
      Uint8Array.from(atob(logo.slice(prefix.length)), (ch) => ch.charCodeAt(0)),
    );
  } catch {
    return "";
  }
  const texts = [...svg.matchAll(/<text\b[^>]*>([\s\S]*?)<\/text>/gi)].map((m) =>
    (m[1] ?? "").replace(/<[^>]*>/g, " "),
  );
  return unescapeXml(texts.join(" ")).replace(/\s+/g, " ").trim().toLowerCase();
}

const XML_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Text as XML escaped it (Brand Auto-Extract escapes `&` and `<` in an inline SVG's text). */
const unescapeXml = (text: string) =>
  text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] !== "#") return XML_ENTITIES[ref.toLowerCase()] ?? whole;
    const code =
      ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });

/** The header: the logo and the name, each said once. A wordmark (an SVG that draws the name)
 * is the name: its alt text carries it and no second copy is printed beside it. Any other logo
 * sits beside the printed name as decoration (empty alt), so a screen reader hears the name
 * once, not "Acme logo, Acme". */
export function brandHeader(name: string, logo: string | null): string {
  if (!logo) return `<strong>${escapeHtml(name)}</strong>`;
  const spoken = name.replace(/\s+/g, " ").trim().toLowerCase();
  const wordmark = spoken !== "" && logoText(logo).includes(spoken);
  return wordmark
    ? `<img src="${escapeHtml(logo)}" alt="${escapeHtml(name)}">`
    : `<img src="${escapeHtml(logo)}" alt=""><strong>${escapeHtml(name)}</strong>`;
}

/** The plans: one list for one product; with several, a section per product under its name. */
function plansOf(products: readonly StorefrontProduct[]): string {
  if (products.length === 0) {
    return `<section aria-labelledby="plans-h"><h2 id="plans-h">Plans</h2><p>No plans are published yet.</p></section>`;
  }
  if (products.length === 1) {
    const plans = products[0]?.plans ?? [];
    return `<section aria-labelledby="plans-h"><h2 id="plans-h">Plans</h2><div class="plans">${plans.map(planCard).join("")}</div></section>`;
  }
  return products
    .map(
      (p, i) =>
        `<section class="product" data-product="${escapeHtml(p.id)}" aria-labelledby="product-${i}-h"><h2 id="product-${i}-h">${escapeHtml(p.name)}</h2><div class="plans">${p.plans.map(planCard).join("")}</div></section>`,
    )
    .join("\n");
}

/** The page and the Content-Security-Policy it must be served with. */
export function renderStorefront(page: StorefrontPage): { html: string; csp: string } {
  const { brand, nonce } = page;
  const colors = palette(brand);
  const fonts = fontsOf(brand);
  const name = brand?.name?.trim() || page.tenantName;
  const description =
    brand?.copy.meta_description?.trim() ||
    brand?.description?.trim() ||
    `${name}: plans and prices, and which plan fits your usage.`;
  const hero = brand?.copy.hero?.trim() || `Plans and pricing for ${name}`;
  const logo = brand?.logo_url && SAFE_IMAGE.test(brand.logo_url) ? brand.logo_url : null;
  const favicon =
    brand?.favicon_url && SAFE_IMAGE.test(brand.favicon_url) ? brand.favicon_url : null;
  const proof = (brand?.copy.social_proof ?? []).slice(0, 3);
  const title = `${name} — plans and pricing`;
  const allPlans = page.products.flatMap((p) => p.plans);
  const jsonLd = {
    "@context": "https://schema.org",
    "@type": "Product",
    name,
    description,
    ...(logo?.startsWith("https:") ? { image: logo } : {}),
    offers: allPlans
      .filter((p) => p.flat_price !== null)
      .map((p) => ({
        "@type": "Offer",
        name: p.name,
        description: p.words.summary,
        price: p.flat_price,
        priceCurrency: p.currency,
        url: page.url,
      })),
  };
  const css = `:root{--primary:${colors.primary};--on-primary:${inkOn(colors.primary)};--accent:${colors.accent};--bg:${colors.background};--text:${colors.text}}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--text);font:16px/1.5 ${fonts.body}}
h1,h2,h3{font-family:${fonts.heading};line-height:1.2}main{max-width:1100px;margin:0 auto;padding:0 20px 48px}
header{display:flex;align-items:center;gap:12px;max-width:1100px;margin:0 auto;padding:20px}header img{height:40px;width:auto}
header strong{font-size:20px}.hero h1{font-size:clamp(28px,5vw,44px);margin:24px 0 8px}.hero p{margin:0 0 24px;opacity:.85}
.plans{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:16px}
.plan{border:1px solid color-mix(in srgb,var(--text) 18%,transparent);border-radius:12px;padding:20px}
.plan h3{margin:0 0 4px}.price{font-size:22px;font-weight:700;color:var(--primary);margin:0}.trial{margin:4px 0 0;color:var(--accent);font-weight:600}
.plan ul{padding-left:18px;margin:12px 0 0}.plan li{margin:4px 0}
section{margin-top:40px}#compare{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;align-items:end}
label{display:grid;gap:4px;font-weight:600}input,select,button{font:inherit;padding:8px 10px;border-radius:8px;border:1px solid color-mix(in srgb,var(--text) 30%,transparent);background:var(--bg);color:var(--text)}
fieldset:not([hidden]){grid-column:1/-1;display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;border:1px dashed color-mix(in srgb,var(--text) 25%,transparent);border-radius:8px}
button{background:var(--primary);color:var(--on-primary);border:0;font-weight:700;cursor:pointer}
#compare-status{grid-column:1/-1;margin:0}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;margin-top:12px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid color-mix(in srgb,var(--text) 15%,transparent);vertical-align:top}
tr.rec{background:color-mix(in srgb,var(--primary) 12%,transparent);font-weight:600}#recommendation{font-size:18px;font-weight:700}
.proof{opacity:.8;font-style:italic}footer{max-width:1100px;margin:0 auto;padding:20px;font-size:13px;opacity:.7}
@media (max-width:600px){header{padding:16px}.plans{grid-template-columns:1fr}}`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<meta name="description" content="${escapeHtml(description)}">
<link rel="canonical" href="${escapeHtml(page.url)}">
<meta property="og:type" content="website"><meta property="og:title" content="${escapeHtml(title)}">
<meta property="og:description" content="${escapeHtml(description)}"><meta property="og:url" content="${escapeHtml(page.url)}">
${logo?.startsWith("https:") ? `<meta property="og:image" content="${escapeHtml(logo)}">` : ""}
${favicon ? `<link rel="icon" href="${escapeHtml(favicon)}">` : ""}
${fonts.googleHref ? `<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>` : ""}
<style nonce="${nonce}">${css}</style>
<script type="application/ld+json">${scriptJson(jsonLd)}</script>
</head><body>
<header>${brandHeader(name, logo)}</header>
<main>
<div class="hero"><h1>${escapeHtml(hero)}</h1><p>${escapeHtml(description)}</p>
${proof.map((q) => `<p class="proof">${escapeHtml(q)}</p>`).join("")}</div>
${plansOf(page.products)}
${allPlans.length === 0 ? "" : `<section aria-labelledby="compare-h"><h2 id="compare-h">Which plan fits?</h2>${comparatorForm(page)}</section>`}
</main>
<footer>Prices computed by Aforo from ${escapeHtml(name)}'s published plans.</footer>
${
  // Added by script, not a <link> in the head: a stylesheet there holds the first paint until
  // Google answers; the page paints in the fallback face and swaps when the font arrives.
  fonts.googleHref
    ? `<script nonce="${nonce}">document.head.append(Object.assign(document.createElement("link"),{rel:"stylesheet",href:${scriptJson(fonts.googleHref)}}))</script>`
    : ""
}
${allPlans.length === 0 ? "" : `<script nonce="${nonce}">${SCRIPT}</script>`}
</body></html>`;
  return { html, csp: storefrontCsp(nonce, fonts.googleHref !== null) };
}

/** A plain page for an address no storefront has. */
export function renderNotFound(nonce: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Storefront not found</title><meta name="robots" content="noindex">
<style nonce="${nonce}">body{font:16px/1.5 system-ui,sans-serif;max-width:560px;margin:80px auto;padding:0 20px;color:#1f2937}</style>
</head><body><h1>Storefront not found</h1><p>No storefront has this address.</p></body></html>`;
}
