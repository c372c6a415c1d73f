/**
 * Frames of the region-of-interest (local) warp stage.
 *
 *  - xyRefOriginal: the reference image's own pixel grid. A crop (`CropFrame`) is an integer rectangle of it.
 *  - xyCrop: the crop's own pixel grid, (u, v) = (x − x0, y − y0) in reference pixels. The reference crop and every
 *    test crop share this grid: a test crop is the test image resampled onto it through the global warp (below),
 *    so the local warp starts from the global alignment and only has to learn the residual.
 *  - xyTestOriginal: a test image's own pixel grid.
 *
 * The global warp (WarpModel, network.ts) gives per test image a flow on the square R×R working grid
 * (xyWarp, test → reference). `GlobalWarpMap` turns it into a point map between the two original frames:
 *   testToRef(p):  p_w = (p + 0.5)·R/W_test − 0.5;  q_w = p_w + flow(p_w) (bilinear);  q = (q_w + 0.5)·W_ref/R − 0.5
 * which is exactly where WarpModel.labelFromFlow reads the reference label for test pixel p (Eq. 4). When the test
 * image's working copy is aligned (working-frame.ts, after warp/prealign.ts), p_w = A⁻¹p with A its frame's
 * xyWarp → xyTestOriginal map instead of the plain resize, as in warpLabelThroughFrame.
 * refToTest(q) inverts it by fixed-point iteration p_w ← q_w − flow(p_w) (converges while the flow's Jacobian has
 * norm < 1, as for the bounded affine and smooth residual flows of the network).
 */
import { sampleBilinearClamped } from '../image/bilinear.js';
import { applyAffine, invertAffine, type Affine2D } from '../image/affine.js';
import { createLabelMap, type FloatImage, type LabelMap } from '../image/types.js';

/** An integer pixel rectangle of the reference's original frame (xyRefOriginal); crop pixel (u, v) is (x0+u, y0+v). */
export interface CropFrame {
  x0: number;
  y0: number;
  width: number;
  height: number;
}

/** A crop pixel position (xyCrop, continuous) → the reference's original frame. */
export function cropToRefOriginal(frame: CropFrame, u: number, v: number): { x: number; y: number } {
  return { x: frame.x0 + u, y: frame.y0 + v };
}

/** A reference position (xyRefOriginal, continuous) → the crop's frame (may lie outside the crop). */
export function refOriginalToCrop(frame: CropFrame, x: number, y: number): { u: number; v: number } {
  return { u: x - frame.x0, v: y - frame.y0 };
}

/** Whether the crop lies inside a width × height image and has a positive size. */
export function cropFitsImage(frame: CropFrame, width: number, height: number): boolean {
  return (
    Number.isInteger(frame.x0) && Number.isInteger(frame.y0) && frame.width > 0 && frame.height > 0 &&
    frame.x0 >= 0 && frame.y0 >= 0 && frame.x0 + frame.width <= width && frame.y0 + frame.height <= height
  );
}

function assertFits(frame: CropFrame, width: number, height: number, what: string): void {
  if (!cropFitsImage(frame, width, height)) {
    throw new Error(`${what}: crop ${JSON.stringify(frame)} does not fit the ${width}x${height} image`);
  }
}

/** The pixels of `image` inside the crop, as a new image (same channels). */
export function cropImage(image: FloatImage, frame: CropFrame): FloatImage {
  assertFits(frame, image.width, image.height, 'cropImage');
  const C = image.channels;
  const data = new Float32Array(frame.width * frame.height * C);
  for (let v = 0; v < frame.height; v++) {
    const src = ((frame.y0 + v) * image.width + frame.x0) * C;
    data.set(image.data.subarray(src, src + frame.width * C), v * frame.width * C);
  }
  return { width: frame.width, height: frame.height, channels: C, data };
}

