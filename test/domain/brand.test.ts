import { encode as encodePng } from "fast-png";
import { encode as encodeJpeg } from "jpeg-js";
import { describe, expect, it } from "vitest";
import { colorRoles, fontRoles, hasBrandColor, readStyles } from "../../domain/brand/assemble";
import {
  brandColors,
  colorsIn,
  isNeutral,
  parseColor,
  rankByFrequency,
} from "../../domain/brand/colors";
import {
  modelCopy,
  type PageText,
  pageCopy,
  pageTextForModel,
  siteName,
  truncate,
} from "../../domain/brand/copy";
import {
  customProperties,
  firstFamily,
  googleFontFamilies,
  importsOf,
  parseRules,
  resolveVars,
  typography,
} from "../../domain/brand/css";
import {
  dominantColors,
  ImageDecodeError,
  imageKind,
  MAX_LOGO_PIXELS,
  normalizeDataImage,
  svgColors,
} from "../../domain/brand/image";

const styles = (css: string, themeColor: string | null = null, googleFontLinks: string[] = []) =>
  readStyles({ stylesheets: [css], themeColor, googleFontLinks });

describe("colour parsing", () => {
  it.each([
    ["#0A84FF", "#0a84ff"],
    ["#abc", "#aabbcc"],
    ["#abcd", "#aabbcc"],
    ["#11223380", "#112233"],
    ["rgb(10, 132, 255)", "#0a84ff"],
    ["rgba(10,132,255,0.5)", "#0a84ff"],
    ["rgb(10 132 255 / 50%)", "#0a84ff"],
    ["rgb(100%, 0%, 0%)", "#ff0000"],
    ["hsl(0, 100%, 50%)", "#ff0000"],
    ["hsl(120deg 100% 25%)", "#008000"],
    ["hsla(240, 100%, 50%, .3)", "#0000ff"],
    ["RebeccaPurple", "#663399"],
  ])("%s → %s", (raw, hex) => {
    expect(parseColor(raw)).toBe(hex);
  });

  it.each([
    "transparent",
    "currentcolor",
    "#12345",
    "rgba(0,0,0,0)",
    "#00000000",
    "rgb(1,2)",
    "inherit",
  ])("%s is no colour", (raw) => {
    expect(parseColor(raw)).toBeNull();
  });

  it("finds every colour inside a compound value", () => {
    expect(colorsIn("1px solid #0a84ff")).toEqual(["#0a84ff"]);
    expect(colorsIn("linear-gradient(90deg, rgb(255,0,0) 0%, navy 100%)")).toEqual([
      "#ff0000",
      "#000080",
    ]);
    // Words that are not colour names (solid, linear) are ignored, not guessed.
    expect(colorsIn("solid 0 auto")).toEqual([]);
  });

  it("treats greys, near-white and near-black as neutral", () => {
    expect(isNeutral("#ffffff")).toBe(true);
    expect(isNeutral("#111111")).toBe(true);
    expect(isNeutral("#777777")).toBe(true);
    expect(isNeutral("#fafafa")).toBe(true);
    expect(isNeutral("#0a84ff")).toBe(false);
    expect(isNeutral("#e4572e")).toBe(false);
  });

  it("ranks by use and keeps one colour per shade family", () => {
    const ranked = rankByFrequency([
      "#ffffff",
      "#e4572e",
      "#0a84ff",
      "#e4572e",
      "#0a84ff",
      "#0a84ff",
      "#0b85fe",
      "#333333",
      "#333333",
      "#333333",
      "#333333",
    ]);
    expect(ranked[0]).toEqual({ hex: "#333333", count: 4 });
    // The grey is skipped (neutral), #0b85fe is the same blue: two brand colours remain.
    expect(brandColors(ranked, 3)).toEqual(["#0a84ff", "#e4572e"]);
  });
});

