/**
 * The working frame of one image: how its R×R working copy (xyWarp) relates to its own pixels (xyOriginal).
 *
 *  - Plain resize (`warpToOriginal` null, the paper's way): the image is squashed to R×R on its own,
 *    x_orig = (x_warp + 0.5)·W/R − 0.5 (likewise y). The reference always uses it.
 *  - Aligned (after src/warp/prealign.ts): the test image is resampled onto the reference's working grid through
 *    the similarity found, warpToOriginal = refToTest ∘ (reference's plain resize). Its working copy then overlays
 *    the reference's, whatever its size, aspect ratio, rotation or shift.
 *
 * The label warp composes exactly: a test pixel x (xyOriginal) sits at p = warpToOriginal⁻¹(x) in the working
 * grid; the network's flow (xyWarp, test → reference) moves it to q = p + flow(p) (flow bilinear at p, clamped
 * at the grid's edge); the reference label is read at the reference's plain-resize position of q. Pure.
 */
import { invertAffine, resampleAffine, resizeAffine, type Affine2D } from '../image/affine.js';
import { resizeImage } from '../image/resize.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import { upsampleFlowPlanes, warpLabelArgmax, warpLabelNearest } from './spatial.js';

export type LabelWarpMode = 'nearest' | 'argmax';

export interface WorkingFrame {
  /** The image's own size. */
  width: number;
  height: number;
  /** xyWarp → xyOriginal of the image, or null for the plain resize. */
  warpToOriginal: Affine2D | null;
}

/** The plain-resize map xyWarp (R×R) → xyOriginal (W×H). */
export function plainResizeMap(resolution: number, width: number, height: number): Affine2D {
  return resizeAffine(resolution, resolution, width, height);
}

/**
 * The working copy (R×R) of a normalised grey image in its frame. Plain resize: area averaging (as the paper's
 * resize). Aligned: bilinear through the frame (box-filtered first when shrinking); working pixels whose source is
 * outside the image, or in its padding (`content` 0), take `fill` (one value, or a plane R×R such as the
 * reference's working copy). Also returns which working pixels hold the image's content.
 */
export function workingImage(
  grey: FloatImage,
  frame: WorkingFrame,
  resolution: number,
  content: Uint8Array | null = null,
  fill: number | Float32Array = 0,
): { work: Float32Array; inside: Uint8Array } {
  const R = resolution;
  if (!frame.warpToOriginal) {
    const work = resizeImage(grey, R, R, 'area').data;
    return { work, inside: new Uint8Array(R * R).fill(1) };
  }
  const { image, inside } = resampleAffine(grey, R, R, frame.warpToOriginal, { fill: 0 });
  const work = image.data;
  if (content) {
    // Content weight of each working pixel: the mask resampled the same way.
    const mask = resampleAffine({ width: grey.width, height: grey.height, channels: 1, data: Float32Array.from(content) }, R, R, frame.warpToOriginal, { fill: 0 });
    for (let i = 0; i < inside.length; i++) if (mask.image.data[i]! < 0.5) inside[i] = 0;
  }
  for (let i = 0; i < work.length; i++) if (!inside[i]) work[i] = typeof fill === 'number' ? fill : fill[i]!;
  return { work, inside };
}

/**
 * Soft one-hot (R×R×K interleaved, channel 0 = background, channel k = classes[k−1]) of a label map in its frame:
 * plain resize = area averaging; aligned = each class plane resampled like the image, background outside.
 */
export function workingOneHot(label: LabelMap, classes: readonly number[], frame: WorkingFrame, resolution: number): Float32Array {
  const R = resolution;
  const K = classes.length + 1;
  const lut = new Int16Array(256).fill(0);
  classes.forEach((c, i) => (lut[c] = i + 1));
  const out = new Float32Array(R * R * K);
  const plane = new Float32Array(label.width * label.height);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < plane.length; i++) plane[i] = lut[label.data[i]!] === k ? 1 : 0;
    const img: FloatImage = { width: label.width, height: label.height, channels: 1, data: plane };
    const small = frame.warpToOriginal
      ? resampleAffine(img, R, R, frame.warpToOriginal, { fill: k === 0 ? 1 : 0 }).image.data
      : resizeImage(img, R, R, 'area').data;
    for (let i = 0; i < small.length; i++) out[i * K + k] = small[i]!;
  }
  return out;
}