/** The labels inside the crop, as a new label map. */
export function cropLabel(label: LabelMap, frame: CropFrame): LabelMap {
  assertFits(frame, label.width, label.height, 'cropLabel');
  const out = createLabelMap(frame.width, frame.height);
  for (let v = 0; v < frame.height; v++) {
    const src = (frame.y0 + v) * label.width + frame.x0;
    out.data.set(label.data.subarray(src, src + frame.width), v * frame.width);
  }
  return out;
}

/** Iterations and tolerance (working pixels) of the fixed-point inversion in `GlobalWarpMap.refToTest`. */
const INVERSE_ITERATIONS = 40;
const INVERSE_TOLERANCE = 1e-4;

/**
 * The global warp of one test image as a point map between xyTestOriginal and xyRefOriginal (see the file comment).
 * flowXyWarp: R×R×2 interleaved (dx, dy) in working pixels, test working grid → reference working grid.
 */
export class GlobalWarpMap {
  private readonly tmp = new Float64Array(2);
  /** xyTestOriginal → xyWarp of an aligned test frame (null: plain resize). */
  private readonly originalToWarp: Affine2D | null;

  /** `testWarpToOriginal`: the test image's WorkingFrame.warpToOriginal (null for the plain resize). */
  constructor(
    readonly flowXyWarp: Float32Array,
    readonly resolution: number,
    readonly test: { width: number; height: number },
    readonly ref: { width: number; height: number },
    readonly testWarpToOriginal: Affine2D | null = null,
  ) {
    if (flowXyWarp.length !== resolution * resolution * 2) {
      throw new Error(`GlobalWarpMap: flow length ${flowXyWarp.length} ≠ ${resolution}×${resolution}×2`);
    }
    this.originalToWarp = testWarpToOriginal ? invertAffine(testWarpToOriginal) : null;
  }

  /** Where test pixel (x, y) (xyTestOriginal) reads the reference (xyRefOriginal). */
  testToRef(x: number, y: number): { x: number; y: number } {
    const R = this.resolution;
    let xw: number;
    let yw: number;
    if (this.originalToWarp) {
      ({ x: xw, y: yw } = applyAffine(this.originalToWarp, x, y));
    } else {
      xw = ((x + 0.5) * R) / this.test.width - 0.5;
      yw = ((y + 0.5) * R) / this.test.height - 0.5;
    }
    sampleBilinearClamped(this.flowXyWarp, R, R, 2, xw, yw, this.tmp, 0);
    return {
      x: ((xw + this.tmp[0]! + 0.5) * this.ref.width) / R - 0.5,
      y: ((yw + this.tmp[1]! + 0.5) * this.ref.height) / R - 0.5,
    };
  }

  /** The test position (xyTestOriginal) that reads reference position (x, y): testToRef(refToTest(q)) ≈ q. */
  refToTest(x: number, y: number): { x: number; y: number } {
    const R = this.resolution;
    const qx = ((x + 0.5) * R) / this.ref.width - 0.5;
    const qy = ((y + 0.5) * R) / this.ref.height - 0.5;
    let px = qx;
    let py = qy;
    for (let it = 0; it < INVERSE_ITERATIONS; it++) {
      sampleBilinearClamped(this.flowXyWarp, R, R, 2, px, py, this.tmp, 0);
      const nx = qx - this.tmp[0]!;
      const ny = qy - this.tmp[1]!;
      const change = Math.abs(nx - px) + Math.abs(ny - py);
      px = nx;
      py = ny;
      if (change < INVERSE_TOLERANCE) break;
    }
    if (this.testWarpToOriginal) return applyAffine(this.testWarpToOriginal, px, py);
    return { x: ((px + 0.5) * this.test.width) / R - 0.5, y: ((py + 0.5) * this.test.height) / R - 0.5 };
  }

