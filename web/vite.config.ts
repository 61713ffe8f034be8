import { defineConfig } from 'vite';

// The binary serves web/dist at / (server.web_root). Hashed files go under assets/, which
// src/net/static_files.cpp serves as immutable; index.html is revalidated on every load.
// No CDN: everything the console needs is bundled here.
export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev` against a running server: LLMP_URL=http://127.0.0.1:8080 npm run dev
    proxy: Object.fromEntries(
      ['/v1', '/admin', '/metrics', '/readyz', '/healthz', '/version'].map((p) => [
        p,
        { target: process.env.LLMP_URL ?? 'http://127.0.0.1:8080', changeOrigin: false },
      ]),
    ),
  },
});
