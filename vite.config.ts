/**
 * Renderer build: renderer/ -> dist/renderer, served by the browser host (http) and by the
 * Electron shell's app:// protocol. Both apply a CSP without 'unsafe-inline' scripts, so
 * nothing may be inlined into index.html: assets are always separate files.
 */
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const fromRoot = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: fromRoot('./renderer'),
  // Relative URLs work under both http://127.0.0.1:PORT/ and app://delineate/.
  base: './',
  plugins: [svelte()],
  resolve: {
    alias: {
      $contract: fromRoot('./electron/contract/api.ts'),
      $transport: fromRoot('./renderer/src/transport/index.ts'),
    },
  },
  build: {
    outDir: fromRoot('./dist/renderer'),
    emptyOutDir: true,
    // data: fonts/scripts would be blocked by the CSP; keep every asset a file.
    assetsInlineLimit: 0,
    // Chromium supports modulepreload natively; the polyfill is dead weight.
    modulePreload: { polyfill: false },
    target: 'chrome120',
    sourcemap: true,
    reportCompressedSize: false,
  },
  server: { fs: { allow: [fromRoot('.')] } },
});
