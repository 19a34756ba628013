import { beforeEach, describe, expect, inject, it } from "vitest";
import { keyLog, say, scriptKey } from "../messages-api/client";
import { call, createTenant, expectProblem, type Tenant } from "./helpers";

// Brand Auto-Extract and the storefront settings (issue 19 §1; docs/storefront.md), against the
// saved sites of test/brand-sites/server.ts over real HTTP: each layout's logo, primary colour
// and body font; the copy in the page's own words (no key) and the model's (a scripted key on
// the local Messages API), a made-up number dropped; hostile pages failing cleanly well within
// the 30 s budget; and applying the reviewed brand with a slug, per tenant.

let tenant: Tenant;
const op = () => ({ token: tenant.operator_token });
const site = (path: string) => `http://127.0.0.1:${inject("brandSitesPort")}${path}`;
const messagesApi = () => `http://127.0.0.1:${inject("messagesApiPort")}`;

beforeEach(async () => {
  tenant = await createTenant();
});

const extract = (url: string, token = tenant.operator_token) =>
  call("POST", "/api/storefront/brand", { token, body: { url } });

const colorOf = (body: { colors: { hex: string; role: string }[] }, role: string) =>
  body.colors.find((c) => c.role === role)?.hex;
const fontOf = (
  body: { fonts: { family: string; role: string; source: string }[] },
  role: string,
) => body.fonts.find((f) => f.role === role);

