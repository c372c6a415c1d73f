/**
 * Composition of the global warp with the local (crop) warps of the region-of-interest stage.
 *
 * Point maps (frames as in roi-frames.ts): the global warp G sends a test pixel p (xyTestOriginal) to the reference
 * position q = G(p) (xyRefOriginal). A crop's test image is the test image resampled through G⁻¹ onto the crop grid
 * and moved by the crop's pre-shift field S (roi-match.ts, one translation per object, blended between objects):
 * its pixel u shows the test content that G puts at (x0, y0) + u + S(u). The crop model's flow ψ (crop pixels,
 * test crop → reference crop) then reads the reference crop at u + ψ(u). So at crop position v = G(p) − (x0, y0)
 * the local correction is, with u the solution of u + S(u) = v (fixed-point iteration; u = v − s for a constant s),
 *     D(v) = u + ψ(u) − v,        and the composed map is  Q(p) = G(p) + w(v) · D(v)
 * i.e. "first G, then the local warp" (as `composeFlows` in spatial.ts for tensors), with a weight w that is 1
 * inside the crop and falls linearly to 0 over `taperPx` pixels at the crop's edge, so Q is continuous where the
 * crop ends and equal to G outside every crop.
 *
 * Where crops overlap (roi-trigger.ts keeps overlapping crops apart unless sharing one is cheaper), the corrections
 * are blended with ownership weights a_i = w_i · exp(−d_i / ownershipPx), d_i = distance from v to crop i's object
 * box: near its own object a crop's correction wins, half way between two objects they mix, and the result is
 *     Q(p) = G(p) + max_i w_i · Σ a_i D_i / Σ a_i      (= G(p) + w · D for a single crop).
 *
 * The result is a displacement field on the test grid in the convention of spatial.ts's full-resolution label
 * warps (the reference is read at (p + d + 0.5)·W_ref/W_test − 0.5), so `warpLabelNearest` / `warpLabelArgmax`
 * apply it unchanged. Without refinements it is exactly the field Eq. 4 uses for that test image's working frame
 * (working-frame.ts labelFieldThroughFrame: plain resize or aligned).
 */
import type { Box } from '../image/types.js';
import { labelFieldThroughFrame } from './working-frame.js';
import { sampleBilinearClamped } from '../image/bilinear.js';
import { GlobalWarpMap, type CropFrame } from './roi-frames.js';

/** One crop's local warp for one test image. */
export interface LocalRefinement {
  frame: CropFrame;
  /** ψ on the crop grid, interleaved (du, dv) in crop pixels, width × height × 2. */
  flowXyCrop: Float32Array;
  /** Width in crop pixels of the band along the crop's edge where the local correction fades out (0 = hard edge). */
  taperPx: number;
  /** The test crop's pre-shift field S (crop pixels, width × height × 2; default none). */
  preShift?: Float32Array;
  /** The crop's objects (inclusive box, crop pixels): ownership where crops overlap (default: the whole crop). */
  objectBox?: Box;
}

export interface ComposeOptions {
  /** Length scale of the ownership weights where crops overlap, reference pixels (default 8). */
  ownershipPx?: number;
}

/** The weight w of the local flow at crop position (u, v): 1 inside, linear to 0 across the edge band, 0 outside. */
export function taperWeight(frame: CropFrame, u: number, v: number, taperPx: number): number {
  const d = Math.min(u + 0.5, frame.width - 0.5 - u, v + 0.5, frame.height - 0.5 - v);
  if (d <= 0) return 0;
  if (taperPx <= 0) return 1;
  return Math.min(1, d / taperPx);
}

/** Fixed-point steps to invert u ↦ u + S(u) (S is smooth: a blend of a few translations). */
const PRESHIFT_ITERATIONS = 12;

function distanceToBox(box: Box, u: number, v: number): number {
  const dx = Math.max(box.x0 - u, 0, u - box.x1);
  const dy = Math.max(box.y0 - v, 0, v - box.y1);
  return Math.hypot(dx, dy);
}

/**
 * The local correction D at crop position p = (u, v) (the file comment's v), written to out[0], out[1] in crop
 * pixels: D = c + ψ(c) − p, where c is the test crop's pixel with c + S(c) = p (it shows what the global warp puts
 * at p; fixed-point inversion of the pre-shift S). `scratch`: two numbers of working space.
 */
