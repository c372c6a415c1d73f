/**
 * Spatial transformer (paper §3.1: φ ∘ I, the warped image; Eq. 4: the warped mask) — tensors NHWC float32.
 *
 * Flow convention (everywhere in src/warp): a flow is a tensor [B,H,W,2] (or a typed array H*W*2, interleaved)
 * whose channel 0 is dx and channel 1 is dy, a DISPLACEMENT in pixels of the grid it lives on. The warped
 * output at pixel (x, y) samples the source at (x + dx, y + dy) ("backward" warping, as VoxelMorph/NICE-Trans).
 * Pixel (x, y) means the pixel centre; sample positions are continuous pixel coordinates in the same frame.
 *
 * Differentiable (tfjs): `warpBilinear` (= `warpImage`), `affineGrid`, `upsampleFlow`, `composeFlows`.
 * Gradients reach the flow through the bilinear weights and the source through `tf.gather` (works on wasm with
 * the UnsortedSegmentSum shim of shims.ts).
 * Plain typed arrays, no tensors (for full-resolution label warps): `upsampleFlowPlanes`, `warpLabelNearest`,
 * `warpLabelArgmax`, `warpPlaneBilinear`.
 */
import * as tf from '@tensorflow/tfjs';
import { createLabelMap, type LabelMap } from '../image/types.js';

/** What a sample outside the source returns: 'zeros' → 0; 'border' → the nearest edge pixel (clamped). */
export type Padding = 'zeros' | 'border';

export interface WarpOptions {
  /** Out-of-image handling, default 'border' (no artificial black edges for SSIM/NCC to fight). */
  padding?: Padding;
}

/** [1,H,W,2] constant tensor of pixel coordinates (x, y). */
function pixelGrid(height: number, width: number): tf.Tensor4D {
  const data = new Float32Array(height * width * 2);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 2) {
      data[i] = x;
      data[i + 1] = y;
    }
  }
  return tf.tensor4d(data, [1, height, width, 2]);
}

/** int32 scalar (a bare JS number would promote int32 index tensors to float32). */
function int(n: number): tf.Scalar {
  return tf.scalar(n, 'int32');
}

/**
 * Evaluate fn off the gradient tape: its result is a constant for autodiff. (A customGrad with no tensor inputs
 * records a node nothing flows into.) Needed for the gather indices: an int32 tensor computed from the flow
 * on the tape makes tfjs demand a float32 gradient for gather's `indices` and throw.
 */
