import { colorsIn, parseColor } from "./colors";

// Just enough CSS reading for a brand: the rules (selectors and declarations, through @media
// and @supports), the custom properties, the colours every declaration uses, the `@font-face`
// families and the font-family of body and headings. Not a validating parser: a stylesheet
// that does not parse cleanly still yields what can be read from it.

export interface Declaration {
  property: string;
  value: string;
}

export interface Rule {
  /** The selector list, or `@font-face`. */
  selector: string;
  declarations: Declaration[];
}

const stripComments = (css: string) => css.replace(/\/\*[\s\S]*?(\*\/|$)/g, "");

function declarations(block: string): Declaration[] {
  const out: Declaration[] = [];
  for (const part of block.split(";")) {
    const colon = part.indexOf(":");
    if (colon <= 0) continue;
    const property = part.slice(0, colon).trim();
    const value = part
      .slice(colon + 1)
      .replace(/!important\s*$/i, "")
      .trim();
    if (property && value)
      out.push({ property: property.startsWith("--") ? property : property.toLowerCase(), value });
  }
  return out;
}

/** The index just past the `}` that closes the block opened at `open`. */
function blockEnd(css: string, open: number): number {
  let depth = 0;
  for (let i = open; i < css.length; i++) {
    if (css[i] === "{") depth++;
    else if (css[i] === "}" && --depth === 0) return i + 1;
  }
  return css.length;
}

/** Every style rule, the rules inside conditional at-rules included, and the `@font-face`s. */
export function parseRules(css: string): Rule[] {
  const rules: Rule[] = [];
  const walk = (text: string) => {
    let i = 0;
    while (i < text.length) {
      const open = text.indexOf("{", i);
      if (open < 0) return;
      // A statement at-rule (`@import …;`, `@charset …;`) before the block is not its prelude.
      const prelude = text.slice(i, open).split(";").pop()?.trim() ?? "";
      const end = blockEnd(text, open);
      const body = text.slice(open + 1, end - 1);
      if (/^@(media|supports|layer|container|document)\b/i.test(prelude)) walk(body);
      else if (/^@font-face$/i.test(prelude))
        rules.push({ selector: "@font-face", declarations: declarations(body) });
      else if (!prelude.startsWith("@"))
        rules.push({ selector: prelude, declarations: declarations(body) });
      i = end;
    }
  };
  walk(stripComments(css));
  return rules;
}

/** `--name: value` wherever declared (later declarations win, as the cascade would for the
 * usual `:root` then `[data-theme]` order). */
export function customProperties(rules: readonly Rule[]): Map<string, string> {
  const props = new Map<string, string>();
  for (const rule of rules) {
    for (const d of rule.declarations)
      if (d.property.startsWith("--")) props.set(d.property, d.value);
  }
  return props;
}

/** `var(--a, fallback)` replaced by the property's value (nested up to a few levels). */
export function resolveVars(value: string, props: ReadonlyMap<string, string>, depth = 0): string {
  if (depth > 5 || !value.includes("var(")) return value;
  const replaced = value.replace(
    /var\(\s*(--[\w-]+)\s*(?:,\s*([^()]*))?\)/g,
    (_, name: string, fallback?: string) => props.get(name) ?? fallback ?? "",
  );
  return resolveVars(replaced, props, depth + 1);
}

/** Every colour used by a declaration (custom properties' own definitions excluded: a palette
 * of fifty tokens is not fifty uses), `var()` references resolved. */
export function colorUses(rules: readonly Rule[], props: ReadonlyMap<string, string>): string[] {
  const uses: string[] = [];
  for (const rule of rules) {
    if (rule.selector === "@font-face") continue;
    for (const d of rule.declarations) {
      if (d.property.startsWith("--")) continue;
      uses.push(...colorsIn(resolveVars(d.value, props)));
    }
  }
  return uses;
}

/** Custom properties whose name says what the colour is for, by role. The first name of each
 * list that is set wins. */
const ROLE_PROPERTY: Record<"primary" | "accent" | "background" | "text", RegExp> = {
  primary: /^--(?:[\w-]*-)?(?:primary|brand|main)(?:-color|-colour)?(?:-500|-600)?$/,
  accent: /^--(?:[\w-]*-)?(?:accent|secondary|highlight)(?:-color|-colour)?(?:-500|-600)?$/,
  background: /^--(?:[\w-]*-)?(?:background|bg|surface)(?:-color|-colour)?$/,
  text: /^--(?:[\w-]*-)?(?:text|foreground|fg|ink|body-color)(?:-color|-colour)?$/,
};

export function roleColorsFromProperties(
  props: ReadonlyMap<string, string>,
): Partial<Record<keyof typeof ROLE_PROPERTY, string>> {
  const found: Partial<Record<keyof typeof ROLE_PROPERTY, string>> = {};
  for (const [role, pattern] of Object.entries(ROLE_PROPERTY) as [
    keyof typeof ROLE_PROPERTY,
    RegExp,
  ][]) {
    for (const [name, value] of props) {
      if (!pattern.test(name.toLowerCase())) continue;
      const hex = parseColor(resolveVars(value, props));
      if (hex) {
        found[role] = hex;
        break;
      }
    }
  }
  return found;
}