describe("CSS reading", () => {
  it("reads rules inside @media and @supports, skips comments and statement at-rules", () => {
    const rules = parseRules(`
      @charset "utf-8";
      @import url("/base.css");
      /* a { color: red } */
      body { color: #222; }
      @media (min-width: 600px) { .btn { background: #0a84ff !important; } }
      @supports (display: grid) { h1 { font-family: Lora, serif } }
      @font-face { font-family: "Brand Sans"; src: url(/f.woff2) }
    `);
    expect(rules.map((r) => r.selector)).toEqual(["body", ".btn", "h1", "@font-face"]);
    expect(rules[1]?.declarations).toEqual([{ property: "background", value: "#0a84ff" }]);
  });

  it("resolves custom properties, fallbacks and nesting", () => {
    const props = customProperties(
      parseRules(":root { --blue: #0a84ff; --brand: var(--blue); --Case: red }"),
    );
    expect(resolveVars("var(--brand)", props)).toBe("#0a84ff");
    expect(resolveVars("var(--missing, #123456)", props)).toBe("#123456");
    // Custom property names are case-sensitive, as in CSS.
    expect(props.get("--Case")).toBe("red");
  });

  it("lists @import targets", () => {
    expect(importsOf(`@import url("a.css"); @import 'b.css' screen; @import url(c.css);`)).toEqual([
      "a.css",
      "b.css",
      "c.css",
    ]);
  });

  it("takes the first named family of a font-family list", () => {
    expect(firstFamily(`"Inter", system-ui, sans-serif`)).toBe("Inter");
    expect(firstFamily(`-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto`)).toBe("Segoe UI");
    expect(firstFamily("system-ui, sans-serif")).toBeNull();
  });

  it("reads body and heading typography, the font shorthand and body colours", () => {
    const rules = parseRules(`
      html { font: 16px/1.5 "Source Sans 3", sans-serif }
      body { background-color: #fdfcf7; color: rgb(20, 20, 30) }
      h1, h2 { font-family: var(--display) }
      :root { --display: 'Playfair Display', serif }
    `);
    const facts = typography(rules, customProperties(rules));
    expect(facts.bodyFamily).toBe("Source Sans 3");
    expect(facts.headingFamily).toBe("Playfair Display");
    expect(facts.bodyBackground).toBe("#fdfcf7");
    expect(facts.bodyColor).toBe("#14141e");
  });
});

describe("Google Fonts links", () => {
  it("reads css2 and the old API's families", () => {
    expect(
      googleFontFamilies(
        "https://fonts.googleapis.com/css2?family=Inter:wght@400;700&family=Playfair+Display:ital@1&display=swap",
      ),
    ).toEqual(["Inter", "Playfair Display"]);
    expect(
      googleFontFamilies("https://fonts.googleapis.com/css?family=Roboto:400,700|Open+Sans"),
    ).toEqual(["Roboto", "Open Sans"]);
  });

  it("ignores any other host", () => {
    expect(googleFontFamilies("https://evil.example/css2?family=Inter")).toEqual([]);
    expect(googleFontFamilies("not a url at all ::")).toEqual([]);
  });
});

describe("colour roles", () => {
  it("a --primary custom property beats theme-color and CSS use", () => {
    const facts = styles(
      `:root { --primary: #6d28d9; --accent: #f59e0b } .a { color: #e4572e } .b { color: #e4572e }`,
      "#0a84ff",
    );
    expect(colorRoles(facts, "#0a84ff", [])).toEqual([
      { hex: "#6d28d9", role: "primary" },
      { hex: "#f59e0b", role: "accent" },
    ]);
  });

  it("theme-color is the primary when no property names one", () => {
    const facts = styles(`body { background: #ffffff; color: #111 } .x { color: #e4572e }`);
    const roles = colorRoles(facts, "#0a84ff", []);
    expect(roles).toEqual([
      { hex: "#0a84ff", role: "primary" },
      { hex: "#e4572e", role: "accent" },
      { hex: "#ffffff", role: "background" },
      { hex: "#111111", role: "text" },
    ]);
  });

  it("the most used chromatic CSS colour, else the logo's, is the primary", () => {
    const css = `.a { color: #e4572e } .b { border: 1px solid #e4572e } .c { color: #2e86ab }`;
    expect(colorRoles(styles(css), null, ["#00ff00"])[0]).toEqual({
      hex: "#e4572e",
      role: "primary",
    });
    const plain = styles(`body { background: #fff; color: #222 }`);
    expect(hasBrandColor(plain, null)).toBe(false);
    // A neutral theme-color names no brand colour either, and is not made the primary.
    expect(hasBrandColor(plain, "#ffffff")).toBe(false);
    expect(colorRoles(plain, "#ffffff", ["#1d4ed8"])[0]).toEqual({
      hex: "#1d4ed8",
      role: "primary",
    });
    expect(colorRoles(plain, null, ["#ffffff", "#1d4ed8", "#f97316"]).slice(0, 2)).toEqual([
      { hex: "#1d4ed8", role: "primary" },
      { hex: "#f97316", role: "accent" },
    ]);
  });
});

