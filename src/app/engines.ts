/**
 * Engines in the browser (the app's twin of src/warp/backend.ts `initTf`), chosen here at the edge:
 *   - TF.js for the warp model: WebGPU → WebGL → wasm ('auto'), or the one the user picks. wasm runs multi-threaded
 *     when the page is cross-origin isolated (the app server sends COOP/COEP) and SIMD is there.
 *   - onnxruntime-web for SAM: WebGPU, then wasm (threads when cross-origin isolated).
 * A GPU engine is used for training only after a gradient self-check: the ops the warp model trains through
 * (conv2d with stride 1 and 2, bilinear resize with half-pixel centres, gather, cumsum, average pooling) must give
 * the CPU backend's gradients within 1e-3 (relative). Otherwise the next engine is tried and the reason is
 * reported: the warp model trains on wasm and cpu here, and tfjs's GPU gradient kernels are not all checked.
 * TF.js's GPU kernels for the bilinear-resize gradient ignore half-pixel centres (the CPU ones are fixed in
 * src/warp/shims.ts), so on a GPU engine the gradient of ResizeBilinear is replaced by `separableResizeGradient`.
 * 'auto' skips a software WebGL (SwiftShader, as in headless browsers without a GPU): it is slower than wasm.
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

/**
 * Interpolation matrix of bilinear resizing along one axis, as TF.js computes it (rows: output positions, columns:
 * input positions): source position f = ratio·(o + ½) − ½ with half-pixel centres, else ratio·o; weights 1 − frac and
 * frac on floor(f) (clamped at 0) and ceil(f) (clamped at in − 1).
 */
export function resizeAxisMatrix(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Float32Array {
  const ratio = (alignCorners && outSize > 1 ? inSize - 1 : inSize) / (alignCorners && outSize > 1 ? outSize - 1 : outSize);
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const f = halfPixelCenters ? ratio * (o + 0.5) - 0.5 : ratio * o;
    const lo = Math.max(0, Math.floor(f));
    const hi = Math.min(inSize - 1, Math.ceil(f));
    const frac = f - lo;
    m[o * inSize + lo] += 1 - frac;
    m[o * inSize + hi] += frac;
  }
  return m;
}

/**
 * The gradient of tf.image.resizeBilinear from tensor ops (any backend): resizing is separable,
 * y[b,·,·,c] = Ry · x[b,·,·,c] · Rxᵀ, so dx[b,·,·,c] = Ryᵀ · dy[b,·,·,c] · Rx, two matrix products.
 */
export function separableResizeGradient(dy: tf.Tensor4D, images: tf.Tensor4D, alignCorners: boolean, halfPixelCenters: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, inH, inW, c] = images.shape;
    const [, outH, outW] = dy.shape;
    const rx = tf.tensor2d(resizeAxisMatrix(inW, outW, alignCorners, halfPixelCenters), [outW, inW]);
    const ry = tf.tensor2d(resizeAxisMatrix(inH, outH, alignCorners, halfPixelCenters), [outH, inH]);
    // [B,H',W',C] → [B,C,H',W'] → rows of W' → · Rx → [B·C·H', W]
    const alongW = tf.matMul(tf.reshape(tf.transpose(dy, [0, 3, 1, 2]), [b * c * outH, outW]), rx);
    // → [B·C, H', W] → [B·C, W, H'] → · Ry → [B·C·W, H]
    const alongH = tf.matMul(tf.reshape(tf.transpose(tf.reshape(alongW, [b * c, outH, inW]), [0, 2, 1]), [b * c * inW, outH]), ry);
    // → [B, C, W, H] → [B, H, W, C]
    return tf.transpose(tf.reshape(alongH, [b, c, inW, inH]), [0, 3, 2, 1]) as tf.Tensor4D;
  });
}

let originalResizeGradient: ReturnType<typeof tf.getGradient> | null = null;

/** Replace ResizeBilinear's gradient by `separableResizeGradient` (for a GPU engine only; see the module comment). */
function useSeparableResizeGradient(): void {
  if (originalResizeGradient) return;
  originalResizeGradient = tf.getGradient('ResizeBilinear');
  tf.registerGradient({
    kernelName: 'ResizeBilinear',
    inputsToSave: ['images'],
    gradFunc: (dy, saved, attrs) => {
      const { alignCorners, halfPixelCenters } = attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean };
      return { images: () => separableResizeGradient(dy as tf.Tensor4D, saved[0] as tf.Tensor4D, alignCorners, halfPixelCenters) };
    },
  });
}

/** Back to TF.js's own ResizeBilinear gradient (and the fixed ResizeBilinearGrad kernel of the CPU backends). */
function restoreResizeGradient(): void {
  if (!originalResizeGradient) return;
  tf.registerGradient(originalResizeGradient);
  originalResizeGradient = null;
}

/** The WebGL renderer's name when the browser tells it (e.g. "SwiftShader" for software rendering). */
function webglRenderer(): string {
  try {
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : null;
    const gl = canvas?.getContext('webgl2') as WebGL2RenderingContext | null;
    if (!gl) return '';
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  } catch {
    return '';
  }
}

async function tryGpu(name: 'webgpu' | 'webgl', notes: string[], auto: boolean): Promise<boolean> {
  try {
    if (name === 'webgpu') {
      if (!(navigator as { gpu?: unknown }).gpu) {
        notes.push('WebGPU: not available in this browser');
        return false;
      }
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    if (name === 'webgl' && auto && /swiftshader|llvmpipe|software/i.test(webglRenderer())) {
      notes.push(`WebGL: software renderer (${webglRenderer()}), slower than wasm`);
      return false;
    }
    if (!(await tf.setBackend(name))) {
      notes.push(`${name === 'webgpu' ? 'WebGPU' : 'WebGL'}: could not be initialised`);
      return false;
    }
    await tf.ready();
    useSeparableResizeGradient();
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
    if (await tryGpu('webgpu', notes, choice === 'auto')) return { backend: 'webgpu', label: 'WebGPU', notes };
  }
  if (choice === 'auto' || choice === 'webgl') {
    if (await tryGpu('webgl', notes, choice === 'auto')) return { backend: 'webgl', label: 'WebGL', notes };
  }
  restoreResizeGradient();
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
