// Builds the web console into dist/web (run by `npm run build`, after tsc): esbuild bundles the two
// pages' TypeScript and CSS (xterm.js and its add-ons included — the conductor serves everything,
// no CDN), names assets by content hash (served with a one-year immutable cache), writes the HTML
// pages with those names, a .gz beside every file (served when the browser accepts gzip), and
// manifest.json listing what each page loads with its gzipped size.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'dist', 'web');
const assets = join(out, 'assets');
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

// `#libs/<name>` → the library's TypeScript source (only pure libraries are imported here)
const libsAlias = {
  name: 'libs-alias',
  setup(b) {
    b.onResolve({ filter: /^#libs\// }, (args) => ({ path: join(root, 'libs', args.path.slice('#libs/'.length), 'src', 'index.ts') }));
  },
};

const pages = { nodes: 'src/pages/nodes.ts', console: 'src/pages/console.ts' };
const result = await build({
  entryPoints: Object.fromEntries(Object.entries(pages).map(([k, v]) => [k, join(here, v)])),
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  outdir: assets,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  plugins: [libsAlias],
});

const outputs = result.metafile.outputs;
const url = (file) => `/ui/assets/${basename(file)}`;
/** Every file a page's entry loads: its JS, the chunks it imports (transitively) and its CSS. */
function filesOf(entry) {
  const [file, meta] = Object.entries(outputs).find(([, m]) => m.entryPoint && m.entryPoint.endsWith(entry));
  const js = new Set();
  const css = new Set();
  const walk = (f) => {
    if (js.has(f)) return;
    js.add(f);
    const m = outputs[f];
    if (m.cssBundle) css.add(m.cssBundle);
    for (const i of m.imports) if (i.kind === 'import-statement' && !i.external) walk(i.path);
  };
  walk(file);
  if (meta.cssBundle) css.add(meta.cssBundle);
  return { js: [...js], css: [...css] };
}

const gz = (buf) => gzipSync(buf, { level: 9 });
const manifest = { pages: {} };
for (const [page, entry] of Object.entries(pages)) {
  const { js, css } = filesOf(entry);
  const [main, ...chunks] = js;
  const styles = css.map((f) => `<link rel="stylesheet" href="${url(f)}">`).join('\n');
  const scripts = [...chunks.map((f) => `<link rel="modulepreload" href="${url(f)}">`), `<script type="module" src="${url(main)}"></script>`].join('\n');
  const html = readFileSync(join(here, 'html', `${page}.html`), 'utf8').replace('{{styles}}', styles).replace('{{scripts}}', scripts);
  const htmlFile = join(out, `${page}.html`);
  writeFileSync(htmlFile, html);
  const files = [htmlFile, ...js.map((f) => join(root, f)), ...css.map((f) => join(root, f))];
  const sizes = Object.fromEntries(files.map((f) => [relative(out, f), { bytes: readFileSync(f).length, gzipBytes: gz(readFileSync(f)).length }]));
  manifest.pages[page] = { files: sizes, gzipBytes: Object.values(sizes).reduce((a, s) => a + s.gzipBytes, 0) };
}
for (const f of [...Object.keys(outputs).map((f) => join(root, f)), join(out, 'nodes.html'), join(out, 'console.html')]) writeFileSync(`${f}.gz`, gz(readFileSync(f)));
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
for (const [page, m] of Object.entries(manifest.pages)) process.stderr.write(`web: ${page} page ${(m.gzipBytes / 1024).toFixed(1)} KiB gzipped\n`);