function constantOf<T extends tf.Tensor>(fn: () => T): T {
  const op = tf.customGrad(((save: tf.GradSaveFunc) => {
    void save;
    return { value: fn(), gradFunc: () => [] };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as () => T)();
}

interface AxisTerms {
  /** lower / upper neighbour index, int32, [B,H,W,1] (constants for autodiff) */
  i0: tf.Tensor;
  i1: tf.Tensor;
  /** their weights (differentiable w.r.t. the position), [B,H,W,1] */
  w0: tf.Tensor;
  w1: tf.Tensor;
}

/** Neighbours and linear-interpolation weights along one axis of size `size` for positions `p`. */
function axisTerms(p: tf.Tensor, size: number, padding: Padding): AxisTerms {
  if (padding === 'border') {
    const pc = tf.clipByValue(p, 0, size - 1); // gradient 0 where clamped
    const f = constantOf(() => tf.minimum(tf.floor(pc), Math.max(size - 2, 0)));
    const w1 = tf.sub(pc, f);
    const w0 = tf.sub(1, w1);
    const i0 = constantOf(() => tf.cast(f, 'int32'));
    const i1 = constantOf(() => tf.minimum(tf.add(i0, int(1)), int(size - 1)));
    return { i0, i1, w0, w1 };
  }
  const f = constantOf(() => tf.floor(p));
  const w1raw = tf.sub(p, f);
  const w0raw = tf.sub(1, w1raw);
  const inside = (i: tf.Tensor): tf.Tensor => tf.cast(tf.logicalAnd(tf.greaterEqual(i, 0), tf.lessEqual(i, size - 1)), 'float32');
  const m0 = constantOf(() => inside(f));
  const m1 = constantOf(() => inside(tf.add(f, 1)));
  // (wasm's ClipByValue mishandles int32: clamp in float, then cast)
  const i0 = constantOf(() => tf.cast(tf.clipByValue(f, 0, size - 1), 'int32'));
  const i1 = constantOf(() => tf.cast(tf.clipByValue(tf.add(f, 1), 0, size - 1), 'int32'));
  return { i0, i1, w0: tf.mul(w0raw, m0), w1: tf.mul(w1raw, m1) };
}

/**
 * Differentiable bilinear warp: out[b,y,x,:] = source[b, y+dy, x+dx, :] (bilinear), NHWC float32.
 * @param source [B,H,W,C]
 * @param flow   [B,H,W,2] displacement (dx, dy) in pixels of this H×W grid; B must equal source's B
 * @returns      [B,H,W,C]. A zero flow returns the source exactly; integer flows give exact shifted copies.
 */
export function warpBilinear(source: tf.Tensor4D, flow: tf.Tensor4D, opts: WarpOptions = {}): tf.Tensor4D {
  const [B, H, W, C] = source.shape;
  if (flow.shape[0] !== B || flow.shape[1] !== H || flow.shape[2] !== W || flow.shape[3] !== 2) {
    throw new Error(`warpBilinear: flow shape ${flow.shape} does not match source ${source.shape} (need [B,H,W,2])`);
  }
  const padding = opts.padding ?? 'border';
  return tf.tidy(() => {
    const pos = tf.add(flow, pixelGrid(H, W));
    const [px, py] = tf.split(pos, 2, 3);
    const ax = axisTerms(px!, W, padding);
    const ay = axisTerms(py!, H, padding);
    // One gather for the four neighbours: flat row indices [4, B,H,W,1] → rows [4*B*H*W, C].
    const idx = constantOf(() => {
      const batchOffset = tf.reshape(tf.mul(tf.range(0, B, 1, 'int32'), int(H * W)), [B, 1, 1, 1]);
      const r0 = tf.add(batchOffset, tf.mul(ay.i0, int(W)));
      const r1 = tf.add(batchOffset, tf.mul(ay.i1, int(W)));
      return tf.reshape(tf.stack([tf.add(r0, ax.i0), tf.add(r0, ax.i1), tf.add(r1, ax.i0), tf.add(r1, ax.i1)]), [-1]);
    });
    const flat = tf.reshape(source, [B * H * W, C]);
    const vals = tf.reshape(tf.gather(flat, idx), [4, B, H, W, C]);
    const [v00, v01, v10, v11] = tf.unstack(vals);
    const top = tf.add(tf.mul(v00!, ax.w0), tf.mul(v01!, ax.w1));
    const bottom = tf.add(tf.mul(v10!, ax.w0), tf.mul(v11!, ax.w1));
    return tf.add(tf.mul(top, ay.w0), tf.mul(bottom, ay.w1)) as tf.Tensor4D;
  });
}

/** Public API name: same as `warpBilinear`. */
export const warpImage = warpBilinear;

/**
 * Dense flow of a 2×3 affine matrix, in the pixel convention above (differentiable w.r.t. theta).
 *
 * theta acts on NORMALISED coordinates with align_corners = false semantics (PyTorch `affine_grid` default):
 * u = (2x + 1)/W − 1, v = (2y + 1)/H − 1, so −1/+1 are the outer edges of the first/last pixel and (0,0) is the
 * image centre. The target pixel (u, v) samples the source at θ·[u, v, 1]. Identity θ = [[1,0,0],[0,1,0]] gives a
 * zero flow exactly: flow_x = W/2·((θ00−1)u + θ01 v + θ02), flow_y = H/2·(θ10 u + (θ11−1)v + θ12).
 * @param theta [B,2,3]
 * @returns     flow [B,H,W,2]
 */
export function affineGrid(theta: tf.Tensor3D, height: number, width: number): tf.Tensor4D {
  const B = theta.shape[0];
  return tf.tidy(() => {
    const uv = new Float32Array(height * width * 3);
    for (let y = 0, i = 0; y < height; y++) {
      for (let x = 0; x < width; x++, i += 3) {
        uv[i] = (2 * x + 1) / width - 1;
        uv[i + 1] = (2 * y + 1) / height - 1;
        uv[i + 2] = 1;
      }
    }
    const grid = tf.tensor2d(uv, [height * width, 3]);
    const delta = tf.sub(theta, tf.tensor3d([1, 0, 0, 0, 1, 0], [1, 2, 3]));
    // [B,2,3] → [3, B*2]; grid [HW,3] @ → [HW, B*2] → [B, H, W, 2]
    const coeff = tf.reshape(tf.transpose(delta, [2, 0, 1]), [3, B * 2]);
    const flowNorm = tf.matMul(grid, coeff);
    const flow = tf.transpose(tf.reshape(flowNorm, [height, width, B, 2]), [2, 0, 1, 3]);
    return tf.mul(flow, tf.tensor1d([width / 2, height / 2])) as tf.Tensor4D;
  });
}

/**
 * Bilinear resize of a flow to newH×newW (pixel-centre aligned, src = (dst + 0.5)·scale − 0.5), with the
 * displacements rescaled to pixels of the new grid (dx · newW/w, dy · newH/h). Differentiable.
 * @param flow [B,h,w,2] → [B,newH,newW,2]
 */
export function upsampleFlow(flow: tf.Tensor4D, newH: number, newW: number): tf.Tensor4D {
  const [, h, w] = flow.shape;
  return tf.tidy(() => {
    const resized = h === newH && w === newW ? flow : tf.image.resizeBilinear(flow, [newH, newW], false, true);
    return tf.mul(resized, tf.tensor1d([newW / w, newH / h])) as tf.Tensor4D;
  });
}

/**
 * Flow of "warp by `first`, then warp the result by `second`": warpBilinear(warpBilinear(s, first), second)
 * ≈ warpBilinear(s, composeFlows(first, second)), with composed(x) = second(x) + first(x + second(x)).
 * Both [B,H,W,2]; border padding when sampling `first`.
 */
export function composeFlows(first: tf.Tensor4D, second: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.add(second, warpBilinear(first, second, { padding: 'border' })) as tf.Tensor4D);
}

// ---------------------------------------------------------------------------------------------------------------
// Plain typed-array helpers (no tensors): applying a working-resolution flow at an image's original resolution.

/**
 * Bilinear upsampling of an interleaved flow (wW×hW×2, pixels of the working grid) to W×H×2 in pixels of the
 * target grid: pixel-centre aligned (src = (dst + 0.5)·wW/W − 0.5, clamped to the edge), dx scaled by W/wW and
 * dy by H/hW. Same convention as `upsampleFlow` and image/resize.
 */
export function upsampleFlowPlanes(flowWork: Float32Array, wW: number, hW: number, W: number, H: number): Float32Array {
  if (flowWork.length !== wW * hW * 2) throw new Error(`upsampleFlowPlanes: flow length ${flowWork.length} ≠ ${wW}×${hW}×2`);
  const out = new Float32Array(W * H * 2);
  const sx = wW / W;
  const sy = hW / H;
  const scaleX = W / wW;
  const scaleY = H / hW;
  const x0s = new Int32Array(W);
  const x1s = new Int32Array(W);
  const fxs = new Float32Array(W);
  for (let x = 0; x < W; x++) {
    const p = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), wW - 1);
    const x0 = Math.floor(p);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, wW - 1);
    fxs[x] = p - x0;
  }
  for (let y = 0; y < H; y++) {
    const p = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), hW - 1);
    const y0 = Math.floor(p);
    const y1 = Math.min(y0 + 1, hW - 1);
    const fy = p - y0;
    const row0 = y0 * wW;
    const row1 = y1 * wW;
    for (let x = 0; x < W; x++) {
      const fx = fxs[x]!;
      const a = (row0 + x0s[x]!) * 2;
      const b = (row0 + x1s[x]!) * 2;
      const c = (row1 + x0s[x]!) * 2;
      const d = (row1 + x1s[x]!) * 2;
      const o = (y * W + x) * 2;
      for (let k = 0; k < 2; k++) {
        const top = flowWork[a + k]! + (flowWork[b + k]! - flowWork[a + k]!) * fx;
        const bot = flowWork[c + k]! + (flowWork[d + k]! - flowWork[c + k]!) * fx;
        out[o + k] = (top + (bot - top) * fy) * (k === 0 ? scaleX : scaleY);
      }
    }
  }
  return out;
}