export function localCorrection(r: LocalRefinement, u: number, v: number, out: Float64Array, scratch: Float64Array = new Float64Array(2)): void {
  const { frame, flowXyCrop, preShift } = r;
  let cu = u;
  let cv = v;
  if (preShift) {
    for (let it = 0; it < PRESHIFT_ITERATIONS; it++) {
      sampleBilinearClamped(preShift, frame.width, frame.height, 2, cu, cv, scratch, 0);
      cu = u - scratch[0]!;
      cv = v - scratch[1]!;
    }
  }
  sampleBilinearClamped(flowXyCrop, frame.width, frame.height, 2, cu, cv, scratch, 0);
  out[0] = cu + scratch[0]! - u;
  out[1] = cv + scratch[1]! - v;
}

/**
 * The displacement field (xyTestOriginal, interleaved, test width × height × 2) of "global warp, then the local
 * warps": see the file comment.
 */
export function composeGlobalAndLocal(global: GlobalWarpMap, refinements: readonly LocalRefinement[], opts: ComposeOptions = {}): Float32Array {
  const { width: W, height: H } = global.test;
  const R = global.resolution;
  const field = labelFieldThroughFrame(global.ref, global.flowXyWarp, R, { width: W, height: H, warpToOriginal: global.testWarpToOriginal });
  if (refinements.length === 0) return field;
  const tau = opts.ownershipPx ?? 8;
  const sx = global.ref.width / W;
  const sy = global.ref.height / H;
  const boxes = refinements.map((r) => {
    if (r.flowXyCrop.length !== r.frame.width * r.frame.height * 2) {
      throw new Error(`composeGlobalAndLocal: local flow length ${r.flowXyCrop.length} ≠ ${r.frame.width}×${r.frame.height}×2`);
    }
    return global.cropBoxInTest(r.frame);
  });
  // Accumulators over the union of the crops' footprints in the test image.
  const live = boxes.filter((b): b is NonNullable<typeof b> => b !== null);
  if (live.length === 0) return field;
  const ux0 = Math.min(...live.map((b) => b.x0));
  const uy0 = Math.min(...live.map((b) => b.y0));
  const uw = Math.max(...live.map((b) => b.x1)) - ux0 + 1;
  const uh = Math.max(...live.map((b) => b.y1)) - uy0 + 1;
  const sumA = new Float64Array(uw * uh);
  const sumD = new Float64Array(uw * uh * 2);
  const maxW = new Float32Array(uw * uh);
  const dv = new Float64Array(2);
  const sv = new Float64Array(2);
  refinements.forEach((r, k) => {
    const box = boxes[k];
    if (!box) return;
    const { frame, taperPx, preShift } = r;
    if (preShift && preShift.length !== frame.width * frame.height * 2) {
      throw new Error(`composeGlobalAndLocal: pre-shift length ${preShift.length} ≠ ${frame.width}×${frame.height}×2`);
    }
    const own = r.objectBox ?? { x0: 0, y0: 0, x1: frame.width - 1, y1: frame.height - 1 };
    for (let y = box.y0; y <= box.y1; y++) {
      for (let x = box.x0; x <= box.x1; x++) {
        const i = (y * W + x) * 2;
        // v = G(p) − (x0, y0), with G(p) read exactly as the label warps read it
        const u = (x + field[i]! + 0.5) * sx - 0.5 - frame.x0;
        const v = (y + field[i + 1]! + 0.5) * sy - 0.5 - frame.y0;
        const w = taperWeight(frame, u, v, taperPx);
        if (w === 0) continue;
        localCorrection(r, u, v, dv, sv);
        const a = w * Math.exp(-Math.min(distanceToBox(own, u, v) / tau, 600)); // (no underflow to 0)
        const j = (y - uy0) * uw + (x - ux0);
        sumA[j] += a;
        sumD[2 * j] += a * dv[0]!;
        sumD[2 * j + 1] += a * dv[1]!;
        if (w > maxW[j]!) maxW[j] = w;
      }
    }
  });
  for (let y = 0; y < uh; y++) {
    for (let x = 0; x < uw; x++) {
      const j = y * uw + x;
      if (maxW[j] === 0 || sumA[j]! <= 0) continue;
      const i = ((y + uy0) * W + (x + ux0)) * 2;
      const scale = maxW[j]! / sumA[j]!;
      // Q = G + w·D in reference pixels, written back as a displacement of the test grid
      field[i] += (scale * sumD[2 * j]!) / sx;
      field[i + 1] += (scale * sumD[2 * j + 1]!) / sy;
    }
  }
  return field;
}