/** Selectors a rule applies to the page's body text with, and to headings with. */
const BODY_SELECTOR = /^(?:html|body|:root)$/i;
const HEADING_SELECTOR = /^h[1-6]$/i;

const selectors = (rule: Rule) => rule.selector.split(",").map((s) => s.trim());

/** The last value of `property` in rules matching `selector` (the cascade's winner for equal
 * specificity), `var()`s resolved. */
function lastValue(
  rules: readonly Rule[],
  selector: RegExp,
  property: string,
  props: ReadonlyMap<string, string>,
): string | null {
  let value: string | null = null;
  for (const rule of rules) {
    if (!selectors(rule).some((s) => selector.test(s))) continue;
    for (const d of rule.declarations)
      if (d.property === property) value = resolveVars(d.value, props);
  }
  return value;
}

const GENERIC_FAMILIES = new Set([
  "serif",
  "sans-serif",
  "monospace",
  "cursive",
  "fantasy",
  "system-ui",
  "ui-sans-serif",
  "ui-serif",
  "ui-monospace",
  "ui-rounded",
  "-apple-system",
  "blinkmacsystemfont",
  "inherit",
  "initial",
  "unset",
  "emoji",
  "math",
]);

/** The first named family of a font-family list (`"Inter", system-ui, sans-serif` → Inter);
 * null when the list names only generic families. */
export function firstFamily(list: string): string | null {
  for (const raw of list.split(",")) {
    const family = raw
      .trim()
      .replace(/^["']|["']$/g, "")
      .trim();
    if (family && !GENERIC_FAMILIES.has(family.toLowerCase())) return family;
  }
  return null;
}

/** The family of `font-family` or of the `font` shorthand (whose family list comes last, after
 * the size). */
function familyOf(
  rules: readonly Rule[],
  selector: RegExp,
  props: ReadonlyMap<string, string>,
): string | null {
  const family = lastValue(rules, selector, "font-family", props);
  if (family) return firstFamily(family);
  const font = lastValue(rules, selector, "font", props);
  const list = font
    ? /\d(?:px|pt|rem|em|%)?(?:\s*\/\s*[\d.]+\w*)?\s+(.+)$/.exec(font)?.[1]
    : undefined;
  return list ? firstFamily(list) : null;
}

export interface CssFacts {
  bodyFamily: string | null;
  headingFamily: string | null;
  fontFaces: string[];
  bodyBackground: string | null;
  bodyColor: string | null;
}

/** What the body and headings are set in, the self-hosted faces and the body's colours. */
export function typography(rules: readonly Rule[], props: ReadonlyMap<string, string>): CssFacts {
  const fontFaces: string[] = [];
  for (const rule of rules) {
    if (rule.selector !== "@font-face") continue;
    const family = rule.declarations.find((d) => d.property === "font-family");
    const name = family ? firstFamily(family.value) : null;
    if (name && !fontFaces.includes(name)) fontFaces.push(name);
  }
  const background =
    lastValue(rules, BODY_SELECTOR, "background-color", props) ??
    lastValue(rules, BODY_SELECTOR, "background", props);
  const color = lastValue(rules, BODY_SELECTOR, "color", props);
  return {
    bodyFamily: familyOf(rules, BODY_SELECTOR, props),
    headingFamily: familyOf(rules, HEADING_SELECTOR, props),
    fontFaces,
    bodyBackground: background ? (colorsIn(background)[0] ?? null) : null,
    bodyColor: color ? parseColor(color) : null,
  };
}

/** The families a Google Fonts stylesheet link loads: css2's repeated `family=Inter:wght@400`
 * and the old API's `family=Roboto:400,700|Open+Sans`. Empty for any other URL. */
export function googleFontFamilies(href: string): string[] {
  let url: URL;
  try {
    url = new URL(href, "https://fonts.googleapis.com/");
  } catch {
    return [];
  }
  if (url.hostname !== "fonts.googleapis.com") return [];
  const families: string[] = [];
  for (const value of url.searchParams.getAll("family")) {
    for (const entry of value.split("|")) {
      const name = entry.split(":")[0]?.trim();
      if (name && !families.includes(name)) families.push(name);
    }
  }
  return families;
}

/** `@import url(…)` / `@import "…"` targets of a stylesheet. */
export function importsOf(css: string): string[] {
  const out: string[] = [];
  for (const m of stripComments(css).matchAll(
    /@import\s+(?:url\(\s*)?["']?([^"')\s;]+)["']?\s*\)?[^;]*;/gi,
  )) {
    if (m[1]) out.push(m[1]);
  }
  return out;
}
