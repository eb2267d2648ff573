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
    // The app is one file, with a budget of 400 KB gzipped (docs/benchmarks.md). Mermaid (drawn
    // only in the docs viewer) is loaded on first use as chunks of its own; its largest, a graph
    // layout engine that only some diagram kinds load, is 1.5 MB.
    chunkSizeWarningLimit: 1600,
  },
});
