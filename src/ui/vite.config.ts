/**
 * Builds the fleet view into one self-contained HTML file, dist/ui/fleet.html (script and style
 * inlined: the host's default CSP allows nothing else). Run by `npm run build:ui`.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The entry is index.html (so nothing in src/ can be taken for the built file); publish it as fleet.html. */
const rename: Plugin = {
  name: 'fleet-html',
  enforce: 'post',
  generateBundle(_options, bundle) {
    const html = bundle['index.html'];
    if (html) html.fileName = 'fleet.html';
  },
};

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  plugins: [viteSingleFile({ removeViteModuleLoader: true }), rename],
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
