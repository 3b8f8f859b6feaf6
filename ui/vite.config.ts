import { defineConfig } from 'vite';

// Preact through esbuild's automatic JSX runtime (tsconfig's
// jsxImportSource); no framework plugin needed.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: 'safari15', outDir: 'dist', emptyOutDir: true },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