/**
 * Eq. 4 in original pixels: the reference label (its own size) carried onto an image of frame `frame` by a flow in
 * xyWarp (R×R×2, the image's working grid → the reference's working grid).
 *
 * `displacementScale` α (Fig. 6 flow scaling) scales the whole displacement relative to the plain resize — the
 * flow and, for an aligned frame, the alignment too: α = 0 copies the reference mask (resized), α = 1 is Eq. 4.
 * For the plain-resize frame this is exactly the flow multiplied by α.
 */
export function warpLabelThroughFrame(
  referenceLabel: LabelMap,
  flowXyWarp: Float32Array,
  resolution: number,
  frame: WorkingFrame,
  mode: LabelWarpMode = 'nearest',
  displacementScale = 1,
): LabelMap {
  const { width: W, height: H } = frame;
  const flowXyOriginal = labelFieldThroughFrame(referenceLabel, flowXyWarp, resolution, frame);
  if (displacementScale !== 1) for (let i = 0; i < flowXyOriginal.length; i++) flowXyOriginal[i]! *= displacementScale;
  return mode === 'argmax'
    ? warpLabelArgmax(referenceLabel, flowXyOriginal, W, H)
    : warpLabelNearest(referenceLabel, flowXyOriginal, W, H);
}

/**
 * The displacement field (xyOriginal of the image, W×H×2) that Eq. 4 reads the reference through, in the
 * convention of spatial.ts's full-resolution label warps: pixel x reads the reference at (x + d + 0.5)·W_ref/W − 0.5.
 * Plain resize: the flow upsampled. Aligned: per pixel p = A⁻¹x, q = p + flow(p), reference position = plain
 * resize of q. `warpLabelThroughFrame` and the region-of-interest stage's composition both start from it.
 */
export function labelFieldThroughFrame(
  referenceSize: { width: number; height: number },
  flowXyWarp: Float32Array,
  resolution: number,
  frame: WorkingFrame,
): Float32Array {
  const R = resolution;
  const { width: W, height: H } = frame;
  if (!frame.warpToOriginal) {
    // Plain resize: the flow upsampled to the image's pixels (displacements rescaled), as the paper.
    return upsampleFlowPlanes(flowXyWarp, R, R, W, H);
  }
  // Aligned: per pixel p = A⁻¹x, q = p + flow(p), reference position = plain resize of q; expressed as the
  // displacement the label samplers expect: src = (x + dx + 0.5)·W_ref/W − 0.5.
  const toWork = invertAffine(frame.warpToOriginal);
  const sxRef = referenceSize.width / R;
  const syRef = referenceSize.height / R;
  const backX = W / referenceSize.width;
  const backY = H / referenceSize.height;
  const flowXyOriginal = new Float32Array(W * H * 2);
  const [a, b, c, d, e, f] = toWork;
  for (let y = 0, i = 0; y < H; y++) {
    for (let x = 0; x < W; x++, i++) {
      const px = a * x + b * y + c;
      const py = d * x + e * y + f;
      const cx = px < 0 ? 0 : px > R - 1 ? R - 1 : px;
      const cy = py < 0 ? 0 : py > R - 1 ? R - 1 : py;
      const x0 = cx >= R - 1 ? R - 2 : cx | 0;
      const y0 = cy >= R - 1 ? R - 2 : cy | 0;
      const fx = cx - x0;
      const fy = cy - y0;
      const o = (y0 * R + x0) * 2;
      const o2 = o + R * 2;
      const dx = (flowXyWarp[o]! * (1 - fx) + flowXyWarp[o + 2]! * fx) * (1 - fy) + (flowXyWarp[o2]! * (1 - fx) + flowXyWarp[o2 + 2]! * fx) * fy;
      const dy = (flowXyWarp[o + 1]! * (1 - fx) + flowXyWarp[o + 3]! * fx) * (1 - fy) + (flowXyWarp[o2 + 1]! * (1 - fx) + flowXyWarp[o2 + 3]! * fx) * fy;
      const refX = (px + dx + 0.5) * sxRef - 0.5;
      const refY = (py + dy + 0.5) * syRef - 0.5;
      flowXyOriginal[2 * i] = (refX + 0.5) * backX - 0.5 - x;
      flowXyOriginal[2 * i + 1] = (refY + 0.5) * backY - 0.5 - y;
    }
  }
  return flowXyOriginal;
}