export interface LabelWarpOptions {
  /**
   * What a sample outside the source label map gets: 'background' (class 0, default) or 'border' (nearest edge
   * pixel's class).
   */
  outside?: 'background' | 'border';
}

/**
 * Sample position in the SOURCE label's pixel frame for target pixel (x, y) with displacement (dx, dy) in target
 * pixels: the target and source frames may differ in size (both were resized to the same working grid), so
 * positions map pixel-centre aligned: src = (x + dx + 0.5)·Ws/Wt − 0.5.
 */
function checkFlow(flowXY: Float32Array, targetWidth: number, targetHeight: number, fn: string): void {
  if (flowXY.length !== targetWidth * targetHeight * 2) {
    throw new Error(`${fn}: flow length ${flowXY.length} ≠ ${targetWidth}×${targetHeight}×2`);
  }
}

/**
 * Nearest-neighbour warp of a label map (the reference mask, any size) onto a target grid (Eq. 4 at full
 * resolution). flowXY: interleaved (dx, dy) per target pixel, in target pixels (e.g. from upsampleFlowPlanes).
 * @returns a LabelMap of targetWidth×targetHeight
 */
export function warpLabelNearest(
  label: LabelMap, flowXY: Float32Array, targetWidth: number, targetHeight: number, opts: LabelWarpOptions = {},
): LabelMap {
  checkFlow(flowXY, targetWidth, targetHeight, 'warpLabelNearest');
  const out = createLabelMap(targetWidth, targetHeight);
  const { width: Ws, height: Hs, data } = label;
  const sx = Ws / targetWidth;
  const sy = Hs / targetHeight;
  const border = opts.outside === 'border';
  for (let y = 0, i = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++, i++) {
      let xs = Math.round((x + flowXY[2 * i]! + 0.5) * sx - 0.5);
      let ys = Math.round((y + flowXY[2 * i + 1]! + 0.5) * sy - 0.5);
      if (xs < 0 || ys < 0 || xs >= Ws || ys >= Hs) {
        if (!border) continue;
        xs = Math.min(Math.max(xs, 0), Ws - 1);
        ys = Math.min(Math.max(ys, 0), Hs - 1);
      }
      out.data[i] = data[ys * Ws + xs]!;
    }
  }
  return out;
}

