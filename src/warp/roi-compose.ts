/**
 * Composition of the global warp with the local (crop) warps of the region-of-interest stage.
 *
 * Point maps (frames as in roi-frames.ts): the global warp G sends a test pixel p (xyTestOriginal) to the reference
 * position q = G(p) (xyRefOriginal). A crop's local warp L acts on the crop grid (xyCrop): the test crop is the test
 * image resampled through G⁻¹ onto the crop, so its pixel (u, v) is the reference position (x0 + u, y0 + v) after
 * the global alignment, and the local flow ψ (crop pixels, test crop → reference crop) refines it to
 * (x0 + u, y0 + v) + ψ(u, v). The composed map is
 *     Q(p) = G(p) + w(G(p)) · ψ(G(p) − (x0, y0))
 * i.e. "first G, then L" (as `composeFlows` in spatial.ts for tensors), with a weight w that is 1 inside the crop
 * and falls linearly to 0 over `taperPx` pixels at the crop's edge, so Q is continuous where the crop ends and equal
 * to G outside every crop. Crops are disjoint (roi-trigger.ts merges overlapping ones), so at most one applies.
 *
 * The result is a displacement field on the test grid in the convention of spatial.ts's full-resolution label
 * warps (the reference is read at (p + d + 0.5)·W_ref/W_test − 0.5), so `warpLabelNearest` / `warpLabelArgmax`
 * apply it unchanged. Without refinements it is exactly the field WarpModel.labelFromFlow uses.
 */
import { upsampleFlowPlanes } from './spatial.js';
import { GlobalWarpMap, sampleVector2, type CropFrame } from './roi-frames.js';

/** One crop's local warp: ψ on the crop grid, interleaved (du, dv) in crop pixels, width × height × 2. */
export interface LocalRefinement {
  frame: CropFrame;
  flowXyCrop: Float32Array;
  /** Width in crop pixels of the band along the crop's edge where the local flow fades out (0 = hard edge). */
  taperPx: number;
}

/** The weight w of the local flow at crop position (u, v): 1 inside, linear to 0 across the edge band, 0 outside. */
export function taperWeight(frame: CropFrame, u: number, v: number, taperPx: number): number {
  const d = Math.min(u + 0.5, frame.width - 0.5 - u, v + 0.5, frame.height - 0.5 - v);
  if (d <= 0) return 0;
  if (taperPx <= 0) return 1;
  return Math.min(1, d / taperPx);
}

/**
 * The displacement field (xyTestOriginal, interleaved, test width × height × 2) of "global warp, then the local
 * warps": see the file comment.
 */
export function composeGlobalAndLocal(global: GlobalWarpMap, refinements: readonly LocalRefinement[]): Float32Array {
  const { width: W, height: H } = global.test;
  const R = global.resolution;
  const field = upsampleFlowPlanes(global.flowXyWarp, R, R, W, H);
  const sx = global.ref.width / W;
  const sy = global.ref.height / H;
  const psi = new Float64Array(2);
  for (const r of refinements) {
    const { frame, flowXyCrop, taperPx } = r;
    if (flowXyCrop.length !== frame.width * frame.height * 2) {
      throw new Error(`composeGlobalAndLocal: local flow length ${flowXyCrop.length} ≠ ${frame.width}×${frame.height}×2`);
    }
    const box = global.cropBoxInTest(frame);
    if (!box) continue;
    for (let y = box.y0; y <= box.y1; y++) {
      for (let x = box.x0; x <= box.x1; x++) {
        const i = (y * W + x) * 2;
        // q = G(p), read exactly as the label warps read it
        const qx = (x + field[i]! + 0.5) * sx - 0.5;
        const qy = (y + field[i + 1]! + 0.5) * sy - 0.5;
        const u = qx - frame.x0;
        const v = qy - frame.y0;
        const w = taperWeight(frame, u, v, taperPx);
        if (w === 0) continue;
        sampleVector2(flowXyCrop, frame.width, frame.height, u, v, psi);
        const rx = qx + w * psi[0]!;
        const ry = qy + w * psi[1]!;
        field[i] = (rx + 0.5) / sx - 0.5 - x;
        field[i + 1] = (ry + 0.5) / sy - 0.5 - y;
      }
    }
  }
  return field;
}
