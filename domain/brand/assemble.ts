import type { BrandColor, BrandFont } from "../../contracts/storefront";
import { brandColors, distance, isNeutral, parseColor, rankByFrequency } from "./colors";
import {
  colorUses,
  customProperties,
  googleFontFamilies,
  parseRules,
  type Rule,
  roleColorsFromProperties,
  typography,
} from "./css";

// From what a page and its stylesheets say to the brand's colours (by role) and fonts. Each role
// takes the most explicit evidence first:
//
//   primary     a `--primary`/`--brand` custom property → `<meta name="theme-color">` → the
//               most used chromatic colour of the CSS → the logo's dominant chromatic colour
//   accent      an `--accent`/`--secondary` property → the next distinct chromatic colour of
//               the CSS, then of the logo
//   background  a `--background`/`--bg` property → the body's background
//   text        a `--text`/`--foreground` property → the body's colour
//
// Fonts: the body's and the headings' font-family (the first named family); when a stylesheet
// sets neither, the Google Fonts link's families stand in (the first for the body, a second
// for headings). A family is "google" when a Google Fonts link loads it, "self-hosted" when an
// `@font-face` declares it, else "local".

export interface StyleSources {
  /** Inline `<style>` blocks and linked stylesheets, in document order. */
  stylesheets: string[];
  themeColor: string | null;
  googleFontLinks: string[];
}

export interface StyleFacts {
  rules: Rule[];
  props: Map<string, string>;
  googleFamilies: string[];
}

export function readStyles(sources: StyleSources): StyleFacts {
  const rules = sources.stylesheets.flatMap(parseRules);
  const googleFamilies = [...new Set(sources.googleFontLinks.flatMap(googleFontFamilies))];
  return { rules, props: customProperties(rules), googleFamilies };
}

/** True when the CSS (or theme-color) already names a brand colour, so the logo image need not
 * be fetched and decoded. */
export function hasBrandColor(facts: StyleFacts, themeColor: string | null): boolean {
  if (roleColorsFromProperties(facts.props).primary) return true;
  const theme = themeColor ? parseColor(themeColor) : null;
  if (theme && !isNeutral(theme)) return true;
  return brandColors(rankByFrequency(colorUses(facts.rules, facts.props)), 1).length > 0;
}

export function colorRoles(
  facts: StyleFacts,
  themeColor: string | null,
  logoColors: readonly string[],
): BrandColor[] {
  const named = roleColorsFromProperties(facts.props);
  const ranked = rankByFrequency(colorUses(facts.rules, facts.props));
  const fromCss = brandColors(ranked, 3);
  const fromLogo = brandColors(
    logoColors.map((hex) => ({ hex })),
    3,
  );
  const theme = themeColor ? parseColor(themeColor) : null;
  // Many sites set theme-color to their white or black page chrome: that is not the brand.
  const themeBrand = theme && !isNeutral(theme) ? theme : null;
  const primary = named.primary ?? themeBrand ?? fromCss[0] ?? fromLogo[0] ?? null;
  const accent =
    named.accent ??
    [...fromCss, ...fromLogo].find((hex) => primary === null || distance(hex, primary) >= 60) ??
    null;
  const { bodyBackground, bodyColor } = typography(facts.rules, facts.props);
  const out: BrandColor[] = [];
  if (primary) out.push({ hex: primary, role: "primary" });
  if (accent && accent !== primary) out.push({ hex: accent, role: "accent" });
  const background = named.background ?? bodyBackground;
  if (background) out.push({ hex: background, role: "background" });
  const text = named.text ?? bodyColor;
  if (text) out.push({ hex: text, role: "text" });
  return out;
}

export function fontRoles(facts: StyleFacts): BrandFont[] {
  const { bodyFamily, headingFamily, fontFaces } = typography(facts.rules, facts.props);
  const source = (family: string): BrandFont["source"] => {
    const lower = family.toLowerCase();
    if (facts.googleFamilies.some((g) => g.toLowerCase() === lower)) return "google";
    if (fontFaces.some((f) => f.toLowerCase() === lower)) return "self-hosted";
    return "local";
  };
  const [firstGoogle, secondGoogle] = facts.googleFamilies;
  const body = bodyFamily ?? firstGoogle ?? fontFaces[0] ?? null;
  const heading = headingFamily ?? (bodyFamily ? null : (secondGoogle ?? fontFaces[1] ?? null));
  const fonts: BrandFont[] = [];
  if (body) fonts.push({ family: body, role: "body", source: source(body) });
  if (heading && heading !== body)
    fonts.push({ family: heading, role: "heading", source: source(heading) });
  return fonts;
}
