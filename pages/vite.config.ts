import preact from "@preact/preset-vite";
import { defineConfig } from "vite";

// The dashboard builds to pages/dist, which the edge worker serves as static assets
// (wrangler.toml [assets]); the same folder can be deployed to Cloudflare Pages.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [preact()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  server: { proxy: { "/api": "http://127.0.0.1:8787", "/v1": "http://127.0.0.1:8787" } },
});