describe("font roles", () => {
  it("the body's and headings' families, with where each comes from", () => {
    const facts = styles(
      `@font-face { font-family: "Acme Grotesk"; src: url(/acme.woff2) }
       body { font-family: "Acme Grotesk", sans-serif } h1 { font-family: Lora, serif }`,
      null,
      ["https://fonts.googleapis.com/css2?family=Lora:wght@700"],
    );
    expect(fontRoles(facts)).toEqual([
      { family: "Acme Grotesk", role: "body", source: "self-hosted" },
      { family: "Lora", role: "heading", source: "google" },
    ]);
  });

  it("Google Fonts families stand in when no rule sets a family", () => {
    const facts = styles("", null, [
      "https://fonts.googleapis.com/css2?family=Inter&family=Merriweather",
    ]);
    expect(fontRoles(facts)).toEqual([
      { family: "Inter", role: "body", source: "google" },
      { family: "Merriweather", role: "heading", source: "google" },
    ]);
  });

  it("an installed face is local", () => {
    expect(fontRoles(styles("body { font-family: Georgia, serif }"))).toEqual([
      { family: "Georgia", role: "body", source: "local" },
    ]);
  });
});

/** A w×h RGBA image: the left `split` columns one colour, the rest another; a transparent
 * border one pixel wide (a logo's background). */
function twoColourRgba(w: number, h: number, split: number, left: number[], right: number[]) {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const border = x === 0 || y === 0 || x === w - 1 || y === h - 1;
      const [r = 0, g = 0, b = 0] = x < split ? left : right;
      data.set(border ? [0, 0, 0, 0] : [r, g, b, 255], i);
    }
  }
  return data;
}

