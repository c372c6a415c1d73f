/**
 * Vite build of the browser app (src/app → dist/app): `npm run build:app`, or on demand by `medpersam app`.
 * Static files only; the wasm binaries of TF.js and onnxruntime-web are copied beside the bundle (tfjs/, ort/)
 * so the app never fetches anything from another host. `MEDPERSAM_APP_OUT` moves the output folder (the tests
 * build into a temporary folder).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
/** A package's folder: up from its resolved entry to the package.json that names it (exports may hide package.json). */
function pkgDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (dirname(dir) !== dir) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name) return dir;
    } catch {
      // no package.json here
    }
    dir = dirname(dir);
  }
  throw new Error(`cannot find the folder of ${name}`);
}
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** Binaries the app loads at run time, by output path. */
function runtimeBinaries(): Record<string, string> {
  const tfjs = join(pkgDir('@tensorflow/tfjs-backend-wasm'), 'dist');
  const ort = join(pkgDir('onnxruntime-web'), 'dist');
  return {
    'tfjs/tfjs-backend-wasm.wasm': join(tfjs, 'tfjs-backend-wasm.wasm'),
    'tfjs/tfjs-backend-wasm-simd.wasm': join(tfjs, 'tfjs-backend-wasm-simd.wasm'),
    'tfjs/tfjs-backend-wasm-threaded-simd.wasm': join(tfjs, 'tfjs-backend-wasm-threaded-simd.wasm'),
    'ort/ort-wasm-simd-threaded.jsep.mjs': join(ort, 'ort-wasm-simd-threaded.jsep.mjs'),
    'ort/ort-wasm-simd-threaded.jsep.wasm': join(ort, 'ort-wasm-simd-threaded.jsep.wasm'),
  };
}

function copyRuntimeBinaries(): Plugin {
  return {
    name: 'medpersam-runtime-binaries',
    apply: 'build',
    generateBundle() {
      for (const [fileName, from] of Object.entries(runtimeBinaries())) this.emitFile({ type: 'asset', fileName, source: readFileSync(from) });
    },
  };
}

export default defineConfig({
  root: join(root, 'src/app'),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  // onnxruntime-web's build that loads its wasm glue from ort/ (not inlined): its worker threads need a real URL.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  define: { __MEDPERSAM_VERSION__: JSON.stringify(version) },
  worker: { format: 'es' },
  build: {
    outDir: resolve(process.env['MEDPERSAM_APP_OUT'] ?? join(root, 'dist/app')),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 10_000,
    reportCompressedSize: false,
    // Not minified: TF.js's threaded wasm starts its threads from the source text of its module factory
    // (Function.prototype.toString), which must not refer to names a minifier renamed.
    minify: false,
  },
  plugins: [copyRuntimeBinaries()],
});
