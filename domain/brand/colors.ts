// Colour values as CSS writes them, reduced to one form (`#rrggbb`, lowercase) so the brand's
// colours can be counted, compared and shown as swatches. Alpha is dropped: a brand colour is
// the colour, and a translucent overlay of it is still it; a fully transparent value is no
// colour at all.

export type Rgb = [number, number, number];

/** The CSS named colours a stylesheet uses for brand colours in practice (the CSS Color 4 list
 * less its near-duplicates and greys, which are never a brand's primary); `transparent` and
 * `currentcolor` are not colours and are refused by parseColor. */
const NAMED: Record<string, string> = {
  black: "#000000",
  white: "#ffffff",
  gray: "#808080",
  grey: "#808080",
  silver: "#c0c0c0",
  red: "#ff0000",
  maroon: "#800000",
  crimson: "#dc143c",
  firebrick: "#b22222",
  tomato: "#ff6347",
  coral: "#ff7f50",
  orangered: "#ff4500",
  orange: "#ffa500",
  darkorange: "#ff8c00",
  gold: "#ffd700",
  yellow: "#ffff00",
  olive: "#808000",
  lime: "#00ff00",
  green: "#008000",
  darkgreen: "#006400",
  forestgreen: "#228b22",
  seagreen: "#2e8b57",
  teal: "#008080",
  aqua: "#00ffff",
  cyan: "#00ffff",
  turquoise: "#40e0d0",
  navy: "#000080",
  blue: "#0000ff",
  royalblue: "#4169e1",
  dodgerblue: "#1e90ff",
  steelblue: "#4682b4",
  midnightblue: "#191970",
  indigo: "#4b0082",
  purple: "#800080",
  rebeccapurple: "#663399",
  violet: "#ee82ee",
  magenta: "#ff00ff",
  fuchsia: "#ff00ff",
  hotpink: "#ff69b4",
  deeppink: "#ff1493",
  pink: "#ffc0cb",
  brown: "#a52a2a",
  chocolate: "#d2691e",
  sienna: "#a0522d",
  tan: "#d2b48c",
  beige: "#f5f5dc",
  ivory: "#fffff0",
  whitesmoke: "#f5f5f5",
  gainsboro: "#dcdcdc",
  lightgray: "#d3d3d3",
  darkgray: "#a9a9a9",
  dimgray: "#696969",
  slategray: "#708090",
};

const hex2 = (n: number) =>
  Math.round(Math.min(255, Math.max(0, n)))
    .toString(16)
    .padStart(2, "0");

export const rgbToHex = ([r, g, b]: Rgb): string => `#${hex2(r)}${hex2(g)}${hex2(b)}`;

export function hexToRgb(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A channel of rgb(): `255`, `50%` → 0–255. */
function channel(text: string): number | null {
  const m = /^(-?\d*\.?\d+)(%?)$/.exec(text);
  if (!m) return null;
  const v = Number(m[1]);
  return m[2] ? (v / 100) * 255 : v;
}

/** An alpha value: `0.5`, `50%`. */
function alpha(text: string | undefined): number {
  if (text === undefined) return 1;
  const m = /^(-?\d*\.?\d+)(%?)$/.exec(text);
  if (!m) return 1;
  return m[2] ? Number(m[1]) / 100 : Number(m[1]);
}

/** The arguments of `rgb(…)` / `hsl(…)` in either syntax: `1, 2, 3, .5` or `1 2 3 / .5`. */
function args(inner: string): { parts: string[]; alpha: number } | null {
  const [main = "", slash] = inner.split("/");
  const parts = main
    .trim()
    .split(/\s*,\s*|\s+/)
    .filter(Boolean);
  if (parts.length === 4 && slash === undefined)
    return { parts: parts.slice(0, 3), alpha: alpha(parts[3]) };
  if (parts.length !== 3) return null;
  return { parts, alpha: alpha(slash?.trim()) };
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const hue = (((h % 360) + 360) % 360) / 360;
  const f = (n: number) => {
    const k = (n + hue * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

/** `#abc`, `#aabbcc`, `#aabbccdd`, `rgb()`/`rgba()`, `hsl()`/`hsla()` or a named colour →
 * `#rrggbb`; null for anything else and for fully transparent values. */
export function parseColor(raw: string): string | null {
  const text = raw.trim().toLowerCase();
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(text)?.[1];
  if (hex) {
    const full = hex.length <= 4 ? [...hex].map((c) => c + c).join("") : hex;
    if (full.length === 8 && full.slice(6) === "00") return null;
    return `#${full.slice(0, 6)}`;
  }
  const fn = /^(rgba?|hsla?)\(([^()]*)\)$/.exec(text);
  if (fn) {
    const parsed = args(fn[2] ?? "");
    if (!parsed || parsed.alpha <= 0) return null;
    const [a = "", b = "", c = ""] = parsed.parts;
    if (fn[1]?.startsWith("rgb")) {
      const rgb = [channel(a), channel(b), channel(c)];
      if (rgb.some((v) => v === null)) return null;
      return rgbToHex(rgb as Rgb);
    }
    const h = Number.parseFloat(a.replace(/deg$/, ""));
    const s = Number.parseFloat(b) / 100;
    const l = Number.parseFloat(c) / 100;
    if (![h, s, l].every(Number.isFinite)) return null;
    return rgbToHex(hslToRgb(h, Math.min(1, Math.max(0, s)), Math.min(1, Math.max(0, l))));
  }
  return NAMED[text] ?? null;
}

/** Every colour value written in a CSS value (`1px solid #0a84ff`, `linear-gradient(…)`). */
export function colorsIn(value: string): string[] {
  const found: string[] = [];
  const token = /#[0-9a-f]{3,8}\b|(?:rgba?|hsla?)\([^()]*\)|\b[a-z]+\b/gi;
  for (const m of value.matchAll(token)) {
    const hex = parseColor(m[0]);
    if (hex) found.push(hex);
  }
  return found;
}

/** Hue-free: near-white, near-black or grey (too little chroma to be anyone's brand). */
export function isNeutral(hex: string): boolean {
  const [r, g, b] = hexToRgb(hex);
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const lightness = (max + min) / 2 / 255;
  if (lightness > 0.94 || lightness < 0.08) return true;
  return max - min < 30;
}

/** Relative luminance (WCAG), 0 for black to 1 for white. */
export function luminance(hex: string): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = hexToRgb(hex);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Euclidean distance in RGB: enough to tell "another shade of the same blue" (< 60) from a
 * second brand colour. */
export function distance(a: string, b: string): number {
  const [r1, g1, b1] = hexToRgb(a);
  const [r2, g2, b2] = hexToRgb(b);
  return Math.hypot(r1 - r2, g1 - g2, b1 - b2);
}

/** Colours by how often they were seen, most first (ties: first seen first). */
export function rankByFrequency(colors: readonly string[]): { hex: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const c of colors) counts.set(c, (counts.get(c) ?? 0) + 1);
  return [...counts].map(([hex, count]) => ({ hex, count })).sort((a, b) => b.count - a.count);
}

/** The brand colours among `ranked`: chromatic, and each far enough from those before it that
 * three shades of one blue count once. */
export function brandColors(ranked: readonly { hex: string }[], limit = 2): string[] {
  const picked: string[] = [];
  for (const { hex } of ranked) {
    if (isNeutral(hex)) continue;
    if (picked.some((p) => distance(p, hex) < 60)) continue;
    picked.push(hex);
    if (picked.length === limit) break;
  }
  return picked;
}