describe("logo dominant colours", () => {
  it("a PNG's opaque pixels, most covering first (transparency skipped)", () => {
    const data = twoColourRgba(40, 20, 28, [0x1d, 0x4e, 0xd8], [0xf9, 0x73, 0x16]);
    const png = encodePng({ width: 40, height: 20, data, channels: 4 });
    expect(imageKind(png)).toBe("png");
    const colors = dominantColors(png);
    expect(colors.length).toBeGreaterThanOrEqual(2);
    expect(colors[0]?.hex).toBe("#1d4ed8");
    expect(colors[1]?.hex).toBe("#f97316");
    // 27 of 38 opaque columns are blue.
    expect(colors[0]?.share).toBeCloseTo(27 / 38, 1);
    expect(colors.some((c) => c.hex === "#000000")).toBe(false);
  });

  it("an RGB PNG without alpha and a one-colour PNG", () => {
    const rgb = new Uint8Array(8 * 8 * 3);
    for (let p = 0; p < 64; p++) rgb.set(p < 48 ? [0x6d, 0x28, 0xd9] : [255, 255, 255], p * 3);
    const colors = dominantColors(encodePng({ width: 8, height: 8, data: rgb, channels: 3 }));
    expect(colors[0]?.hex).toBe("#6d28d9");
    const solid = new Uint8Array(4 * 4 * 3).fill(0x40);
    expect(dominantColors(encodePng({ width: 4, height: 4, data: solid, channels: 3 }))).toEqual([
      { hex: "#404040", share: 1 },
    ]);
  });

  it("a JPEG's colours, within the codec's error", () => {
    const w = 32;
    const h = 16;
    const data = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      const left = p % w < 24;
      data.set(left ? [0xe4, 0x57, 0x2e, 255] : [0x2e, 0x86, 0xab, 255], p * 4);
    }
    const jpeg = new Uint8Array(encodeJpeg({ data, width: w, height: h }, 95).data);
    expect(imageKind(jpeg)).toBe("jpeg");
    const [first, second] = dominantColors(jpeg);
    const near = (hex: string | undefined, rgb: number[]) => {
      const n = Number.parseInt((hex ?? "#000000").slice(1), 16);
      const got = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
      return Math.max(...got.map((v, i) => Math.abs(v - (rgb[i] ?? 0))));
    };
    expect(near(first?.hex, [0xe4, 0x57, 0x2e])).toBeLessThan(16);
    expect(near(second?.hex, [0x2e, 0x86, 0xab])).toBeLessThan(16);
  });

  it("refuses images whose header claims too many pixels, and non-images", () => {
    const png = encodePng({ width: 2, height: 2, data: new Uint8Array(16), channels: 4 });
    // Rewrite IHDR's width (bytes 16–19) to a huge value: refused before any decoding.
    new DataView(png.buffer, png.byteOffset).setUint32(16, MAX_LOGO_PIXELS);
    expect(() => dominantColors(png)).toThrow(ImageDecodeError);
    expect(() => dominantColors(new TextEncoder().encode("GIF89a…"))).toThrow(ImageDecodeError);
    const truncated = encodePng({ width: 2, height: 2, data: new Uint8Array(16), channels: 4 });
    expect(() => dominantColors(truncated.subarray(0, 40))).toThrow(ImageDecodeError);
  });

  it("an SVG's fills and strokes by use", () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg"><style>.a{fill:#0a84ff}</style>
      <path fill="#0a84ff"/><circle fill="#0A84FF" stroke="#e4572e"/><rect style="fill: none"/></svg>`;
    expect(imageKind(new TextEncoder().encode(svg))).toBe("svg");
    const colors = svgColors(svg);
    expect(colors.map((c) => c.hex)).toEqual(["#0a84ff", "#e4572e"]);
    expect(colors[0]?.share).toBeCloseTo(3 / 4);
  });
});

const page = (over: Partial<PageText>): PageText => ({
  title: null,
  h1: [],
  paragraphs: [],
  metaDescription: null,
  og: {},
  applicationName: null,
  testimonials: [],
  trustedBy: [],
  ...over,
});

describe("copy from the page's own words", () => {
  it("hero from the h1, meta from the description, social proof from quotes and logos", () => {
    const copy = pageCopy(
      page({
        title: "Acme — Usage billing for AI products",
        h1: ["  Bill every   token,\n exactly. "],
        metaDescription: "Acme meters, rates and invoices usage for AI products.",
        testimonials: ["Short", "Acme cut our invoicing time from 3 days to 20 minutes."],
        trustedBy: ["Globex logo", "Initech", "Globex logo"],
      }),
    );
    expect(copy).toEqual({
      hero: "Bill every token, exactly.",
      meta_description: "Acme meters, rates and invoices usage for AI products.",
      social_proof: [
        "Acme cut our invoicing time from 3 days to 20 minutes.",
        "Trusted by Globex, Initech",
      ],
      source: "page",
    });
  });

  it("falls back to og:title, then the title's tagline, then a long paragraph", () => {
    expect(pageCopy(page({ og: { title: "Hello" } })).hero).toBe("Hello");
    const copy = pageCopy(
      page({
        title: "Acme | Metered billing that adds up",
        paragraphs: ["Hi", "A paragraph long enough to stand in for a missing description."],
      }),
    );
    expect(copy.hero).toBe("Metered billing that adds up");
    expect(copy.meta_description).toBe(
      "A paragraph long enough to stand in for a missing description.",
    );
    expect(pageCopy(page({})).hero).toBeNull();
  });

  it("meta description fits 160 characters, cut at a word", () => {
    const long = `${"word ".repeat(60)}end`;
    const meta = pageCopy(page({ metaDescription: long })).meta_description ?? "";
    expect(meta.length).toBeLessThanOrEqual(160);
    expect(meta.endsWith("word…")).toBe(true);
    expect(truncate("short", 10)).toBe("short");
  });

  it("the site's name: og:site_name, application-name, logo alt, else the title's short part", () => {
    expect(siteName(page({ og: { site_name: "Acme" } }), "Other logo")).toBe("Acme");
    expect(siteName(page({ applicationName: "Acme App" }), null)).toBe("Acme App");
    expect(siteName(page({}), "Globex logo")).toBe("Globex");
    expect(siteName(page({ title: "Initech — The billing platform for teams" }), null)).toBe(
      "Initech",
    );
    expect(siteName(page({}), null)).toBeNull();
  });
});

describe("the model's copy, grounded in the page", () => {
  const source = page({
    title: "Acme Grid",
    metaDescription: "Acme Grid bills 120 utilities hourly.",
    h1: ["Energy billing by the hour"],
    testimonials: ["We closed the month in 2 days, not 10."],
  });
  const text = pageTextForModel(source);
  const fromPage = pageCopy(source);

  it("gives the model the page's text, one item a line", () => {
    expect(text).toBe(
      [
        "Title: Acme Grid",
        "Meta description: Acme Grid bills 120 utilities hourly.",
        "Heading: Energy billing by the hour",
        "Testimonial: We closed the month in 2 days, not 10.",
      ].join("\n"),
    );
  });

  it("takes a (fenced) JSON answer whose numbers the page has", () => {
    const { copy, note } = modelCopy(
      '```json\n{"hero": "Hourly billing for 120 utilities", "meta_description": "  Acme Grid   closes the month in 2 days. "}\n```',
      text,
      fromPage,
    );
    expect(note).toBeNull();
    expect(copy).toEqual({
      hero: "Hourly billing for 120 utilities",
      meta_description: "Acme Grid closes the month in 2 days.",
      social_proof: fromPage.social_proof,
      source: "ai",
    });
  });

  it("drops an answer with an invented number, one that does not parse, or an empty field", () => {
    for (const answer of [
      '{"hero": "Trusted by 500 utilities", "meta_description": "Hourly billing."}',
      "Here is a great hero line!",
      '{"hero": "", "meta_description": "Hourly billing."}',
      '{"hero": "Hourly", "meta_description": 42}',
    ]) {
      const { copy, note } = modelCopy(answer, text, fromPage);
      expect(copy).toBe(fromPage);
      expect(note).toMatch(/page's own words are used/);
    }
  });

  it("cuts a long answer to the copy's lengths", () => {
    const { copy } = modelCopy(
      JSON.stringify({ hero: "word ".repeat(40), meta_description: "more ".repeat(60) }),
      text,
      fromPage,
    );
    expect(copy.hero?.length).toBeLessThanOrEqual(120);
    expect(copy.meta_description?.length).toBeLessThanOrEqual(160);
  });
});

describe("normalizeDataImage", () => {
  const svg = "<svg xmlns='http://www.w3.org/2000/svg'><rect fill='#0f766e'/></svg>";
  it("turns a percent-encoded SVG into base64, and keeps base64 as it is", () => {
    const encoded = `data:image/svg+xml,${encodeURIComponent(svg)}`;
    expect(normalizeDataImage(encoded, 10_000)).toBe(`data:image/svg+xml;base64,${btoa(svg)}`);
    const b64 = `data:image/png;base64,${btoa("\x89PNG\r\n")}`;
    expect(normalizeDataImage(b64, 10_000)).toBe(b64);
    expect(normalizeDataImage("data:image/svg+xml;charset=utf-8,%3Csvg%2F%3E", 100)).toBe(
      `data:image/svg+xml;base64,${btoa("<svg/>")}`,
    );
  });
  it("refuses what the storefront does not show, does not decode, or is too large", () => {
    expect(normalizeDataImage("data:text/html,<script>x</script>", 1000)).toBeNull();
    expect(normalizeDataImage("data:image/png;base64,***", 1000)).toBeNull();
    expect(normalizeDataImage("data:image/svg+xml,%E0%A4%A", 1000)).toBeNull();
    expect(normalizeDataImage(`data:image/svg+xml,${encodeURIComponent(svg)}`, 10)).toBeNull();
    expect(normalizeDataImage("data:image/png;base64,", 1000)).toBeNull();
  });
});