/**
 * Smooth-edged label warp: each class's one-hot plane is warped bilinearly and every target pixel takes the
 * class with the largest interpolated weight (ties → the smaller class index). Equivalent to warping the one-hot
 * stack and taking the argmax, without materialising it. Same frames and options as warpLabelNearest.
 */
export function warpLabelArgmax(
  label: LabelMap, flowXY: Float32Array, targetWidth: number, targetHeight: number, opts: LabelWarpOptions = {},
): LabelMap {
  checkFlow(flowXY, targetWidth, targetHeight, 'warpLabelArgmax');
  const out = createLabelMap(targetWidth, targetHeight);
  const { width: Ws, height: Hs, data } = label;
  const sx = Ws / targetWidth;
  const sy = Hs / targetHeight;
  const border = opts.outside === 'border';
  const weights = new Float64Array(256);
  const classes = new Int32Array(4);
  const sample = (xs: number, ys: number): number => {
    if (xs < 0 || ys < 0 || xs >= Ws || ys >= Hs) {
      if (!border) return 0;
      xs = Math.min(Math.max(xs, 0), Ws - 1);
      ys = Math.min(Math.max(ys, 0), Hs - 1);
    }
    return data[ys * Ws + xs]!;
  };
  for (let y = 0, i = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++, i++) {
      const px = (x + flowXY[2 * i]! + 0.5) * sx - 0.5;
      const py = (y + flowXY[2 * i + 1]! + 0.5) * sy - 0.5;
      const x0 = Math.floor(px);
      const y0 = Math.floor(py);
      const fx = px - x0;
      const fy = py - y0;
      classes[0] = sample(x0, y0);
      classes[1] = sample(x0 + 1, y0);
      classes[2] = sample(x0, y0 + 1);
      classes[3] = sample(x0 + 1, y0 + 1);
      weights[classes[0]!] += (1 - fx) * (1 - fy);
      weights[classes[1]!] += fx * (1 - fy);
      weights[classes[2]!] += (1 - fx) * fy;
      weights[classes[3]!] += fx * fy;
      let best = classes[0]!;
      for (let k = 1; k < 4; k++) {
        const c = classes[k]!;
        if (weights[c]! > weights[best]! || (weights[c] === weights[best] && c < best)) best = c;
      }
      out.data[i] = best;
      for (let k = 0; k < 4; k++) weights[classes[k]!] = 0;
    }
  }
  return out;
}

/**
 * Bilinear warp of one float plane (e.g. a soft mask or a grey image) onto a target grid; same frames as
 * warpLabelNearest, samples outside the source take `outsideValue` (default: the border pixel when undefined).
 */
export function warpPlaneBilinear(
  plane: Float32Array, width: number, height: number, flowXY: Float32Array, targetWidth: number, targetHeight: number,
  outsideValue?: number,
): Float32Array {
  checkFlow(flowXY, targetWidth, targetHeight, 'warpPlaneBilinear');
  const out = new Float32Array(targetWidth * targetHeight);
  const sx = width / targetWidth;
  const sy = height / targetHeight;
  const at = (xs: number, ys: number): number => {
    if (xs < 0 || ys < 0 || xs >= width || ys >= height) {
      if (outsideValue !== undefined) return outsideValue;
      xs = Math.min(Math.max(xs, 0), width - 1);
      ys = Math.min(Math.max(ys, 0), height - 1);
    }
    return plane[ys * width + xs]!;
  };
  for (let y = 0, i = 0; y < targetHeight; y++) {
    for (let x = 0; x < targetWidth; x++, i++) {
      const px = (x + flowXY[2 * i]! + 0.5) * sx - 0.5;
      const py = (y + flowXY[2 * i + 1]! + 0.5) * sy - 0.5;
      const x0 = Math.floor(px);
      const y0 = Math.floor(py);
      const fx = px - x0;
      const fy = py - y0;
      const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
      const bot = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
      out[i] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}