describe("layouts", () => {
  it("a header logo PNG carries the only colours: decoded in workerd", async () => {
    const res = await extract(site("/header-logo/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.logo_url).toBe(site("/header-logo/logo.png"));
    expect(colorOf(res.body, "primary")).toBe("#1d4ed8");
    expect(colorOf(res.body, "accent")).toBe("#f97316");
    expect(colorOf(res.body, "background")).toBe("#ffffff");
    expect(fontOf(res.body, "body")).toEqual({ family: "Georgia", role: "body", source: "local" });
    expect(res.body.favicon_url).toBe(site("/header-logo/favicon.png"));
    expect(res.body.name).toBe("Northwind");
    expect(res.body.source_url).toBe(site("/header-logo/"));
    expect(res.body.warnings).toEqual([]);
    expect(res.body.copy).toEqual({
      hero: "Bill every query, exactly.",
      meta_description: "Northwind meters every query your customers run and bills it to the cent.",
      social_proof: ["Northwind replaced our spreadsheet of 40 tabs in one afternoon."],
      source: "page",
    });
  });

  it("an inline SVG logo comes back as a data: URL, its fills the colours, scripts left out", async () => {
    const res = await extract(site("/inline-svg/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const prefix = "data:image/svg+xml;base64,";
    expect(res.body.logo_url.startsWith(prefix)).toBe(true);
    const svg = new TextDecoder().decode(
      Uint8Array.from(atob(res.body.logo_url.slice(prefix.length)), (ch) => ch.charCodeAt(0)),
    );
    expect(svg).toContain('<path d="M20 2 L38 38 L2 38 Z" fill="#e4572e">');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).not.toMatch(/script|alert|onload/i);
    // The decorative green square outside the header is not the logo.
    expect(svg).not.toContain("#00ff00");
    expect(colorOf(res.body, "primary")).toBe("#e4572e");
    expect(colorOf(res.body, "accent")).toBe("#ffc914");
    expect(fontOf(res.body, "body")?.family).toBe("Helvetica Neue");
    expect(fontOf(res.body, "heading")?.family).toBe("Georgia");
    expect(res.body.name).toBe("Ember");
    // The SVG's own <title> is not the page's.
    expect(res.body.copy.hero).toBe("Invoicing that keeps up with your usage");
  });

  it("theme-color only", async () => {
    const res = await extract(site("/theme-color/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.logo_url).toBe(site("/theme-color/social.png"));
    // A percent-encoded SVG favicon comes back in the one form the storefront stores: base64.
    const svg =
      "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='16' height='16' fill='#0f766e'/></svg>";
    expect(res.body.favicon_url).toBe(`data:image/svg+xml;base64,${btoa(svg)}`);
    expect(colorOf(res.body, "primary")).toBe("#0f766e");
    expect(fontOf(res.body, "body")?.family).toBe("Trebuchet MS");
    expect(res.body.description).toBe(
      "Tidewater prices API calls by the second, with no surprises at month end.",
    );
  });

  it("colours only in CSS custom properties of a linked stylesheet", async () => {
    const res = await extract(site("/css-vars/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.logo_url).toBe(site("/css-vars/logo.svg"));
    expect(res.body.colors).toEqual([
      { hex: "#6d28d9", role: "primary" },
      { hex: "#f59e0b", role: "accent" },
      { hex: "#faf5ff", role: "background" },
      { hex: "#1e1b4b", role: "text" },
    ]);
    expect(fontOf(res.body, "body")).toEqual({
      family: "IBM Plex Sans",
      role: "body",
      source: "local",
    });
    // The largest icon by declared size.
    expect(res.body.favicon_url).toBe(site("/css-vars/favicon-64.png"));
    expect(res.body.name).toBe("Violet Cloud");
    expect(res.body.copy.social_proof).toEqual(["Trusted by Globex, Initech"]);
  });

  it("Google Fonts link (never fetched) names the fonts; the apple-touch-icon is the logo", async () => {
    const res = await extract(site("/google-fonts/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.logo_url).toBe(site("/google-fonts/apple-touch-icon.png"));
    expect(colorOf(res.body, "primary")).toBe("#db2777");
    expect(res.body.fonts).toEqual([
      { family: "Inter", role: "body", source: "google" },
      { family: "Playfair Display", role: "heading", source: "google" },
    ]);
    expect(res.body.name).toBe("Petal");
  });

  it("self-hosted @font-face through an @import; a logo image by class", async () => {
    const res = await extract(site("/self-hosted/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.logo_url).toBe(site("/self-hosted/logo.jpg"));
    expect(colorOf(res.body, "primary")).toBe("#16a34a");
    expect(fontOf(res.body, "body")).toEqual({
      family: "Acme Sans",
      role: "body",
      source: "self-hosted",
    });
    expect(res.body.name).toBe("Acme Grid");
  });

  it("a stylesheet that cannot be read is a warning, not a failure", async () => {
    const res = await extract(site("/theme-color/"));
    expect(res.status).toBe(200);
    expect(res.body.warnings).toEqual([
      `a stylesheet: ${site("/theme-color/missing.css")} answered 404`,
    ]);
  });
});

describe("hostile pages fail cleanly within the time limit", () => {
  const cases: [string, string, number, string][] = [
    ["a huge streamed page", "/hostile/huge", 422, "brand_too_large"],
    ["a huge declared page", "/hostile/huge-declared", 422, "brand_too_large"],
    ["a page that drips forever", "/hostile/slow", 422, "brand_timeout"],
    ["a server that never answers", "/hostile/hang", 422, "brand_timeout"],
    ["a redirect loop", "/hostile/loop-a", 422, "brand_fetch_failed"],
    ["an endless redirect chain", "/hostile/chain/0", 422, "brand_fetch_failed"],
    ["a redirect to the metadata address", "/hostile/metadata", 422, "brand_url_refused"],
    ["a redirect to a private address", "/hostile/private", 422, "brand_url_refused"],
    ["a PDF", "/hostile/pdf", 422, "brand_fetch_failed"],
    ["a 404", "/hostile/missing", 422, "brand_fetch_failed"],
  ];
  it.each(cases)(
    "%s",
    async (_, path, status, code) => {
      const started = Date.now();
      const res = await extract(site(path));
      const elapsed = Date.now() - started;
      expectProblem(res, status, code);
      // Each fetch has 5 s; nothing hostile may come near the 30 s budget.
      expect(elapsed).toBeLessThan(8_000);
    },
    15_000,
  );

  it("stylesheets and a logo that never answer cost their own timeouts, not the extraction", async () => {
    const started = Date.now();
    const res = await extract(site("/hostile/slow-assets"));
    const elapsed = Date.now() - started;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.copy.hero).toBe("Still here");
    expect(res.body.logo_url).toBe(site("/hostile/hang.png"));
    expect(res.body.warnings).toEqual([
      `a stylesheet (${site("/hostile/hang.css?1")}) did not finish within 5000 ms`,
      `a stylesheet (${site("/hostile/hang.css?2")}) did not finish within 5000 ms`,
      `the logo image (${site("/hostile/hang.png")}) did not finish within 5000 ms`,
    ]);
    // The two stylesheets wait in parallel, then the logo: about 10 s, far inside the 30 s.
    expect(elapsed).toBeLessThan(14_000);
  }, 20_000);

  it("private, metadata and non-http addresses are refused before any fetch", async () => {
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "https://10.0.0.1/",
      "http://example.com/",
      "file:///etc/passwd",
      "https://user:pw@example.com/",
    ]) {
      expectProblem(await extract(url), 422, "brand_url_refused");
    }
    expectProblem(
      await call("POST", "/api/storefront/brand", { ...op(), body: { url: "" } }),
      400,
      "validation_failed",
    );
  });
});

describe("copy", () => {
  async function withKey(steps: Parameters<typeof scriptKey>[2]): Promise<string> {
    const key = `sk-ant-test-${crypto.randomUUID()}`;
    const put = await call("PUT", "/api/ai/settings", { ...op(), body: { api_key: key } });
    expect(put.status).toBe(200);
    await scriptKey(messagesApi(), key, steps);
    return key;
  }

  it("with a key, the model words hero and meta description from the page text, quoted as data", async () => {
    const key = await withKey([
      say(
        '```json\n{"hero": "Invoices your data customers trust", "meta_description": "Northwind turns every warehouse query into an exact invoice."}\n```',
      ),
    ]);
    const res = await extract(site("/header-logo/"));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.copy).toEqual({
      hero: "Invoices your data customers trust",
      meta_description: "Northwind turns every warehouse query into an exact invoice.",
      // Quotes stay the page's verbatim.
      social_proof: ["Northwind replaced our spreadsheet of 40 tabs in one afternoon."],
      source: "ai",
    });
    const [sent] = await keyLog(messagesApi(), key);
    const body = JSON.stringify(sent?.body);
    expect(body).toContain("untrusted_content");
    expect(body).toContain("Bill every query, exactly.");
    // The extraction's figures are Aforo's: the colours never depend on the model.
    expect(colorOf(res.body, "primary")).toBe("#1d4ed8");
  });

  it("a model wording with a number the page does not have is dropped for the page's words", async () => {
    await withKey([
      say(
        '{"hero": "Trusted by 10,000 data teams", "meta_description": "Northwind bills every query to the cent."}',
      ),
    ]);
    const res = await extract(site("/header-logo/"));
    expect(res.status).toBe(200);
    expect(res.body.copy.source).toBe("page");
    expect(res.body.copy.hero).toBe("Bill every query, exactly.");
    expect(res.body.warnings).toContain(
      "The model's copy carried a number the page does not, so the page's own words are used.",
    );
  });

  it("a number the page does have is kept", async () => {
    await withKey([
      say(
        '{"hero": "Forty tabs, one afternoon", "meta_description": "Teams replace spreadsheets of 40 tabs with Northwind."}',
      ),
    ]);
    const res = await extract(site("/header-logo/"));
    expect(res.body.copy.source).toBe("ai");
    expect(res.body.copy.meta_description).toBe(
      "Teams replace spreadsheets of 40 tabs with Northwind.",
    );
  });

  it("the API failing leaves the page's words and says why", async () => {
    await withKey([{ error: 400 }]);
    const res = await extract(site("/header-logo/"));
    expect(res.status).toBe(200);
    expect(res.body.copy.source).toBe("page");
    expect(
      res.body.warnings.some((w: string) => w.startsWith("The page's own words are the copy:")),
    ).toBe(true);
  });
});

describe("storefront settings", () => {
  const brandOf = async (path: string) => {
    const res = await extract(site(path));
    expect(res.status).toBe(200);
    return res.body;
  };

  it("empty until applied; applying the extraction as returned round-trips, audited", async () => {
    expect((await call("GET", "/api/storefront", op())).body).toEqual({
      slug: null,
      brand: null,
      updated_at: null,
      updated_by: null,
    });
    const extraction = await brandOf("/css-vars/");
    const put = await call("PUT", "/api/storefront", {
      ...op(),
      body: { slug: "violet-cloud", brand: extraction },
    });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const { source_url: _, warnings: __, elapsed_ms: ___, ...brand } = extraction;
    const got = (await call("GET", "/api/storefront", op())).body;
    expect(got).toMatchObject({ slug: "violet-cloud", brand });
    expect(got.brand.source_url).toBeUndefined();
    expect(typeof got.updated_at).toBe("string");
    expect(got.updated_by).toMatch(/^token:/);
    const audit = await call("GET", "/api/audit?action=storefront.update", op());
    expect(audit.status).toBe(200);
    expect(audit.body.data.map((r: { action: string }) => r.action)).toContain("storefront.update");

    // An edited brand, then a cleared one.
    const edited = {
      ...brand,
      colors: [{ hex: "#123ABC", role: "primary" }],
      copy: { ...brand.copy, hero: "Our own words" },
    };
    await call("PUT", "/api/storefront", { ...op(), body: { slug: "violet", brand: edited } });
    const after = (await call("GET", "/api/storefront", op())).body;
    expect(after.slug).toBe("violet");
    expect(after.brand.colors).toEqual([{ hex: "#123abc", role: "primary" }]);
    expect(after.brand.copy.hero).toBe("Our own words");
    await call("PUT", "/api/storefront", { ...op(), body: { slug: "violet", brand: null } });
    expect((await call("GET", "/api/storefront", op())).body.brand).toBeNull();
  });

  it("applies every layout's extraction as returned: what Brand Auto-Extract answers, PUT takes", async () => {
    for (const layout of [
      "header-logo",
      "inline-svg",
      "theme-color",
      "css-vars",
      "google-fonts",
      "self-hosted",
    ]) {
      const extraction = await brandOf(`/${layout}/`);
      const put = await call("PUT", "/api/storefront", {
        ...op(),
        body: { slug: "every-layout", brand: extraction },
      });
      expect(put.status, `${layout}: ${JSON.stringify(put.body)}`).toBe(200);
    }
  });

  it("validates the slug and the brand", async () => {
    const brand = await brandOf("/theme-color/");
    for (const slug of ["a", "-acme", "acme-", "Acme", "ac me", "acme_cloud", "x".repeat(49)]) {
      expectProblem(
        await call("PUT", "/api/storefront", { ...op(), body: { slug, brand } }),
        400,
        "validation_failed",
      );
    }
    for (const bad of [
      { ...brand, logo_url: "javascript:alert(1)" },
      { ...brand, colors: [{ hex: "blue", role: "primary" }] },
      { ...brand, fonts: [{ family: "Inter", role: "caption", source: "google" }] },
    ]) {
      expectProblem(
        await call("PUT", "/api/storefront", { ...op(), body: { slug: "ok-slug", brand: bad } }),
        400,
        "validation_failed",
      );
    }
    expect((await call("GET", "/api/storefront", op())).body.slug).toBeNull();
  });

  it("another tenant's slug is a conflict; each tenant sees only its own storefront", async () => {
    const other = await createTenant("Other Co");
    const brand = await brandOf("/google-fonts/");
    const mine = await call("PUT", "/api/storefront", {
      ...op(),
      body: { slug: "petal", brand },
    });
    expect(mine.status).toBe(200);
    // Re-applying one's own slug is no conflict.
    expect(
      (await call("PUT", "/api/storefront", { ...op(), body: { slug: "petal", brand } })).status,
    ).toBe(200);
    expectProblem(
      await call("PUT", "/api/storefront", {
        token: other.operator_token,
        body: { slug: "petal", brand: null },
      }),
      409,
      "conflict",
    );
    const theirs = (await call("GET", "/api/storefront", { token: other.operator_token })).body;
    expect(theirs).toEqual({ slug: null, brand: null, updated_at: null, updated_by: null });
    expect(
      (
        await call("PUT", "/api/storefront", {
          token: other.operator_token,
          body: { slug: "other-co", brand: null },
        })
      ).status,
    ).toBe(200);
    expect((await call("GET", "/api/storefront", op())).body.slug).toBe("petal");
  });
});
