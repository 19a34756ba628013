// Settings → Storefront (issue 19 §1): Brand Auto-Extract's result (POST /api/storefront/brand)
// and the brand the operator applies to the tenant's storefront (GET/PUT /api/storefront).

export type BrandColorRole = "primary" | "accent" | "background" | "text";

export interface BrandColor {
  /** `#rrggbb`, lowercase. */
  hex: string;
  role: BrandColorRole;
}

export type BrandFontRole = "body" | "heading";

export interface BrandFont {
  family: string;
  role: BrandFontRole;
  /** Where the face comes from: a Google Fonts link, an `@font-face` of the site's own, or
   * neither (a locally installed face such as Georgia). */
  source: "google" | "self-hosted" | "local";
}

export interface BrandCopy {
  hero: string | null;
  meta_description: string | null;
  /** Testimonial quotes and a "Trusted by …" line from the logos' alt text. */
  social_proof: string[];
  /** "page": taken from the page's own words; "ai": reworded by the model, grounded in them. */
  source: "page" | "ai";
}

/** The brand as the storefront shows it: what an extraction returns and what PUT stores. */
export interface Brand {
  name: string | null;
  logo_url: string | null;
  favicon_url: string | null;
  colors: BrandColor[];
  fonts: BrandFont[];
  description: string | null;
  copy: BrandCopy;
}

/** POST /api/storefront/brand: the brand found at `url`, nothing stored. */
export interface BrandExtraction extends Brand {
  /** The page the brand was read from, after redirects. */
  source_url: string;
  /** Stylesheets or images that could not be read; the brand is built from the rest. */
  warnings: string[];
  elapsed_ms: number;
}

/** GET/PUT /api/storefront. */
export interface StorefrontSettings {
  /** The storefront's public address is `/s/<slug>`; null until one is chosen. */
  slug: string | null;
  brand: Brand | null;
  updated_at: string | null;
  updated_by: string | null;
}
