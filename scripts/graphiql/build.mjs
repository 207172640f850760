// Bundles GraphiQL (main.jsx) and Monaco's web workers into graph/server/graphiql/, which Agora
// embeds: one JS and one CSS file for the page, one JS file per worker, Monaco's icon font, the
// third-party licences, and manifest.json naming each file by its role. File names carry a hash
// of their content, so that Agora can serve them with long-lived caching. The output depends only
// on the locked packages (package-lock.json) and the sources here: two builds give the same bytes.
//
// Run through scripts/graphiql.sh (`make graphiql`), which installs the locked packages first.
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, process.argv[2] ?? '../../graph/server/graphiql');

// Start from an empty folder but for the Go file(s) that embed it.
await mkdir(outdir, { recursive: true });
for (const name of await readdir(outdir)) {
  if (!name.endsWith('.go')) await rm(path.join(outdir, name), { recursive: true });
}

const entries = {
  graphiql: './main.jsx',
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
};

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: entries,
  outdir,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome111', 'edge111', 'firefox114', 'safari16.4'],
  jsx: 'automatic',
  loader: { '.ttf': 'file' },
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'none', // collected into LICENSES.txt below
  charset: 'utf8',
  metafile: true,
  logLevel: 'warning',
});

// manifest.json: role → file, for the page.
const manifest = {};
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  const name = path.basename(file);
  if (out.entryPoint) {
    const role = Object.keys(entries).find((k) => name.startsWith(`${k}-`));
    manifest[`${role}.js`] = name;
    if (out.cssBundle) manifest[`${role}.css`] = path.basename(out.cssBundle);
  }
}
const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
await writeFile(path.join(outdir, 'manifest.json'), `${JSON.stringify(sorted, null, 2)}\n`);

// LICENSES.txt: the licence of every package with code in the bundle.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) packages.set(m[1], path.join(here, 'node_modules', m[1]));
}
let licences = 'Third-party software bundled into Agora\'s GraphiQL page (scripts/graphiql/build.mjs).\n';
for (const name of [...packages.keys()].sort()) {
  const dir = packages.get(name);
  const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
  licences += `\n${'='.repeat(78)}\n${name}@${pkg.version} (${pkg.license ?? 'see below'})\n${'='.repeat(78)}\n`;
  const files = (await readdir(dir)).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
  for (const f of files) licences += `\n${(await readFile(path.join(dir, f), 'utf8')).trim()}\n`;
  if (files.length === 0) licences += '\n(no licence file in the package)\n';
}
await writeFile(path.join(outdir, 'LICENSES.txt'), licences);

for (const name of (await readdir(outdir)).sort()) {
  if (name.endsWith('.go')) continue;
  const { size } = await stat(path.join(outdir, name));
  console.log(`${String(size).padStart(9)}  ${name}`);
}
