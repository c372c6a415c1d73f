/**
 * TensorFlow.js backend selection for the warp model (docs/architecture.md "TensorFlow.js facts measured on the 2-core build machine").
 *
 * `initTf()` picks the fastest available backend, once per process:
 *   'auto' → `@tensorflow/tfjs-node` ('tensorflow') when it happens to be installed (optional, never required;
 *            a failed import silently falls through) → 'wasm' (`@tensorflow/tfjs-backend-wasm`) → 'cpu'.
 * For wasm it registers the training shims of `./shims.ts` (missing gradient kernels, faster conv input gradient);
 * on every backend it registers the tfjs-core gradient fixes of the same module (Cumsum along a non-last axis).
 *
 * Determinism: every kernel used by the warp model is deterministic on a given backend (wasm runs one thread in
 * Node), so a training run with a fixed seed is reproducible bit for bit on the same backend; results differ in
 * the last float bits between backends (wasm vs cpu vs tensorflow).
 *
 * Quietness: library code never prints, so initTf sets tfjs's `PROD` flag, which silences tfjs's console
 * warnings (e.g. the cpu backend's "install tfjs-node" banner). Pass `quiet: false` to keep them.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerGradientFixes, registerWasmShims } from './shims.js';

export type TfBackendChoice = 'auto' | 'wasm' | 'tensorflow' | 'cpu';

export interface InitTfOptions {
  /** Which backend to use; default 'auto' (tensorflow → wasm → cpu). An explicit choice that fails throws. */
  backend?: TfBackendChoice;
  /**
   * Where the `.wasm` binaries live (prefix ending in '/'). Default in Node: the installed package's `dist/`
   * folder (resolved from this module, so it works from any cwd). In a browser pass the URL prefix.
   */
  wasmPaths?: string;
  /** Silence tfjs console warnings via the PROD flag (default true). */
  quiet?: boolean;
}

let initialised: Promise<string> | null = null;
let initialisedChoice: TfBackendChoice | null = null;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions === 'object' && process.versions.node != null;
}

/** The folder of the installed wasm package's binaries, in Node; null elsewhere. */
async function nodeWasmDir(): Promise<string | null> {
  if (!isNode()) return null;
  try {
    const moduleName = 'node:module';
    const { createRequire } = (await import(/* @vite-ignore */ moduleName)) as typeof import('node:module');
    const require = createRequire(import.meta.url);
    const pkgJson = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
    const dir = pkgJson.slice(0, pkgJson.length - 'package.json'.length);
    // file system path; tfjs-backend-wasm reads it with fs in Node.
    return `${dir}dist/`;
  } catch {
    return null;
  }
}

async function tryTensorflow(): Promise<boolean> {
  try {
    const name = '@tensorflow/tfjs-node';
    await import(/* @vite-ignore */ name);
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

async function tryWasm(wasmPaths: string | undefined): Promise<boolean> {
  const prefix = wasmPaths ?? (await nodeWasmDir());
  if (prefix != null) setWasmPaths(prefix);
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok) return false;
    await tf.ready();
    registerWasmShims();
    return true;
  } catch {
    return false;
  }
}

async function doInit(opts: InitTfOptions): Promise<string> {
  const choice = opts.backend ?? 'auto';
  if (opts.quiet ?? true) tf.env().set('PROD', true);
  registerGradientFixes();
  if (choice === 'tensorflow' || choice === 'auto') {
    if (await tryTensorflow()) return tf.getBackend();
    if (choice === 'tensorflow') throw new Error('initTf: @tensorflow/tfjs-node is not installed or failed to load');
  }
  if (choice === 'wasm' || choice === 'auto') {
    if (await tryWasm(opts.wasmPaths)) return tf.getBackend();
    if (choice === 'wasm') throw new Error('initTf: the wasm backend failed to initialise');
  }
  const ok = await tf.setBackend('cpu');
  if (!ok) throw new Error('initTf: no tfjs backend could be initialised');
  await tf.ready();
  return tf.getBackend();
}

/**
 * Initialise tfjs once and return the backend name ('tensorflow' | 'wasm' | 'cpu').
 * Idempotent: later calls with the same (or no) choice return the same promise. Calling again with a different
 * explicit backend switches to it (used by tests that compare backends).
 */
export function initTf(opts: InitTfOptions = {}): Promise<string> {
  const choice = opts.backend ?? 'auto';
  if (initialised != null && (choice === initialisedChoice || choice === 'auto')) {
    return initialised.then(async (name) => {
      if (tf.getBackend() !== name) await tf.setBackend(name);
      return name;
    });
  }
  initialisedChoice = choice;
  initialised = doInit(opts);
  initialised.catch(() => {
    initialised = null;
    initialisedChoice = null;
  });
  return initialised;
}

/** The tfjs namespace used by the warp modules (one import site, so everyone shares one engine). */
export { tf };
