// Builds the browser client into dist/, which is committed and embedded in the aisys binary.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The server's Content-Security-Policy allows no inline script or style: keep every asset a file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    // The bundle is one file; its budget is 400 KB gzipped (docs/benchmarks.md), not this raw size.
    chunkSizeWarningLimit: 1000,
  },
});
