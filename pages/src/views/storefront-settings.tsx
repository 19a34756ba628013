// Settings → Storefront (issue 19 §1; docs/storefront.md): the site's address goes in, Brand
// Auto-Extract reads its logo, colours, fonts and words, the operator reviews and edits them
// beside a preview and applies them with the storefront's address in one click. Extracting
// stores nothing; only Apply (PUT /api/storefront) does. Both need pricing:write.

import { useEffect, useState } from "preact/hooks";
import type {
  Brand,
  BrandColor,
  BrandExtraction,
  BrandFont,
  StorefrontSettings,
} from "../../../contracts/storefront";
import { Badge, ErrorState, Loading, PageHeader, Refused } from "../components/ui";
import { ApiError, type FieldError, useApi } from "../lib/api";
import { dateTime } from "../lib/format";
import { actorLabel, usePermit } from "../lib/me";
import { useQuery } from "../lib/use-query";

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function fieldErrors(err: unknown): FieldError[] {
  if (err instanceof ApiError && err.errors.length > 0) return err.errors;
  return [{ path: "", message: errorText(err) }];
}

/** A starting slug from the brand's name: `Violet Cloud` → `violet-cloud`. */
const slugOf = (name: string | null) =>
  (name ?? "")
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);

/** The fields of an extraction the storefront keeps (what PUT stores). */
const brandOf = ({ source_url: _, warnings: __, elapsed_ms: ___, ...brand }: BrandExtraction) =>
  brand as Brand;

export function StorefrontSection(_props: { search: URLSearchParams; path: string }) {
  const permit = usePermit("pricing:write");
  const api = useApi();
  const q = useQuery<StorefrontSettings>("/api/storefront");
  const [url, setUrl] = useState("");
  const [extracting, setExtracting] = useState(false);
  const [extractError, setExtractError] = useState<string | null>(null);
  const [extraction, setExtraction] = useState<BrandExtraction | null>(null);
  const [draft, setDraft] = useState<Brand | null>(null);
  const [slug, setSlug] = useState("");
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [applying, setApplying] = useState(false);
  const [applied, setApplied] = useState(false);

  useEffect(() => {
    if (!q.data) return;
    setSlug((s) => s || (q.data?.slug ?? ""));
    setDraft((d) => d ?? q.data?.brand ?? null);
  }, [q.data]);

  if (q.error) return <ErrorState error={q.error} onRetry={q.reload} what="the storefront" />;
  const current = q.data;
  if (!current) return <Loading label="Loading the storefront…" />;

  const extract = async (e: Event) => {
    e.preventDefault();
    setExtracting(true);
    setExtractError(null);
    setApplied(false);
    try {
      const found = await api.post<BrandExtraction>("/api/storefront/brand", { url: url.trim() });
      setExtraction(found);
      setDraft(brandOf(found));
      if (!current.slug) setSlug((s) => s || slugOf(found.name));
    } catch (err) {
      setExtractError(errorText(err));
    } finally {
      setExtracting(false);
    }
  };

  const apply = async () => {
    if (!draft) return;
    setApplying(true);
    setErrors([]);
    setApplied(false);
    try {
      await api.put("/api/storefront", { slug: slug.trim(), brand: draft });
      setApplied(true);
      q.reload();
    } catch (err) {
      setErrors(fieldErrors(err));
    } finally {
      setApplying(false);
    }
  };

  const slugError =
    errors
      .filter((e) => e.path === "slug" || (e.path === "" && /slug|taken|address/i.test(e.message)))
      .map((e) => e.message)
      .join("; ") || null;
  const otherErrors = errors.filter((e) => e.path !== "slug" && e.message !== slugError);

  return (
    <>
      <PageHeader
        title="Storefront"
        subtitle="Your public pricing page's look and words, read from your own site"
      />
      <Refused reason={permit.reason} what="The storefront is read-only for you" />
      <p class="muted small" data-testid="storefront-status">
        {current.slug ? (
          <>
            Live at <a href={`/s/${current.slug}`}>/s/{current.slug}</a>
            {current.updated_at ? `, applied ${dateTime(current.updated_at)}` : ""}
            {current.updated_by ? ` by ${actorLabel(current.updated_by)}` : ""}
          </>
        ) : (
          "No storefront yet: extract your brand, review it, choose an address and apply."
        )}
      </p>
      <fieldset class="bare" disabled={!permit.allowed}>
        <form class="panel" onSubmit={extract} aria-labelledby="extract-title">
          <h2 id="extract-title">Brand Auto-Extract</h2>
          <label class="field field-block">
            <span>Your site's home page</span>
            <input
              name="url"
              type="text"
              inputMode="url"
              placeholder="https://example.com"
              value={url}
              onInput={(e) => setUrl((e.currentTarget as HTMLInputElement).value)}
            />
            <span class="help">
              Aforo reads the page, its stylesheets and its logo (30 s at most) and stores nothing
              until you apply.
            </span>
          </label>
          {extractError ? (
            <p class="field-error" role="alert" data-testid="extract-error">
              {extractError}
            </p>
          ) : null}
          <button type="submit" class="btn" disabled={extracting || url.trim() === ""}>
            {extracting ? "Reading the site…" : "Extract"}
          </button>
        </form>

        {draft ? (
          <div class="grid-2">
            <BrandEditor brand={draft} onChange={setDraft} extraction={extraction} />
            <section class="panel" aria-labelledby="preview-title">
              <h2 id="preview-title">Preview</h2>
              <BrandPreview brand={draft} />
              <label class="field field-block">
                <span>Address</span>
                <span>
                  /s/
                  <input
                    name="slug"
                    type="text"
                    value={slug}
                    aria-invalid={slugError ? true : undefined}
                    onInput={(e) => setSlug((e.currentTarget as HTMLInputElement).value)}
                  />
                </span>
                <span class="help">2–48 lowercase letters, digits and hyphens</span>
                {slugError ? (
                  <span class="field-error" data-testid="slug-error">
                    {slugError}
                  </span>
                ) : null}
              </label>
              {otherErrors.length ? (
                <p class="field-error" role="alert">
                  {otherErrors
                    .map((e) => (e.path ? `${e.path}: ${e.message}` : e.message))
                    .join("; ")}
                </p>
              ) : null}
              {applied ? (
                <p class="notice" role="status">
                  Applied: the storefront shows this brand.
                </p>
              ) : null}
              <button
                type="button"
                class="btn"
                onClick={apply}
                disabled={applying || slug.trim() === ""}
              >
                {applying ? "Applying…" : "Apply to storefront"}
              </button>
            </section>
          </div>
        ) : null}
      </fieldset>
    </>
  );
}

