/**
 * `npm run build:relay [-- --outdir <dir>]`: bundles the relay with esbuild into one ES module,
 * `relay/dist/main.mjs` by default, which runs with plain `node` and no node_modules (the
 * container image holds nothing else). The relay reads no .proto files at run time
 * (relay/protocol.ts), so the bundle is the whole program.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const flag = process.argv.indexOf('--outdir');
const outdir = flag >= 0 && process.argv[flag + 1] ? process.argv[flag + 1]! : join(root, 'relay', 'dist');

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'relay/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS (grpc-js, the AWS SDK) calls require() for Node's built-ins.
  banner: { js: "import { createRequire as __meshlineCreateRequire } from 'node:module'; const require = __meshlineCreateRequire(import.meta.url);" },
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`relay bundle: ${join(outdir, 'main.mjs')} (${(bytes / 1e6).toFixed(1)} MB with source map)`);
