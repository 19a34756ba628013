import type { BrandCopy } from "../../contracts/storefront";
import { numbersGrounded } from "../copilot/signal-explainer";

// The storefront's words taken from the page itself, without a model: the hero line from the
// page's main heading, the meta description from the page's own description, and social proof
// from its testimonials and its "trusted by" logos. The same page always gives the same copy.

/** What the HTML pass collected of a page's text (workers/storefront/brand.ts). */
export interface PageText {
  title: string | null;
  h1: string[];
  paragraphs: string[];
  metaDescription: string | null;
  og: { title?: string; description?: string; site_name?: string };
  applicationName: string | null;
  /** Quotes in blockquotes or testimonial sections. */
  testimonials: string[];
  /** Alt text of the logos in a "trusted by" / customers section. */
  trustedBy: string[];
}

export const clean = (s: string) => s.replace(/\s+/g, " ").trim();

/** At most `max` characters, cut at a word boundary with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.–—-]+$/, "")}…`;
}

/** A title's parts: `Acme — Billing for AI | Home` → [Acme, Billing for AI, Home]. */
const titleParts = (title: string) =>
  title
    .split(/\s+[|–—·-]\s+|:\s+/)
    .map(clean)
    .filter(Boolean);

/** The company's name: og:site_name, application-name, the logo's alt text, else the title's
 * shortest part (titles put the name beside a tagline). */
export function siteName(page: PageText, logoAlt: string | null): string | null {
  const named = page.og.site_name ?? page.applicationName ?? logoAlt?.replace(/\s+logo$/i, "");
  if (named && clean(named)) return truncate(clean(named), 80);
  const parts = page.title ? titleParts(page.title) : [];
  if (parts.length === 0) return null;
  const shortest = parts.reduce((a, b) => (b.length < a.length ? b : a));
  return truncate(shortest, 80);
}

export function description(page: PageText): string | null {
  const own =
    page.metaDescription ?? page.og.description ?? page.paragraphs.find((p) => p.length >= 40);
  return own && clean(own) ? truncate(clean(own), 300) : null;
}

export function pageCopy(page: PageText): BrandCopy {
  const heroSource =
    page.h1.find((h) => clean(h)) ??
    page.og.title ??
    (page.title ? titleParts(page.title).at(-1) : undefined);
  const meta = description(page);
  const socialProof = page.testimonials
    .map(clean)
    .filter((t) => t.length >= 12)
    .slice(0, 3)
    .map((t) => truncate(t, 240));
  const logos = [
    ...new Set(page.trustedBy.map((a) => clean(a.replace(/\s+logo$/i, ""))).filter(Boolean)),
  ];
  if (logos.length > 0) socialProof.push(`Trusted by ${logos.slice(0, 6).join(", ")}`);
  return {
    hero: heroSource && clean(heroSource) ? truncate(clean(heroSource), 120) : null,
    meta_description: meta ? truncate(meta, 160) : null,
    social_proof: socialProof,
    source: "page",
  };
}

/** The page's words as the model is given them (quoted as untrusted data by the AI platform):
 * the same text the page copy is drawn from, one item a line. */
export function pageTextForModel(page: PageText): string {
  const lines = [
    page.title && `Title: ${page.title}`,
    page.og.site_name && `Site name: ${page.og.site_name}`,
    page.metaDescription && `Meta description: ${page.metaDescription}`,
    page.og.description && `Social description: ${page.og.description}`,
    ...page.h1.map((h) => `Heading: ${h}`),
    ...page.paragraphs.map((p) => `Paragraph: ${p}`),
    ...page.testimonials.map((t) => `Testimonial: ${t}`),
  ];
  return lines.filter((l): l is string => Boolean(l)).join("\n");
}

/**
 * The model's answer (`{"hero": "…", "meta_description": "…"}`, perhaps fenced) as the copy, or
 * the page's copy with the reason it was kept: an answer that does not parse, is empty, or
 * carries a number the page does not (a made-up "10,000 teams") is dropped whole. Social proof
 * is never the model's: quotes are the page's verbatim.
 */
export function modelCopy(
  answer: string,
  pageText: string,
  fromPage: BrandCopy,
): { copy: BrandCopy; note: string | null } {
  const keep = (note: string) => ({ copy: fromPage, note });
  const json = /\{[\s\S]*\}/.exec(answer)?.[0];
  let parsed: unknown;
  try {
    parsed = json ? JSON.parse(json) : null;
  } catch {
    parsed = null;
  }
  const field = (key: string) => {
    const v = (parsed as Record<string, unknown> | null)?.[key];
    return typeof v === "string" && clean(v) ? clean(v) : null;
  };
  const hero = field("hero");
  const meta = field("meta_description");
  if (!hero || !meta)
    return keep("The model's copy was not usable, so the page's own words are used.");
  if (!numbersGrounded(`${hero} ${meta}`, pageText)) {
    return keep(
      "The model's copy carried a number the page does not, so the page's own words are used.",
    );
  }
  return {
    copy: {
      hero: truncate(hero, 120),
      meta_description: truncate(meta, 160),
      social_proof: fromPage.social_proof,
      source: "ai",
    },
    note: null,
  };
}