function BrandEditor(props: {
  brand: Brand;
  extraction: BrandExtraction | null;
  onChange: (brand: Brand) => void;
}) {
  const { brand, extraction, onChange } = props;
  const set = (patch: Partial<Brand>) => onChange({ ...brand, ...patch });
  const setColor = (i: number, hex: string) =>
    set({ colors: brand.colors.map((c, j): BrandColor => (j === i ? { ...c, hex } : c)) });
  const setFont = (i: number, family: string) =>
    set({ fonts: brand.fonts.map((f, j): BrandFont => (j === i ? { ...f, family } : f)) });
  const text = (e: Event) => (e.currentTarget as HTMLInputElement).value;
  return (
    <section class="panel" aria-labelledby="review-title" data-testid="brand-review">
      <h2 id="review-title">
        Review{" "}
        {extraction ? (
          <Badge tone={brand.copy.source === "ai" ? "good" : undefined}>
            {brand.copy.source === "ai" ? "Copy by Claude, from your page" : "Copy from your page"}
          </Badge>
        ) : null}
      </h2>
      {extraction ? (
        <p class="muted small">
          Read from <code>{extraction.source_url}</code> in {extraction.elapsed_ms} ms.
        </p>
      ) : null}
      {extraction?.warnings.length ? (
        <ul class="muted small" data-testid="extract-warnings">
          {extraction.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      ) : null}
      <label class="field field-block">
        <span>Name</span>
        <input
          name="name"
          value={brand.name ?? ""}
          onInput={(e) => set({ name: text(e) || null })}
        />
      </label>
      <div class="field field-block">
        <span>Colours</span>
        <div data-testid="swatches" style={{ display: "flex", gap: "12px", flexWrap: "wrap" }}>
          {brand.colors.map((c, i) => (
            <label key={c.role} style={{ display: "grid", justifyItems: "center", gap: "4px" }}>
              <input
                type="color"
                name={`color-${c.role}`}
                value={c.hex}
                aria-label={`${c.role} colour`}
                onInput={(e) => setColor(i, text(e))}
              />
              <span class="small">{c.role}</span>
              <code class="small" data-testid={`swatch-${c.role}`}>
                {c.hex}
              </code>
            </label>
          ))}
          {brand.colors.length === 0 ? <span class="muted">None found</span> : null}
        </div>
      </div>
      {brand.fonts.map((f, i) => (
        <label class="field field-block" key={f.role}>
          <span>
            {f.role === "body" ? "Body font" : "Heading font"}{" "}
            <span class="muted small">({f.source})</span>
          </span>
          <input name={`font-${f.role}`} value={f.family} onInput={(e) => setFont(i, text(e))} />
        </label>
      ))}
      <label class="field field-block">
        <span>Hero</span>
        <input
          name="hero"
          value={brand.copy.hero ?? ""}
          onInput={(e) => set({ copy: { ...brand.copy, hero: text(e) || null } })}
        />
      </label>
      <label class="field field-block">
        <span>Meta description</span>
        <textarea
          name="meta_description"
          rows={3}
          value={brand.copy.meta_description ?? ""}
          onInput={(e) => set({ copy: { ...brand.copy, meta_description: text(e) || null } })}
        />
      </label>
      {brand.copy.social_proof.length ? (
        <div class="field field-block">
          <span>Social proof (quoted from your page)</span>
          <ul class="small">
            {brand.copy.social_proof.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </div>
      ) : null}
    </section>
  );
}

/** The brand as the storefront's header would show it: the logo, the name in the heading font,
 * the hero on the background, a button in the primary colour. */
function BrandPreview(props: { brand: Brand }) {
  const { brand } = props;
  const color = (role: BrandColor["role"]) => brand.colors.find((c) => c.role === role)?.hex;
  const font = (role: BrandFont["role"]) => brand.fonts.find((f) => f.role === role)?.family;
  const bodyFont = font("body");
  const headingFont = font("heading") ?? bodyFont;
  return (
    <div
      data-testid="brand-preview"
      style={{
        background: color("background") ?? "#ffffff",
        color: color("text") ?? "#1f2937",
        fontFamily: bodyFont ? `"${bodyFont}", system-ui, sans-serif` : undefined,
        border: "1px solid #e5e7eb",
        borderRadius: "8px",
        padding: "16px",
        marginBottom: "12px",
      }}
    >
      <div style={{ display: "flex", alignItems: "center", gap: "10px" }}>
        {brand.logo_url ? (
          <img
            src={brand.logo_url}
            alt={brand.name ? `${brand.name} logo` : "Logo"}
            data-testid="preview-logo"
            style={{ maxHeight: "40px", maxWidth: "160px" }}
          />
        ) : null}
        <strong
          style={{
            fontFamily: headingFont ? `"${headingFont}", serif` : undefined,
            fontSize: "1.2em",
          }}
        >
          {brand.name ?? "Your company"}
        </strong>
      </div>
      <p style={{ fontSize: "1.4em", margin: "12px 0 4px" }}>{brand.copy.hero ?? ""}</p>
      <p style={{ opacity: 0.8, margin: "0 0 12px" }}>{brand.copy.meta_description ?? ""}</p>
      <span
        style={{
          display: "inline-block",
          background: color("primary") ?? "#111827",
          color: "#ffffff",
          padding: "6px 14px",
          borderRadius: "6px",
        }}
      >
        See plans
      </span>
      {color("accent") ? (
        <span
          style={{
            display: "inline-block",
            marginLeft: "8px",
            border: `2px solid ${color("accent")}`,
            padding: "4px 12px",
            borderRadius: "6px",
          }}
        >
          Compare
        </span>
      ) : null}
    </div>
  );
}
