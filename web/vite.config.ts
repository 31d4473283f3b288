import { defineConfig } from "vite";

// The app is served at the root of its origin (CloudFront, or the API in local mode) and calls
// the API on that same origin under /api; `vite dev` proxies /api to a local API.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets", // hashed names: CloudFront caches /assets/* for a year
    sourcemap: true,
    target: "es2022",
  },
  server: {
    proxy: {
      "/api": process.env.BIWOCO_API_URL ?? "http://127.0.0.1:8000",
      "/healthz": process.env.BIWOCO_API_URL ?? "http://127.0.0.1:8000",
    },
  },
});
