import { createRoute, z } from "@hono/zod-openapi";
import type { StorefrontSettings } from "../../contracts/storefront";
import {
  putStorefront,
  SlugTakenError,
  type StorefrontRow,
  storefrontOf,
} from "../../store/storefront";
import { createRouter } from "../app";
import { permit } from "../permit";
import { ApiError, conflictResponse, ProblemSchema, problemResponses } from "../problem";
import { iso, jsonBody, jsonResponse } from "../schemas";
import { BrandError, extractBrand, wordCopy } from "../storefront/brand";

// Settings → Storefront (issue 19 §1; docs/storefront.md): Brand Auto-Extract reads a site's
// brand and stores nothing; the operator reviews it and applies it, with the storefront's public
// address, in one PUT. The brand is the workspace's public face, so extracting and applying it
// need `pricing:write`, the permission that already governs what the storefront sells (products
// and plans); reading the settings is `read`.
export const storefront = createRouter();

const security = [{ operatorToken: [] }];
const problem = { "application/problem+json": { schema: ProblemSchema } };

const Hex = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^#[0-9a-f]{6}$/, "a colour as #rrggbb")
  .openapi({ example: "#0a84ff" });

/** What an `<img src>` on the public page may load: a web address, or an image as a data: URL
 * (an inline SVG logo is returned as one). Never `javascript:` or any other scheme. */
const ImageUrl = z
  .string()
  .trim()
  .max(100_000)
  .refine(
    (v) =>
      /^https?:\/\//i.test(v) ||
      /^data:image\/(?:svg\+xml|png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/.test(v),
    "an http(s) URL or a base64 data:image URL",
  );

const Text = (max: number) => z.string().trim().max(max);

const BrandCopySchema = z.object({
  hero: Text(200).nullable(),
  meta_description: Text(300).nullable(),
  social_proof: z.array(Text(300)).max(10),
  source: z.enum(["page", "ai"]).openapi({
    description:
      "page: the page's own words; ai: reworded by the model from the page's text (the tenant's AI key)",
  }),
});

const BrandSchema = z
  .object({
    name: Text(120).nullable(),
    logo_url: ImageUrl.nullable(),
    favicon_url: ImageUrl.nullable(),
    colors: z
      .array(z.object({ hex: Hex, role: z.enum(["primary", "accent", "background", "text"]) }))
      .max(8),
    fonts: z
      .array(
        z.object({
          family: Text(100).min(1),
          role: z.enum(["body", "heading"]),
          source: z.enum(["google", "self-hosted", "local"]),
        }),
      )
      .max(4),
    description: Text(500).nullable(),
    copy: BrandCopySchema,
  })
  .openapi("Brand");

const BrandExtractionSchema = BrandSchema.extend({
  source_url: z.string(),
  warnings: z.array(z.string()),
  elapsed_ms: z.number().int(),
}).openapi("BrandExtraction");

const Slug = z
  .string()
  .trim()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,46}[a-z0-9]$/,
    "2–48 lowercase letters, digits and hyphens, not starting or ending with a hyphen",
  )
  .openapi({ example: "acme-cloud" });

const SettingsSchema = z
  .object({
    slug: z.string().nullable().openapi({ description: "The storefront is at /s/<slug>" }),
    brand: BrandSchema.nullable(),
    updated_at: z.string().nullable(),
    updated_by: z.string().nullable(),
  })
  .openapi("StorefrontSettings");

const settingsOf = (row: StorefrontRow | null): StorefrontSettings => ({
  slug: row?.slug ?? null,
  brand: row?.brand ?? null,
  updated_at: row ? iso(row.updatedAt) : null,
  updated_by: row?.updatedBy ?? null,
});

storefront.openapi(
  createRoute({
    method: "get",
    path: "/storefront",
    tags: ["storefront"],
    summary: "The storefront's address and applied brand",
    security,
    responses: { 200: jsonResponse(SettingsSchema, "The settings"), ...problemResponses },
  }),
  async (c) => c.json(settingsOf(await storefrontOf(c.env.DB, c.var.tenantId)), 200),
);

storefront.openapi(
  createRoute(
    permit("pricing:write", "storefront.update", {
      method: "put",
      path: "/storefront",
      tags: ["storefront"],
      summary: "Apply a brand and choose the storefront's address",
      description:
        "Applies the reviewed brand (a Brand Auto-Extract result as returned, edited or not; its extraction-only fields are dropped) and sets the public address /s/<slug>. `brand: null` clears the brand. A slug another workspace holds is 409.",
      security,
      request: {
        body: jsonBody(z.object({ slug: Slug, brand: BrandSchema.nullable() }).strict()),
      },
      responses: {
        200: jsonResponse(SettingsSchema, "The settings after the change"),
        ...problemResponses,
        ...conflictResponse,
      },
    }),
  ),
  async (c) => {
    const { slug, brand } = c.req.valid("json");
    try {
      const row = await putStorefront(
        c.env.DB,
        { tenantId: c.var.tenantId, slug, brand, updatedBy: c.var.actor.ref },
        Date.now(),
      );
      return c.json(settingsOf(row), 200);
    } catch (err) {
      if (err instanceof SlugTakenError) throw new ApiError("conflict", err.message);
      throw err;
    }
  },
);

storefront.openapi(
  createRoute(
    permit("pricing:write", null, {
      method: "post",
      path: "/storefront/brand",
      tags: ["storefront"],
      summary: "Brand Auto-Extract: read a site's brand (stores nothing)",
      description:
        "Fetches the page (https to a public host; every redirect re-checked; plain http only to loopback in local mode) and its stylesheets and logo, each with a timeout and size limit, within 30 s in all. Returns the name, logo, favicon, colours by role, fonts by role, description and copy. The copy is the model's wording grounded in the page's text when the workspace has an AI key, else the page's own words. Stylesheets or images that could not be read are listed in `warnings`.",
      security,
      request: {
        body: jsonBody(
          z
            .object({
              url: z.string().trim().min(1).max(2000).openapi({
                format: "uri",
                description: "The site's home page; a bare host name is read as https://",
              }),
            })
            .strict(),
        ),
      },
      responses: {
        200: jsonResponse(BrandExtractionSchema, "The brand found, for review"),
        ...problemResponses,
        422: {
          description:
            "The address cannot be read as a brand: brand_url_refused (it or a redirect points where Aforo does not fetch), brand_fetch_failed (an error answer, a redirect loop, too many redirects, not HTML), brand_timeout (the page did not arrive in time), brand_too_large (the page is over the size limit)",
          content: problem,
        },
      },
    }),
  ),
  async (c) => {
    const { url } = c.req.valid("json");
    const tenantId = c.var.tenantId;
    try {
      const extraction = await extractBrand(
        /^[a-z][a-z0-9+.-]*:/i.test(url) ? url : `https://${url}`,
        {
          localNetwork: c.env.AFORO_LOCAL_NETWORK,
          wordCopy: (fromPage, page, signal) => wordCopy(c.env, tenantId, fromPage, page, signal),
        },
      );
      return c.json(extraction, 200);
    } catch (err) {
      if (err instanceof BrandError) throw new ApiError(err.code, err.message);
      throw err;
    }
  },
);