  /**
   * For every pixel (u, v) of the crop, the test position (xyTestOriginal) that the global warp sends to
   * (u, v) + S(u, v): interleaved (x, y), crop width × height × 2. The resampling grid of a test crop. The pre-shift
   * S (crop pixels; default none) is one vector or a field on the crop grid (width × height × 2): it moves the test
   * crop's content by −S (roi-match.ts: a test object found at u + S comes to u).
   */
  cropGridInTest(frame: CropFrame, shift: readonly [number, number] | Float32Array = [0, 0]): Float32Array {
    const grid = new Float32Array(frame.width * frame.height * 2);
    const field = shift instanceof Float32Array ? shift : null;
    if (field && field.length !== frame.width * frame.height * 2) throw new Error(`cropGridInTest: shift field length ${field.length} ≠ ${frame.width}×${frame.height}×2`);
    for (let v = 0, i = 0; v < frame.height; v++) {
      for (let u = 0; u < frame.width; u++, i += 2) {
        const sx = field ? field[i]! : (shift as readonly [number, number])[0];
        const sy = field ? field[i + 1]! : (shift as readonly [number, number])[1];
        const p = this.refToTest(frame.x0 + u + sx, frame.y0 + v + sy);
        grid[i] = p.x;
        grid[i + 1] = p.y;
      }
    }
    return grid;
  }

  /**
   * The bounding box (xyTestOriginal, integer, clipped to the test image; null when empty) of the test pixels whose
   * global image lands inside the crop, from the crop's border mapped back (plus one pixel). Pixels outside it are
   * untouched by the local stage.
   */
  cropBoxInTest(frame: CropFrame): { x0: number; y0: number; x1: number; y1: number } | null {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    const visit = (u: number, v: number) => {
      const p = this.refToTest(frame.x0 + u, frame.y0 + v);
      x0 = Math.min(x0, p.x);
      y0 = Math.min(y0, p.y);
      x1 = Math.max(x1, p.x);
      y1 = Math.max(y1, p.y);
    };
    const left = -0.5;
    const right = frame.width - 0.5;
    const top = -0.5;
    const bottom = frame.height - 0.5;
    for (let u = 0; u <= frame.width; u++) {
      visit(left + u, top);
      visit(left + u, bottom);
    }
    for (let v = 0; v <= frame.height; v++) {
      visit(left, top + v);
      visit(right, top + v);
    }
    const box = {
      x0: Math.max(0, Math.floor(x0) - 1),
      y0: Math.max(0, Math.floor(y0) - 1),
      x1: Math.min(this.test.width - 1, Math.ceil(x1) + 1),
      y1: Math.min(this.test.height - 1, Math.ceil(y1) + 1),
    };
    return box.x0 > box.x1 || box.y0 > box.y1 ? null : box;
  }
}

/**
 * A test image resampled onto a crop grid (bilinear, edge-clamped; all channels): pixel i of the result reads the
 * image at grid[2i], grid[2i+1] (xyTestOriginal, from `GlobalWarpMap.cropGridInTest`).
 */
export function resampleImageOnGrid(image: FloatImage, grid: Float32Array, width: number, height: number): FloatImage {
  if (grid.length !== width * height * 2) throw new Error(`resampleImageOnGrid: grid length ${grid.length} ≠ ${width}×${height}×2`);
  const C = image.channels;
  const W = image.width;
  const H = image.height;
  const src = image.data;
  const data = new Float32Array(width * height * C);
  for (let i = 0; i < width * height; i++) {
    sampleBilinearClamped(src, W, H, C, grid[2 * i]!, grid[2 * i + 1]!, data, i * C);
  }
  return { width, height, channels: C, data };
}

/** A label map resampled onto a crop grid (nearest; positions outside the map read background 0). */
export function resampleLabelOnGrid(label: LabelMap, grid: Float32Array, width: number, height: number): LabelMap {
  if (grid.length !== width * height * 2) throw new Error(`resampleLabelOnGrid: grid length ${grid.length} ≠ ${width}×${height}×2`);
  const out = createLabelMap(width, height);
  for (let i = 0; i < width * height; i++) {
    const x = Math.round(grid[2 * i]!);
    const y = Math.round(grid[2 * i + 1]!);
    if (x < 0 || y < 0 || x >= label.width || y >= label.height) continue;
    out.data[i] = label.data[y * label.width + x]!;
  }
  return out;
}
