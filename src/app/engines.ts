/**
 * Engines in the browser (the app's twin of src/warp/backend.ts `initTf`), chosen here at the edge:
 *   - TF.js for the warp model: WebGPU → WebGL → wasm ('auto'), or the one the user picks. wasm runs multi-threaded
 *     when the page is cross-origin isolated (the app server sends COOP/COEP) and SIMD is there.
 *   - onnxruntime-web for SAM: WebGPU, then wasm (threads when cross-origin isolated).
 * A GPU engine is used for training only after a gradient self-check: the ops the warp model trains through
 * (conv2d with stride 1 and 2, bilinear resize with half-pixel centres, gather, cumsum, average pooling) must give
 * the CPU backend's gradients within 1e-3 (relative). Otherwise the next engine is tried and the reason is
 * reported: the warp model trains on wasm and cpu here, and tfjs's GPU gradient kernels are not all checked.
 */
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerGradientFixes, registerWasmShims } from '../warp/shims.js';

export type WarpEngineChoice = 'auto' | 'webgpu' | 'webgl' | 'wasm';

export interface WarpEngine {
  /** tfjs backend name ('webgpu' | 'webgl' | 'wasm'). */
  backend: string;
  /** Human-readable, e.g. "wasm (SIMD, 4 threads)". */
  label: string;
  /** Why faster engines were not used. */
  notes: string[];
}

/** Threads the page may use (cross-origin isolated → SharedArrayBuffer → wasm threads). */
export function wasmThreads(): number {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return isolated ? Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1)) : 1;
}

function gradientProbe(): tf.Tensor[] {
  return tf.tidy(() => {
    // Fixed pseudo-random inputs (no RNG state involved).
    const fill = (shape: number[], k: number) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = Math.sin(i * 12.9898 + k * 78.233) * 0.5;
      return tf.tensor(d, shape);
    };
    const x = fill([1, 8, 8, 2], 1);
    const w1 = fill([3, 3, 2, 3], 2);
    const w2 = fill([3, 3, 3, 2], 3);
    const idx = tf.tensor1d([0, 5, 7, 5, 12, 3], 'int32');
    const f = (xx: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => {
      const h = tf.conv2d(xx as tf.Tensor4D, a as tf.Tensor4D, 2, 'same'); // 4x4x3
      const up = tf.image.resizeBilinear(h, [8, 8], false, true); // half-pixel centres
      const g = tf.conv2d(up, b as tf.Tensor4D, 1, 'same'); // 8x8x2
      const pooled = tf.avgPool(g, 3, 1, 'valid');
      const flat = tf.reshape(g, [64, 2]);
      const gathered = tf.gather(flat, idx);
      const cs = tf.cumsum(g, 1);
      return tf.add(tf.add(tf.sum(tf.square(pooled)), tf.sum(tf.mul(gathered, gathered))), tf.sum(tf.mul(cs, 0.01)));
    };
    return tf.grads(f)([x, w1, w2]);
  });
}

/** Gradients of the probe on `backend` vs cpu: the largest relative difference. */
async function gradientError(backend: string): Promise<number> {
  await tf.setBackend('cpu');
  const ref = gradientProbe();
  const refData = await Promise.all(ref.map((t) => t.data()));
  ref.forEach((t) => t.dispose());
  await tf.setBackend(backend);
  const got = gradientProbe();
  const gotData = await Promise.all(got.map((t) => t.data()));
  got.forEach((t) => t.dispose());
  let worst = 0;
  refData.forEach((r, k) => {
    let scale = 1e-6;
    for (const v of r) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(r[i]! - gotData[k]![i]!) / scale);
  });
  return worst;
}

async function tryGpu(name: 'webgpu' | 'webgl', notes: string[]): Promise<boolean> {
  try {
    if (name === 'webgpu') {
      if (!(navigator as { gpu?: unknown }).gpu) {
        notes.push('WebGPU: not available in this browser');
        return false;
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    if (!(await tf.setBackend(name))) {
      notes.push(`${name === 'webgpu' ? 'WebGPU' : 'WebGL'}: could not be initialised`);
      return false;
    }
    await tf.ready();
    const err = await gradientError(name);
    if (!(err < 1e-3)) {
      notes.push(`${name === 'webgpu' ? 'WebGPU' : 'WebGL'}: gradient self-check failed (relative error ${err.toExponential(1)})`);
      return false;
    }
    return true;
  } catch (e) {
    notes.push(`${name === 'webgpu' ? 'WebGPU' : 'WebGL'}: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

/**
 * Initialise TF.js for the warp model. `wasmBase`: URL prefix of the tfjs wasm binaries (ends with '/').
 * Idempotent per choice within one worker.
 */
export async function initWarpEngine(choice: WarpEngineChoice, wasmBase: string): Promise<WarpEngine> {
  tf.env().set('PROD', true);
  registerGradientFixes();
  const notes: string[] = [];
  if (choice === 'auto' || choice === 'webgpu') {
    if (await tryGpu('webgpu', notes)) return { backend: 'webgpu', label: 'WebGPU', notes };
  }
  if (choice === 'auto' || choice === 'webgl') {
    if (await tryGpu('webgl', notes)) return { backend: 'webgl', label: 'WebGL', notes };
  }
  const threads = wasmThreads();
  setWasmPaths(wasmBase);
  setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('the TF.js wasm backend could not be initialised');
  await tf.ready();
  registerWasmShims();
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const mt = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') && threads > 1;
  return { backend: 'wasm', label: `wasm (${simd ? 'SIMD, ' : ''}${mt ? `${threads} threads` : '1 thread'})`, notes };
}
